"""The SQL behind time series: rollup buckets (as stored, merged into coarser bins, or paged by key) and raw
readings (decoded from the segments by `api.series.raw`, paged by a (time, readings-at-that-time) position)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final

import asyncpg
import msgspec
import numpy as np

from api.params import from_ms, to_ms
from api.series import raw
from api.series.levels import RollupLevel
from api.series.schemas import Point
from schemas.metrics import METRIC_IDS, Metric
from schemas.readings import exact_float64

_COLUMNS: Final = "ts_to_ms(bucket) AS t, count, sum, min, max, stage_epochs"
_BINNED: Final = """
SELECT ts_to_ms(time_bucket($5::interval, bucket, $6::timestamptz)) AS t, sum(count)::bigint AS count,
       sum(sum) AS sum, min(min) AS min, max(max) AS max,
       CASE WHEN bool_or(stage_epochs IS NOT NULL) THEN ARRAY[sum(stage_epochs[1]), sum(stage_epochs[2]),
            sum(stage_epochs[3]), sum(stage_epochs[4])]::int[] END AS stage_epochs
FROM {table} WHERE participant_id = $1 AND metric_id = $2 AND bucket >= $3 AND bucket < $4
GROUP BY 1 ORDER BY 1
"""
MAX_WINDOW_MS: Final = 86_400_000


class SeriesQuery(msgspec.Struct, frozen=True, kw_only=True):
    participant_id: str
    metric: Metric
    start: dt.datetime
    end: dt.datetime

    @property
    def metric_id(self) -> int:
        return METRIC_IDS[self.metric.name]

    @property
    def start_ms(self) -> int:
        return to_ms(self.start)

    @property
    def end_ms(self) -> int:
        return to_ms(self.end)


async def stored_bounds(pool: asyncpg.Pool, participant_id: str, metric: Metric) -> tuple[dt.datetime, dt.datetime]:
    """[first reading, last reading + 1 ms) of the metric; an empty range at now when nothing is stored."""
    row = await pool.fetchrow(
        "SELECT first_reading, last_reading FROM participant_metric_state WHERE participant_id = $1 AND metric_id = $2",
        participant_id,
        METRIC_IDS[metric.name],
    )
    if row is None:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        return now, now
    return row["first_reading"], row["last_reading"] + dt.timedelta(milliseconds=1)


def rollup_point(row: Mapping[str, Any], metric: Metric) -> Point:
    """A bucket row as a point; a row merged with imputed minutes (`api.series.merge`) keeps its
    `imputed_minutes` and is flagged `imputed: false` (it is a bucket, not one imputed minute)."""
    count, total = row["count"], row["sum"]
    imputed_minutes = row.get("imputed_minutes")
    return Point(
        time=from_ms(row["t"]),
        count=count,
        min=row["min"],
        max=row["max"],
        mean=total / count,
        sum=total if metric.aggregate == "sum" else None,
        stage_epochs=list(row["stage_epochs"]) if row["stage_epochs"] is not None else None,
        imputed_minutes=imputed_minutes,
        imputed=False if imputed_minutes is not None else None,
    )


def extra_values(extra: Sequence[float] | None) -> list[float] | None:
    """A reading's secondary columns as sent: they are float32, which stands for its shortest decimal (0.97,
    not 0.9700000286102295), the same reading of float32 as the wire's (`schemas.readings.exact_float64`)."""
    if extra is None:
        return None
    values: list[float] = exact_float64(np.asarray(extra, dtype=np.float32)).tolist()
    return values


def first_bucket_bound(query: SeriesQuery, level: RollupLevel) -> dt.datetime:
    """Buckets starting after this instant overlap [start, end): a bucket holding `start` is included."""
    return query.start - dt.timedelta(milliseconds=level.width_ms - 1)


def bins_of(query: SeriesQuery, level: RollupLevel, factor: int) -> tuple[dt.timedelta, dt.datetime]:
    """(width, origin) of the bins merging `factor` buckets of `level`: on the level's own grid (UTC minutes and
    hours; for local days, at `start`)."""
    origin = query.start if level.name == "1d" else from_ms(query.start_ms - query.start_ms % level.width_ms)
    return dt.timedelta(milliseconds=level.width_ms * factor), origin


async def rollup_binned(
    pool: asyncpg.Pool, query: SeriesQuery, level: RollupLevel, factor: int, limit: int
) -> list[Point]:
    """Buckets of `level` overlapping [start, end), merged `factor` at a time into bins of equal width (count,
    sum, min, max merge exactly, so every bin keeps the true extremes of its readings)."""
    return [rollup_point(row, query.metric) for row in await rollup_binned_rows(pool, query, level, factor, limit)]


