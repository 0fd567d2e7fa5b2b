"""The SQL behind imputed minutes in series: which run serves a participant × metric, its points in a range, and
its minutes rolled up on the same buckets as the stored rollups (`imputed_points`, 0015_imputation.sql).

Imputed minutes never enter the stored rollups: a coarser answer adds them to the observed buckets as they are
read (`api.series.merge`), each minute one value, its 1-minute estimate.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import asyncpg
import msgspec

from api.errors import invalid
from api.params import from_ms
from api.series.levels import RollupLevel
from api.series.schemas import Imputed, Point
from api.series.services import SeriesQuery
from schemas.metrics import Metric


class Imputation(msgspec.Struct, frozen=True, kw_only=True):
    """What a series answer does with imputed minutes: `mode`, and the run they come from (None: no run)."""

    mode: Imputed = "exclude"
    run_id: str | None = None


EXCLUDE: Final = Imputation()

_LATEST_RUN: Final = """
SELECT r.run_id FROM imputation_runs r
JOIN imputation_run_participants p ON p.run_id = r.run_id AND p.participant_id = $1
WHERE r.status = 'complete' AND ($2::text IS NULL OR r.selection -> 'metrics' ? $2)
ORDER BY r.finished_at DESC NULLS LAST, r.created_at DESC, r.run_id DESC LIMIT 1
"""


async def choose_run(
    connection: asyncpg.Pool | asyncpg.Connection, participant_id: str, metric: str | None, requested: str | None
) -> str | None:
    """The run asked for (400 naming `imputation_run` when there is no complete run of that id), or the latest
    complete run that covers the participant × metric (any metric when None); None when there is none."""
    if requested is None:
        run: str | None = await connection.fetchval(_LATEST_RUN, participant_id, metric)
        return run
    status = await connection.fetchval("SELECT status FROM imputation_runs WHERE run_id = $1", requested)
    if status is None:
        raise invalid("imputation_run", f"no imputation run {requested[:64]!r} (`wearstream impute --list`)")
    if status != "complete":
        raise invalid("imputation_run", f"run {requested!r} is {status}, not complete")
    return requested


async def resolve(
    connection: asyncpg.Pool | asyncpg.Connection,
    participant_id: str,
    metric: str | None,
    mode: Imputed,
    requested: str | None,
) -> Imputation:
    """The imputation of an answer: with `exclude` no run is read (a named run is still checked)."""
    if mode == "exclude":
        if requested is not None:
            await choose_run(connection, participant_id, metric, requested)
        return EXCLUDE
    return Imputation(mode=mode, run_id=await choose_run(connection, participant_id, metric, requested))


_POINTS: Final = """
SELECT ts_to_ms(minute) AS t, value, std_error, lower, upper FROM imputed_points
WHERE run_id = $1 AND participant_id = $2 AND metric_id = $3 AND minute >= ms_to_ts($4) AND minute < ms_to_ts($5)
ORDER BY minute LIMIT $6
"""


async def point_rows(
    pool: asyncpg.Pool, query: SeriesQuery, run_id: str, low_ms: int, high_ms: int, limit: int | None = None
) -> list[asyncpg.Record]:
    """The run's imputed minutes starting in [low_ms, high_ms), in time order (at most `limit`)."""
    rows: list[asyncpg.Record] = await pool.fetch(
        _POINTS, run_id, query.participant_id, query.metric_id, low_ms, high_ms, limit
    )
    return rows


def imputed_point(row: asyncpg.Record, metric: Metric, run_id: str, level: str) -> Point:
    """One imputed minute as a point: at `raw` a reading-shaped point at the minute's start; at `1m` a bucket of
    one value (count 1, min = max = mean = the estimate)."""
    value = row["value"]
    provenance = {
        "imputed": True,
        "imputation_run": run_id,
        "standard_error": row["std_error"],
        "lower": row["lower"],
        "upper": row["upper"],
    }
    if level == "raw":
        return Point(time=from_ms(row["t"]), value=value, **provenance)
    total = value if metric.aggregate == "sum" else None
    return Point(
        time=from_ms(row["t"]), count=1, min=value, max=value, mean=value, sum=total, imputed_minutes=1, **provenance
    )


_BUCKETS: Final = {
    "1m": "minute",
    "1h": "time_bucket('1 hour', minute)",
    "1d": "(date_trunc('day', minute AT TIME ZONE z.tz) AT TIME ZONE z.tz)",
}
_BINNED: Final = """
WITH z AS (SELECT coalesce((SELECT timezone FROM participants WHERE participant_id = $2), 'UTC') AS tz)
SELECT ts_to_ms({outer}) AS t, count(*)::bigint AS count, sum(value) AS sum, min(value) AS min,
       max(value) AS max, NULL::int[] AS stage_epochs, count(*)::bigint AS imputed_minutes
FROM (SELECT {bucket} AS b, value FROM imputed_points, z
      WHERE run_id = $1 AND participant_id = $2 AND metric_id = $3 AND minute >= $4::timestamptz
        AND minute < $5::timestamptz + interval '1 day 1 hour') x
WHERE b {lower} $4 AND b < $5
GROUP BY 1 ORDER BY 1 LIMIT $6
"""


async def bucket_rows(
    pool: asyncpg.Pool,
    query: SeriesQuery,
    run_id: str,
    level: RollupLevel,
    *,
    lower: dt.datetime,
    after: bool = False,
    limit: int | None = None,
    bins: tuple[dt.timedelta, dt.datetime] | None = None,
) -> list[asyncpg.Record]:
    """The run's imputed minutes rolled up on `level`'s buckets (the participant's local days for `1d`) from
    `lower` (exclusive when `after`) to the query's end, as rollup rows (`count` = `imputed_minutes`); with
    `bins` (width, origin) those buckets merged into bins as `rollup_binned` merges stored ones."""
    outer = "time_bucket($7::interval, b, $8::timestamptz)" if bins is not None else "b"
    sql = _BINNED.format(outer=outer, bucket=_BUCKETS[level.name], lower=">" if after else ">=")
    args: tuple[object, ...] = (run_id, query.participant_id, query.metric_id, lower, query.end, limit)
    rows: list[asyncpg.Record] = await pool.fetch(sql, *args, *(bins or ()))
    return rows
