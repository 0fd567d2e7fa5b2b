"""Compaction: merge the per-batch raw segments of a finished period into one row per participant × metric.

A device uploads every ~15 minutes, so a heart-rate hour arrives as several small segments; rows under
~2 kB are never compressed by TOAST, and each row costs its header and index entry. Once a period (an hour
of heart rate, a day of any other metric) has ended `settle_s` ago, its segments are decoded, merged in time
order and written back as one segment, which TOAST compresses. Values are decoded and re-encoded exactly
(`segments.decode_values` / `encode_values`): the merged row takes the scale that keeps all of them exact.
The merged row lists the batches it holds (`batch_ids`), so a redelivered batch is still recognised. Runs
under the same per-participant lock as the sink; safe to run at any time and repeatedly (a late batch for a
compacted period is merged in next time).
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from typing import Final

import asyncpg
import msgspec
import numpy as np

from schemas.metrics import HEART_RATE, METRIC_IDS, METRICS
from stream_processors.gap_store import lock_participants
from stream_processors.segments import decode_values, encode_values, ms_to_datetime

HR_ID: Final = METRIC_IDS[HEART_RATE.name]
PERIOD_MS: Final = {metric_id: (3_600_000 if metric_id == HR_ID else 86_400_000) for metric_id in METRIC_IDS.values()}
NAMESPACE: Final = uuid.UUID("6d1f3c1e-0b7a-4c53-9a53-77656172730a")

# Periods with several segments that ended at or before $1.
_CANDIDATES: Final = """
SELECT participant_id, metric_id, period
FROM (
    SELECT participant_id, metric_id,
           CASE WHEN metric_id = $2 THEN date_trunc('hour', start_time, 'UTC')
                ELSE date_trunc('day', start_time, 'UTC') END AS period
    FROM raw_segments
    WHERE start_time < $1
) s
WHERE period + CASE WHEN metric_id = $2 THEN interval '1 hour' ELSE interval '1 day' END <= $1
GROUP BY 1, 2, 3
HAVING count(*) > 1
ORDER BY 1, 2, 3
LIMIT $3
"""

_SEGMENTS: Final = """
SELECT start_time, ts_to_ms(start_time) AS start_ms, batch_id, batch_ids, ts_delta, value_delta, value_scale,
       value_f8, extra, sync_time
FROM raw_segments
WHERE participant_id = $1 AND metric_id = $2 AND start_time >= $3 AND start_time < $4
ORDER BY start_time, batch_id
FOR UPDATE
"""


class CompactionReport(msgspec.Struct, kw_only=True):
    periods: int = 0
    segments_merged: int = 0
    readings: int = 0


async def compact(
    pool: asyncpg.Pool, *, settle_s: int = 7200, max_periods: int = 500, now_ms: int | None = None
) -> CompactionReport:
    """Merges the segments of up to `max_periods` periods that ended at least `settle_s` ago."""
    report = CompactionReport()
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    async with pool.acquire() as connection:
        ready = await connection.fetch(_CANDIDATES, ms_to_datetime(now - settle_s * 1000), HR_ID, max_periods)
    by_participant: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for candidate in ready:
        by_participant[candidate["participant_id"]].append(candidate)
    for participant_id, periods in by_participant.items():
        async with pool.acquire() as connection, connection.transaction():
            await lock_participants(connection, [participant_id])
            for period in periods:
                merged, readings = await _compact_period(
                    connection, participant_id, period["metric_id"], int(period["period"].timestamp() * 1000)
                )
                report.periods += merged > 1
                report.segments_merged += merged if merged > 1 else 0
                report.readings += readings if merged > 1 else 0
    return report


async def _compact_period(
    connection: asyncpg.Connection, participant_id: str, metric_id: int, period_ms: int
) -> tuple[int, int]:
    rows = await connection.fetch(
        _SEGMENTS,
        participant_id,
        metric_id,
        ms_to_datetime(period_ms),
        ms_to_datetime(period_ms + PERIOD_MS[metric_id]),
    )
    if len(rows) < 2:
        return len(rows), 0
    metric = next(m for m in METRICS.values() if METRIC_IDS[m.name] == metric_id)
    columns = len(metric.extra_columns)
    timestamps = np.concatenate([r["start_ms"] + np.cumsum(np.asarray(r["ts_delta"], dtype=np.int64)) for r in rows])
    values = np.concatenate(
        [decode_values(r["value_delta"], r["value_scale"], r["value_f8"], metric.scale) for r in rows]
    )
    extra = (
        np.concatenate([np.asarray(r["extra"], dtype=np.float64).reshape(-1, columns) for r in rows])
        if columns
        else None
    )
    order = np.argsort(timestamps, kind="stable")
    timestamps, values = timestamps[order], values[order]
    encoded = encode_values(values, metric.scale)
    batch_ids = sorted({bid for r in rows for bid in (r["batch_ids"] or [r["batch_id"]])})
    key = uuid.uuid5(NAMESPACE, f"{participant_id}/{metric_id}/{period_ms}")
    await connection.execute(
        "DELETE FROM raw_segments WHERE participant_id = $1 AND metric_id = $2 AND start_time >= $3"
        " AND start_time < $4",
        participant_id,
        metric_id,
        ms_to_datetime(period_ms),
        ms_to_datetime(period_ms + PERIOD_MS[metric_id]),
    )
    await connection.execute(
        "INSERT INTO raw_segments (participant_id, metric_id, start_time, end_time, batch_id, n, ts_delta,"
        " value_delta, extra, batch_ids, sync_time, value_scale, value_f8)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        participant_id,
        metric_id,
        ms_to_datetime(int(timestamps[0])),
        ms_to_datetime(int(timestamps[-1])),
        key,
        len(timestamps),
        np.diff(timestamps, prepend=timestamps[0]).astype(np.int32).tolist(),
        encoded.value_delta,
        None if extra is None else extra[order].ravel().tolist(),
        batch_ids,
        # The merged row counts as uploaded at its latest batch's sync time (its readings are all winners).
        max((r["sync_time"] for r in rows if r["sync_time"] is not None), default=None),
        encoded.value_scale,
        encoded.value_f8,
    )
    return len(rows), len(timestamps)
