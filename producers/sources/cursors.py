"""Persisted cursors of the sources runner (table `source_cursors`, migration 0019): per source × participant ×
metric, how far data is fetched (acknowledged by Kafka), where an interrupted window resumes, and how the last
run went. Times are epoch milliseconds in Python and timestamptz in the table."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Final, Literal

import asyncpg

Status = Literal["new", "ok", "partial", "rate_limited", "unavailable", "not_authorised", "gone", "error"]
FAILED: Final = frozenset({"rate_limited", "unavailable", "not_authorised", "gone", "error"})


@dataclass(frozen=True, slots=True)
class Cursor:
    source: str
    participant_id: str
    metric: str
    fetched_through_ms: int | None = None
    """End of the last window whose batches Kafka acknowledged; None before the first (backfill from enrolment)."""
    window_start_ms: int | None = None
    window_end_ms: int | None = None
    page_token: str | None = None
    """Where the window [window_start_ms, window_end_ms) resumes: its pages before this one are acknowledged."""
    last_run_start_ms: int | None = None
    last_run_end_ms: int | None = None
    last_success_ms: int | None = None
    last_error: str | None = None
    last_error_at_ms: int | None = None
    status: Status = "new"
    readings: int = 0

    def with_(self, **changes: object) -> Cursor:
        return replace(self, **changes)  # type: ignore[arg-type]


_COLUMNS: Final = (
    "source, participant_id, metric, ts_to_ms(fetched_through) AS fetched_through_ms,"
    " ts_to_ms(window_start) AS window_start_ms, ts_to_ms(window_end) AS window_end_ms, page_token,"
    " ts_to_ms(last_run_start) AS last_run_start_ms, ts_to_ms(last_run_end) AS last_run_end_ms,"
    " ts_to_ms(last_success) AS last_success_ms, last_error, ts_to_ms(last_error_at) AS last_error_at_ms,"
    " status, readings"
)


def _cursor(row: asyncpg.Record) -> Cursor:
    return Cursor(**dict(row))


async def load(connection: asyncpg.Connection | asyncpg.Pool, source: str, participant_id: str) -> dict[str, Cursor]:
    """The participant's cursors of `source`, by metric (missing metrics: never pulled)."""
    rows = await connection.fetch(
        f"SELECT {_COLUMNS} FROM source_cursors WHERE source = $1 AND participant_id = $2", source, participant_id
    )
    return {row["metric"]: _cursor(row) for row in rows}


async def list_cursors(
    connection: asyncpg.Connection | asyncpg.Pool, *, source: str | None = None, participant_id: str | None = None
) -> list[Cursor]:
    """Every cursor (optionally of one source or participant), ordered by source, participant and metric."""
    rows = await connection.fetch(
        f"SELECT {_COLUMNS} FROM source_cursors WHERE ($1::text IS NULL OR source = $1)"
        " AND ($2::text IS NULL OR participant_id = $2) ORDER BY source, participant_id, metric",
        source,
        participant_id,
    )
    return [_cursor(row) for row in rows]


async def save(connection: asyncpg.Connection | asyncpg.Pool, cursor: Cursor) -> None:
    """Writes the cursor whole (insert or replace)."""
    await connection.execute(
        "INSERT INTO source_cursors (source, participant_id, metric, fetched_through, window_start, window_end,"
        " page_token, last_run_start, last_run_end, last_success, last_error, last_error_at, status, readings)"
        " VALUES ($1, $2, $3, ms_to_ts($4), ms_to_ts($5), ms_to_ts($6), $7, ms_to_ts($8), ms_to_ts($9),"
        " ms_to_ts($10), $11, ms_to_ts($12), $13, $14)"
        " ON CONFLICT (source, participant_id, metric) DO UPDATE SET fetched_through = EXCLUDED.fetched_through,"
        " window_start = EXCLUDED.window_start, window_end = EXCLUDED.window_end, page_token = EXCLUDED.page_token,"
        " last_run_start = EXCLUDED.last_run_start, last_run_end = EXCLUDED.last_run_end,"
        " last_success = EXCLUDED.last_success, last_error = EXCLUDED.last_error,"
        " last_error_at = EXCLUDED.last_error_at, status = EXCLUDED.status, readings = EXCLUDED.readings",
        cursor.source,
        cursor.participant_id,
        cursor.metric,
        cursor.fetched_through_ms,
        cursor.window_start_ms,
        cursor.window_end_ms,
        cursor.page_token,
        cursor.last_run_start_ms,
        cursor.last_run_end_ms,
        cursor.last_success_ms,
        cursor.last_error,
        cursor.last_error_at_ms,
        cursor.status,
        cursor.readings,
    )


def as_datetime(ms: int | None) -> dt.datetime | None:
    return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
