"""Latest upload wins: resolving batches whose readings overlap readings already stored.

For one participant × metric × timestamp the reading of the latest upload (greatest sync time; ties by the
greater batch id) wins. The raw store holds only winners. When a new batch's segments intersect stored ones
(a re-sync, a corrected export, an older upload arriving last), the local days it touches are resolved here:
the segments intersecting them are decoded, each timestamp keeps its winner, segments that lost readings are
rewritten (or removed when nothing of them remains, the batch then listed in `applied_batches`), and the
1-minute, 1-hour and local-day rollups of those days are replaced by a recomputation over the winners.
A compacted row holds readings of several uploads and counts as uploaded at the latest of them.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Sequence
from typing import Final

import asyncpg
import msgspec
import numpy as np
import numpy.typing as npt

from schemas.metrics import HEART_RATE, METRIC_IDS, Metric
from stream_processors.applied import record_rewritten
from stream_processors.rollup_store import UPSERT_1D, UPSERT_1H, UPSERT_1M, RollupRows
from stream_processors.rollups import HOUR_MS, MINUTE_MS, aggregate, fixed_buckets, local_day_buckets
from stream_processors.segments import Segment, decode_values, encode_values, ms_to_datetime

HR_ID: Final = METRIC_IDS[HEART_RATE.name]
OLDEST: Final = -(2**62)
"""The sync time of segments stored before sync times were (they lose to any later reading)."""

# Stored segments of the given participants × metrics that intersect a new batch's segment of another batch. A
# stored segment lies inside one clock hour (heart rate, also once compacted) or one UTC day (other metrics
# once compacted): the index scan starts at that period's beginning.
_OVERLAPS: Final = """
SELECT DISTINCT n.pid, n.mid
FROM unnest($1::text[], $2::int2[], $3::bigint[], $4::bigint[], $5::uuid[]) AS n (pid, mid, lo, hi, batch)
WHERE EXISTS (
    SELECT 1 FROM raw_segments r
    WHERE r.participant_id = n.pid AND r.metric_id = n.mid
      AND r.start_time >= date_trunc(CASE WHEN n.mid = $6 THEN 'hour' ELSE 'day' END, ms_to_ts(n.lo), 'UTC')
      AND r.start_time <= ms_to_ts(n.hi)
      AND r.end_time >= ms_to_ts(n.lo) AND r.batch_id <> n.batch)
"""

_SEGMENTS: Final = """
SELECT start_time, ts_to_ms(start_time) AS start_ms, batch_id, batch_ids, ts_to_ms(sync_time) AS sync_ms,
       ts_delta, value_delta, value_scale, value_f8, extra
FROM raw_segments
WHERE participant_id = $1 AND metric_id = $2
  AND start_time >= date_trunc('day', ms_to_ts($3), 'UTC') AND start_time < ms_to_ts($4) AND end_time >= ms_to_ts($3)
ORDER BY start_time, batch_id
FOR UPDATE
"""


class Resolved(msgspec.Struct, kw_only=True):
    """What resolving changed: minute rows now stored (for live updates) and the recomputed windows."""

    minutes: list[asyncpg.Record] = []
    windows: list[tuple[str, int, int]] = []
    """(participant, first ms, last ms) of every recomputed range."""
    superseded: int = 0
    """Stored or new readings that lost to a later upload's reading of the same timestamp."""


async def overlapping(connection: asyncpg.Connection, segments: Sequence[Segment]) -> set[tuple[str, int]]:
    """The participant × metric pairs whose new `segments` (already stored) intersect another batch's."""
    if not segments:
        return set()
    rows = await connection.fetch(
        _OVERLAPS,
        [s.participant_id for s in segments],
        [s.metric_id for s in segments],
        [s.start_ms for s in segments],
        [s.end_ms for s in segments],
        [uuid.UUID(s.batch_id) for s in segments],
        HR_ID,
    )
    return {(r["pid"], r["mid"]) for r in rows}


