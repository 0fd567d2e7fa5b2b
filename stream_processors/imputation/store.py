"""The imputation tables (schemas/migrations/0015_imputation.sql) and what a run reads from the store.

A run reads the 1-minute rollups (falling back to the raw readings, decoded by `raw_readings`, where retention
dropped the rollups) and the gaps; it writes only the imputation tables. Each participant's points,
gap reports and completion mark commit in one transaction, after deleting what an interrupted attempt left:
running a participant twice gives the same rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import msgspec
import numpy as np

from schemas.metrics import METRIC_IDS
from stream_processors.errors import ImputationError
from stream_processors.gaps import NOT_WORN
from stream_processors.imputation.grid import MINUTE_MS, FloatArray, IntArray


class RunInfo(msgspec.Struct, frozen=True, kw_only=True):
    run_id: str
    method: str
    method_version: str
    parameters: dict[str, Any]
    selection: dict[str, Any]
    status: str
    created_at: dt.datetime
    finished_at: dt.datetime | None
    participants: int = 0
    points: int = 0
    gaps_filled: int = 0
    gaps_skipped: int = 0


class GapReport(msgspec.Struct, frozen=True, kw_only=True):
    metric: str
    start_ms: int
    end_ms: int
    minutes: int
    filled: int
    reason: str | None
    kind: str = NOT_WORN


PointRow = tuple[str, str, int, dt.datetime, float, float, float, float, str, dt.datetime]


def _ts(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


async def begin_run(
    connection: asyncpg.Connection,
    run_id: str,
    *,
    method: str,
    version: str,
    parameters: dict[str, Any],
    selection: dict[str, Any],
) -> set[str]:
    """Records the run (or finds it, when the same run is resumed) and returns the participants it has finished.
    The same run id with another method, version, parameters or selection is refused."""
    encoded = (method, version, msgspec.json.encode(parameters).decode(), msgspec.json.encode(selection).decode())
    row = await connection.fetchrow(
        "SELECT method, method_version, parameters::text AS p, selection::text AS s FROM imputation_runs"
        " WHERE run_id = $1",
        run_id,
    )
    if row is None:
        try:
            await connection.execute(
                "INSERT INTO imputation_runs (run_id, method, method_version, parameters, selection, status)"
                " VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, 'running')",
                run_id,
                *encoded,
            )
        except asyncpg.CheckViolationError as error:
            raise ImputationError(f"run id {run_id!r}: letters, digits, '.', '_', '-' (≤ 64, not first)") from error
        return set()
    stored = (row["method"], row["method_version"], row["p"], row["s"])
    same = stored[:2] == encoded[:2] and [msgspec.json.decode(x) for x in stored[2:]] == [
        msgspec.json.decode(x) for x in encoded[2:]
    ]
    if not same:
        raise ImputationError(
            f"run {run_id!r} exists with method {row['method']} {row['method_version']}, parameters {row['p']} and"
            f" selection {row['s']}: resume it with the same options, or choose another --run-id"
        )
    await connection.execute(
        "UPDATE imputation_runs SET status = 'running', finished_at = NULL WHERE run_id = $1", run_id
    )
    rows = await connection.fetch("SELECT participant_id FROM imputation_run_participants WHERE run_id = $1", run_id)
    return {r["participant_id"] for r in rows}


async def finish_run(connection: asyncpg.Connection, run_id: str) -> None:
    await connection.execute(
        "UPDATE imputation_runs SET status = 'complete', finished_at = now() WHERE run_id = $1", run_id
    )


async def gap_participants(
    connection: asyncpg.Connection,
    participants: list[str] | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
    kinds: list[str] | None = None,
) -> list[str]:
    """Participants with a closed gap of one of `kinds` (default `not_worn`) starting in [start, end) (all of them
    when None)."""
    rows = await connection.fetch(
        "SELECT DISTINCT participant_id FROM gaps WHERE kind = ANY($1::text[]) AND end_time IS NOT NULL"
        " AND ($2::text[] IS NULL OR participant_id = ANY($2)) AND ($3::timestamptz IS NULL OR start_time >= $3)"
        " AND ($4::timestamptz IS NULL OR start_time < $4) ORDER BY participant_id",
        kinds or [NOT_WORN],
        participants,
        start,
        end,
    )
    return [r["participant_id"] for r in rows]


async def participant_gaps(
    connection: asyncpg.Connection,
    participant: str,
    start: dt.datetime | None,
    end: dt.datetime | None,
    kinds: list[str] | None = None,
) -> tuple[str, list[tuple[int, int, str]]]:
    """The participant's time zone and closed gaps of `kinds` (default `not_worn`) starting in [start, end): start,
    end (epoch ms) and kind, in time order."""
    zone = await connection.fetchval("SELECT timezone FROM participants WHERE participant_id = $1", participant)
    rows = await connection.fetch(
        "SELECT ts_to_ms(start_time) AS s, ts_to_ms(end_time) AS e, kind FROM gaps WHERE participant_id = $1"
        " AND kind = ANY($2::text[]) AND end_time IS NOT NULL AND ($3::timestamptz IS NULL OR start_time >= $3)"
        " AND ($4::timestamptz IS NULL OR start_time < $4) ORDER BY start_time, kind",
        participant,
        kinds or [NOT_WORN],
        start,
        end,
    )
    return zone or "UTC", [(int(r["s"]), int(r["e"]), str(r["kind"])) for r in rows]


async def minute_means(
    connection: asyncpg.Connection, participant: str, metric: str, start_ms: int, end_ms: int
) -> tuple[IntArray, FloatArray]:
    """(minute start in epoch ms, mean) of every stored minute in [start_ms, end_ms): from the 1-minute rollups,
    or, where they have none (retention), from the raw readings."""
    rows = await connection.fetch(
        "SELECT ts_to_ms(bucket) AS m, sum / count AS v FROM rollup_1m WHERE participant_id = $1"
        " AND metric_id = $2 AND bucket >= $3 AND bucket < $4 ORDER BY bucket",
        participant,
        METRIC_IDS[metric],
        _ts(start_ms),
        _ts(end_ms),
    )
    if not rows:
        rows = await connection.fetch(
            "SELECT ts_to_ms(date_trunc('minute', time)) AS m, avg(value) AS v"
            " FROM raw_readings($1, $2, $3, $4) GROUP BY 1 ORDER BY 1",
            participant,
            metric,
            _ts(start_ms),
            _ts(end_ms),
        )
    minutes = np.array([r["m"] for r in rows], dtype=np.int64) // MINUTE_MS * MINUTE_MS
    return minutes, np.array([r["v"] for r in rows], dtype=np.float64)


async def write_participant(
    connection: asyncpg.Connection, run_id: str, participant: str, points: list[PointRow], gaps: list[GapReport]
) -> None:
    """Replaces the run's rows of this participant with these and marks the participant finished, atomically."""
    async with connection.transaction():
        for table in ("imputed_points", "imputation_gaps", "imputation_run_participants"):
            await connection.execute(
                f"DELETE FROM {table} WHERE run_id = $1 AND participant_id = $2", run_id, participant
            )
        if points:
            await connection.copy_records_to_table("imputed_points", records=points, columns=_POINT_COLUMNS)
        await connection.executemany(
            "INSERT INTO imputation_gaps (run_id, participant_id, metric_id, gap_kind, gap_start, gap_end, minutes,"
            " filled, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            [
                (
                    run_id,
                    participant,
                    METRIC_IDS[g.metric],
                    g.kind,
                    _ts(g.start_ms),
                    _ts(g.end_ms),
                    g.minutes,
                    g.filled,
                    g.reason,
                )
                for g in gaps
            ],
        )
        await connection.execute(
            "INSERT INTO imputation_run_participants (run_id, participant_id) VALUES ($1, $2)", run_id, participant
        )