async def rollup_binned_rows(
    pool: asyncpg.Pool, query: SeriesQuery, level: RollupLevel, factor: int, limit: int
) -> list[asyncpg.Record]:
    """The rows behind `rollup_binned`."""
    args = (query.participant_id, query.metric_id, first_bucket_bound(query, level), query.end)
    if factor == 1:
        rows = await pool.fetch(
            f"SELECT {_COLUMNS} FROM {level.table} WHERE participant_id = $1 AND metric_id = $2"
            " AND bucket >= $3 AND bucket < $4 ORDER BY bucket LIMIT $5",
            *args,
            limit,
        )
    else:
        rows = await pool.fetch(_BINNED.format(table=level.table), *args, *bins_of(query, level, factor))
    return list(rows)


async def rollup_page(
    connection: asyncpg.Pool | asyncpg.Connection,
    query: SeriesQuery,
    level: RollupLevel,
    after_ms: int | None,
    limit: int,
) -> tuple[list[asyncpg.Record], bool]:
    """Up to `limit` stored buckets after `after_ms` (or from start); and whether more follow."""
    lower = from_ms(after_ms) if after_ms is not None else first_bucket_bound(query, level)
    comparison = ">" if after_ms is not None else ">="
    rows: list[asyncpg.Record] = await connection.fetch(
        f"SELECT {_COLUMNS} FROM {level.table} WHERE participant_id = $1 AND metric_id = $2"
        f" AND bucket {comparison} $3 AND bucket < $4 ORDER BY bucket LIMIT $5",
        query.participant_id,
        query.metric_id,
        lower,
        query.end,
        limit + 1,
    )
    return rows[:limit], len(rows) > limit


RawRow = dict[str, Any]
"""A raw reading: `t` (epoch ms), `value`, `extra` (its secondary columns, float32 as sent, or None)."""


def raw_rows(decoded: raw.Decoded) -> list[RawRow]:
    times, values = decoded.times.tolist(), decoded.values.tolist()
    if not decoded.extra:
        return [{"t": t, "value": v, "extra": None} for t, v in zip(times, values, strict=True)]
    extra = np.stack(decoded.extra, axis=1)
    return [
        {"t": t, "value": v, "extra": extra[i] if decoded.has_extra[i] else None}
        for i, (t, v) in enumerate(zip(times, values, strict=True))
    ]


async def raw_window(
    connection: asyncpg.Pool | asyncpg.Connection, query: SeriesQuery, low_ms: int, high_ms: int
) -> list[RawRow]:
    """The raw readings of [low_ms, high_ms), ordered by time and value (decoded from the segments)."""
    return raw_rows(await raw.read_window(connection, query.participant_id, query.metric, low_ms, high_ms))


async def dropped_before(pool: asyncpg.Pool) -> dict[str, int]:
    """Per table, the instant (epoch ms) before which retention has dropped rows."""
    rows = await pool.fetch(
        "SELECT table_name, ts_to_ms(max(dropped_before)) AS t FROM retention_drops GROUP BY table_name"
    )
    return {row["table_name"]: row["t"] for row in rows}


_MINUTES_FROM_RAW: Final = """
SELECT ts_to_ms(time_bucket($5::interval, time, $6::timestamptz)) AS t, count(*)::bigint AS count,
       sum(value) AS sum, min(value) AS min, max(value) AS max,
       CASE WHEN $7 THEN ARRAY[count(*) FILTER (WHERE value = 0), count(*) FILTER (WHERE value = 1),
            count(*) FILTER (WHERE value = 2), count(*) FILTER (WHERE value = 3)]::int[] END AS stage_epochs
FROM raw_readings($1, $2, ms_to_ts($3), ms_to_ts($4))
GROUP BY 1 ORDER BY 1 LIMIT $8
"""


async def minutes_from_raw(pool: asyncpg.Pool, query: SeriesQuery, factor: int, limit: int) -> list[Point]:
    """What `rollup_binned` gives over 1-minute rollups, computed from raw readings: the readings of every
    minute overlapping [start, end), merged `factor` minutes at a time on the UTC minute grid."""
    return [rollup_point(row, query.metric) for row in await minutes_from_raw_rows(pool, query, factor, limit)]


async def minutes_from_raw_rows(
    pool: asyncpg.Pool, query: SeriesQuery, factor: int, limit: int
) -> list[asyncpg.Record]:
    """The rows behind `minutes_from_raw`."""
    minute = 60_000
    low = query.start_ms - query.start_ms % minute
    high = (query.end_ms - 1) - (query.end_ms - 1) % minute + minute
    rows = await pool.fetch(
        _MINUTES_FROM_RAW,
        query.participant_id,
        query.metric.name,
        low,
        high,
        dt.timedelta(milliseconds=minute * factor),
        from_ms(low),
        query.metric.aggregate == "stage",
        limit if factor == 1 else None,
    )
    return list(rows)
