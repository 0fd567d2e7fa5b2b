"""The SQL of the sources runner's cursors (table `source_cursors`, written by `producers.sources`)."""

from __future__ import annotations

from typing import Final

import asyncpg

from api.sources.schemas import SourceCursor

_COLUMNS: Final = (
    "source, participant_id, metric, status, fetched_through, window_start, window_end, last_run_start,"
    " last_run_end, last_success, last_error, last_error_at, readings"
)
_FILTER: Final = (
    " WHERE ($1::text IS NULL OR source = $1) AND ($2::text IS NULL OR status = $2)"
    " AND ($3::text IS NULL OR participant_id = $3)"
)


def _cursor(row: asyncpg.Record) -> SourceCursor:
    window = None
    if row["window_start"] is not None and row["window_end"] is not None:
        window = [row["window_start"], row["window_end"]]
    return SourceCursor(
        source=row["source"],
        participant_id=row["participant_id"],
        metric=row["metric"],
        status=row["status"],
        fetched_through=row["fetched_through"],
        resuming_window=window,
        last_run_start=row["last_run_start"],
        last_run_end=row["last_run_end"],
        last_success=row["last_success"],
        last_error=row["last_error"],
        last_error_at=row["last_error_at"],
        readings=row["readings"],
    )


async def list_cursors(
    pool: asyncpg.Pool,
    *,
    source: str | None = None,
    status: str | None = None,
    participant_id: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[SourceCursor], int]:
    """The matching cursors ordered by source, participant and metric (a page of them), and how many match."""
    rows = await pool.fetch(
        f"SELECT {_COLUMNS} FROM source_cursors{_FILTER} ORDER BY source, participant_id, metric LIMIT $4 OFFSET $5",
        source,
        status,
        participant_id,
        limit,
        offset,
    )
    total = await pool.fetchval(f"SELECT count(*) FROM source_cursors{_FILTER}", source, status, participant_id)
    return [_cursor(r) for r in rows], int(total)