_POINT_COLUMNS = (
    "run_id",
    "participant_id",
    "metric_id",
    "minute",
    "value",
    "std_error",
    "lower",
    "upper",
    "gap_kind",
    "gap_start",
)


async def list_runs(connection: asyncpg.Connection) -> list[RunInfo]:
    rows = await connection.fetch(
        "SELECT r.run_id, r.method, r.method_version, r.parameters::text AS parameters, r.selection::text AS selection,"
        " r.status, r.created_at, r.finished_at,"
        " (SELECT count(*) FROM imputation_run_participants p WHERE p.run_id = r.run_id) AS participants,"
        " (SELECT count(*) FROM imputed_points i WHERE i.run_id = r.run_id) AS points,"
        " (SELECT count(*) FILTER (WHERE filled > 0) FROM imputation_gaps g WHERE g.run_id = r.run_id) AS gaps_filled,"
        " (SELECT count(*) FILTER (WHERE filled = 0) FROM imputation_gaps g WHERE g.run_id = r.run_id) AS gaps_skipped"
        " FROM imputation_runs r ORDER BY r.created_at, r.run_id"
    )
    return [
        RunInfo(
            **{k: v for k, v in dict(r).items() if k not in ("parameters", "selection")},
            parameters=msgspec.json.decode(r["parameters"]),
            selection=msgspec.json.decode(r["selection"]),
        )
        for r in rows
    ]


async def delete_run(connection: asyncpg.Connection, run_id: str) -> int:
    """Deletes the run and its rows (points, gap reports, progress); returns the points deleted."""
    async with connection.transaction():
        points = await connection.fetchval("SELECT count(*) FROM imputed_points WHERE run_id = $1", run_id)
        deleted = await connection.execute("DELETE FROM imputation_runs WHERE run_id = $1", run_id)
    if deleted == "DELETE 0":
        raise ImputationError(f"no imputation run {run_id!r} (`wearstream impute --list` shows them)")
    return int(points)