def day_ranges(timestamps: npt.NDArray[np.int64], timezone: str) -> list[tuple[int, int, int, int]]:
    """The local days holding `timestamps`, as runs of consecutive days: (lo, hi, day_lo, day_hi), where
    [day_lo, day_hi) are the days and [lo, hi) the same widened to whole UTC hours (so every 1-hour bucket
    in it is whole too)."""
    zone = zoneinfo.ZoneInfo(timezone)
    days = sorted({int(d) for d in np.unique(local_day_buckets(timestamps, timezone))})
    ranges: list[tuple[int, int, int, int]] = []
    for start in days:
        local = dt.datetime.fromtimestamp(start / 1000, tz=zone).date() + dt.timedelta(days=1)
        end = int(dt.datetime.combine(local, dt.time(), tzinfo=zone).timestamp() * 1000)
        lo, hi = start // HOUR_MS * HOUR_MS, -(-end // HOUR_MS) * HOUR_MS
        if ranges and start <= ranges[-1][3]:
            ranges[-1] = (ranges[-1][0], hi, ranges[-1][2], end)
        else:
            ranges.append((lo, hi, start, end))
    return ranges


def winners(
    timestamps: npt.NDArray[np.int64], sync_ms: npt.NDArray[np.int64], batch_rank: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """Per reading: whether it wins its timestamp (greatest sync time, then greatest batch rank)."""
    order = np.lexsort((batch_rank, sync_ms, timestamps))
    last_of_timestamp = np.r_[timestamps[order][1:] != timestamps[order][:-1], True]
    won = np.zeros(len(timestamps), dtype=bool)
    won[order[last_of_timestamp]] = True
    return won


async def resolve(
    connection: asyncpg.Connection,
    *,
    participant_id: str,
    metric: Metric,
    metric_id: int,
    timestamps: npt.NDArray[np.int64],
    timezone: str,
) -> Resolved:
    """Keeps only winners in the local days holding `timestamps` (the new readings, already stored) and
    replaces those days' rollups by a recomputation over the winners."""
    resolved = Resolved()
    for lo, hi, day_lo, day_hi in day_ranges(timestamps, timezone):
        span = (lo, hi, day_lo, day_hi)
        await _resolve_range(connection, participant_id, metric, metric_id, span, timezone, resolved)
        resolved.windows.append((participant_id, lo, hi - 1))
    return resolved


async def _resolve_range(
    connection: asyncpg.Connection,
    participant_id: str,
    metric: Metric,
    metric_id: int,
    span: tuple[int, int, int, int],
    timezone: str,
    resolved: Resolved,
) -> None:
    lo, hi = span[0], span[1]
    rows = await connection.fetch(_SEGMENTS, participant_id, metric_id, lo, hi)
    if not rows:
        return
    k = len(metric.extra_columns)
    ts_parts = [r["start_ms"] + np.cumsum(np.asarray(r["ts_delta"], dtype=np.int64)) for r in rows]
    sizes = np.array([len(p) for p in ts_parts])
    timestamps = np.concatenate(ts_parts)
    decoded = np.concatenate(
        [decode_values(r["value_delta"], r["value_scale"], r["value_f8"], metric.scale) for r in rows]
    )
    extra = np.concatenate([np.asarray(r["extra"], dtype=np.float64).reshape(-1, k) for r in rows]) if k else None
    segment_of = np.repeat(np.arange(len(rows)), sizes)
    ids = sorted({r["batch_id"].hex for r in rows})
    rank = {bid: i for i, bid in enumerate(ids)}
    sync_ms = np.array([OLDEST if r["sync_ms"] is None else r["sync_ms"] for r in rows], dtype=np.int64)[segment_of]
    batch_rank = np.array([rank[r["batch_id"].hex] for r in rows], dtype=np.int64)[segment_of]
    won = winners(timestamps, sync_ms, batch_rank)
    resolved.superseded += int((~won).sum())

    rewritten = await _rewrite_losers(
        connection, participant_id, metric, metric_id, rows, segment_of, won, timestamps, decoded, extra
    )
    await record_rewritten(connection, rewritten)

    inside = won & (timestamps >= lo) & (timestamps < hi)
    order = np.argsort(timestamps[inside], kind="stable")
    ts = timestamps[inside][order]
    values = decoded[inside][order]
    resolved.minutes.extend(
        await _replace_rollups(connection, participant_id, metric, metric_id, span, ts, values, timezone)
    )


async def _rewrite_losers(
    connection: asyncpg.Connection,
    participant_id: str,
    metric: Metric,
    metric_id: int,
    rows: list[asyncpg.Record],
    segment_of: npt.NDArray[np.int64],
    won: npt.NDArray[np.bool_],
    timestamps: npt.NDArray[np.int64],
    decoded: npt.NDArray[np.float64],
    extra: npt.NDArray[np.float64] | None,
) -> list[tuple[uuid.UUID, str, int, int | None]]:
    """Rewrites each segment holding superseded readings with only its winners (deleted when none is left);
    returns the (batch, participant, metric, sync) records of the rewritten segments' batches."""
    rewritten: list[tuple[uuid.UUID, str, int, int | None]] = []
    for i, row in enumerate(rows):
        mine = segment_of == i
        if won[mine].all():
            continue
        keep = mine & won
        await connection.execute(
            "DELETE FROM raw_segments WHERE participant_id = $1 AND metric_id = $2 AND start_time = $3"
            " AND batch_id = $4",
            participant_id,
            metric_id,
            row["start_time"],
            row["batch_id"],
        )
        for batch_id in [row["batch_id"], *(row["batch_ids"] or [])]:
            rewritten.append((batch_id, participant_id, metric_id, row["sync_ms"]))
        if keep.any():
            ts = timestamps[keep]
            encoded = encode_values(decoded[keep], metric.scale)
            await connection.execute(
                "INSERT INTO raw_segments (participant_id, metric_id, start_time, end_time, batch_id, n, ts_delta,"
                " value_delta, extra, batch_ids, sync_time, value_scale, value_f8)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                participant_id,
                metric_id,
                ms_to_datetime(int(ts[0])),
                ms_to_datetime(int(ts[-1])),
                row["batch_id"],
                len(ts),
                np.diff(ts, prepend=ts[0]).astype(np.int32).tolist(),
                encoded.value_delta,
                None if extra is None else extra[keep].ravel().tolist(),
                row["batch_ids"],
                None if row["sync_ms"] is None else ms_to_datetime(row["sync_ms"]),
                encoded.value_scale,
                encoded.value_f8,
            )
    return rewritten


async def _replace_rollups(
    connection: asyncpg.Connection,
    participant_id: str,
    metric: Metric,
    metric_id: int,
    span: tuple[int, int, int, int],
    timestamps: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    timezone: str,
) -> list[asyncpg.Record]:
    """Replaces the rollups of [lo, hi) (1 min, 1 h) and of the local days [day_lo, day_hi) by those of the
    winning readings `timestamps`, `values` (sorted, all of [lo, hi))."""
    lo, hi, day_lo, day_hi = span
    stages = metric.aggregate == "stage"
    for table, start, end in (("rollup_1m", lo, hi), ("rollup_1h", lo, hi), ("rollup_1d", day_lo, day_hi)):
        await connection.execute(
            f"DELETE FROM {table} WHERE participant_id = $1 AND metric_id = $2"
            " AND bucket >= ms_to_ts($3) AND bucket < ms_to_ts($4)",
            participant_id,
            metric_id,
            start,
            end,
        )
    if len(timestamps) == 0:
        return []
    minute_rows, hour_rows, day_rows = RollupRows(), RollupRows(), RollupRows()
    minutes = aggregate(fixed_buckets(timestamps, MINUTE_MS), timestamps, values, stages=stages)
    minute_rows.add(participant_id, minutes)
    hours = aggregate(fixed_buckets(timestamps, HOUR_MS), timestamps, values, stages=stages)
    hour_rows.add(participant_id, hours, _count_in(hours.bucket_ms, fixed_buckets(minutes.bucket_ms, HOUR_MS)))
    in_days = (timestamps >= day_lo) & (timestamps < day_hi)
    day_ts, day_values = timestamps[in_days], values[in_days]
    if len(day_ts):
        day_minutes = minutes.bucket_ms[(minutes.bucket_ms >= day_lo) & (minutes.bucket_ms < day_hi)]
        day = aggregate(local_day_buckets(day_ts, timezone), day_ts, day_values, stages=stages)
        day_rows.add(participant_id, day, _count_in(day.bucket_ms, local_day_buckets(day_minutes, timezone)))
    stored = await minute_rows.upsert(connection, UPSERT_1M, metric_id, stages=stages)
    await hour_rows.upsert(connection, UPSERT_1H, metric_id, stages=stages)
    await day_rows.upsert(connection, UPSERT_1D, metric_id, stages=stages)
    return stored


def _count_in(buckets: npt.NDArray[np.int64], members: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    return np.bincount(np.searchsorted(buckets, members), minlength=len(buckets)).astype(np.int64)
