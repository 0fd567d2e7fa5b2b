"""Rollups: per-bucket count, sum, min, max, first/last time (and sleep-stage epochs), computed with numpy.

Rollups of disjoint sets of readings merge exactly (`merge`), which is what the database does on conflict:
so batches that split a bucket, and late data, give the numbers a full recomputation would.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Final

import msgspec
import numpy as np
import numpy.typing as npt

MINUTE_MS: Final = 60_000
HOUR_MS: Final = 3_600_000
STAGES: Final = 4


class Rollup(msgspec.Struct, frozen=True, kw_only=True):
    """Column arrays, one element per bucket, buckets ascending."""

    bucket_ms: npt.NDArray[np.int64]
    count: npt.NDArray[np.int64]
    sum: npt.NDArray[np.float64]
    min: npt.NDArray[np.float64]
    max: npt.NDArray[np.float64]
    first_ms: npt.NDArray[np.int64]
    last_ms: npt.NDArray[np.int64]
    stage_epochs: npt.NDArray[np.int64] | None = None
    """(buckets × 4) epochs per SleepStage, for the sleep_stage metric only."""

    def __len__(self) -> int:
        return len(self.bucket_ms)


def fixed_buckets(timestamps: npt.NDArray[np.int64], width_ms: int) -> npt.NDArray[np.int64]:
    return (timestamps // width_ms) * width_ms


def local_day_buckets(timestamps: npt.NDArray[np.int64], timezone: str) -> npt.NDArray[np.int64]:
    """The epoch ms of the local midnight that starts each reading's day in `timezone` (DST-aware)."""
    if len(timestamps) == 0:
        return timestamps
    zone = zoneinfo.ZoneInfo(timezone)
    first = dt.datetime.fromtimestamp(int(timestamps.min()) / 1000, tz=zone).date() - dt.timedelta(days=1)
    last = dt.datetime.fromtimestamp(int(timestamps.max()) / 1000, tz=zone).date() + dt.timedelta(days=1)
    days = (last - first).days + 1
    midnights = np.array(
        [
            int(dt.datetime.combine(first + dt.timedelta(days=i), dt.time(), tzinfo=zone).timestamp() * 1000)
            for i in range(days)
        ],
        dtype=np.int64,
    )
    return midnights[np.searchsorted(midnights, timestamps, side="right") - 1]


def aggregate(
    buckets: npt.NDArray[np.int64],
    timestamps: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    *,
    stages: bool = False,
) -> Rollup:
    """Aggregates readings sorted by time (so `buckets` is non-decreasing) into one row per bucket."""
    if len(timestamps) == 0:
        empty_i = np.empty(0, dtype=np.int64)
        empty_f = np.empty(0, dtype=np.float64)
        return Rollup(
            bucket_ms=empty_i,
            count=empty_i,
            sum=empty_f,
            min=empty_f,
            max=empty_f,
            first_ms=empty_i,
            last_ms=empty_i,
            stage_epochs=np.empty((0, STAGES), dtype=np.int64) if stages else None,
        )
    starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
    ends = np.r_[starts[1:], len(buckets)] - 1
    stage_epochs = None
    if stages:
        one_hot = np.zeros((len(values), STAGES), dtype=np.int64)
        one_hot[np.arange(len(values)), values.astype(np.int64)] = 1
        stage_epochs = np.add.reduceat(one_hot, starts, axis=0)
    return Rollup(
        bucket_ms=buckets[starts],
        count=np.diff(np.r_[starts, len(buckets)]).astype(np.int64),
        sum=np.add.reduceat(values, starts),
        min=np.minimum.reduceat(values, starts),
        max=np.maximum.reduceat(values, starts),
        first_ms=timestamps[starts],
        last_ms=timestamps[ends],
        stage_epochs=stage_epochs,
    )


def merge(a: Rollup, b: Rollup) -> Rollup:
    """Merges rollups of disjoint readings, bucket by bucket (what ON CONFLICT DO UPDATE does)."""
    buckets = np.union1d(a.bucket_ms, b.bucket_ms)
    n = len(buckets)
    count = np.zeros(n, dtype=np.int64)
    total = np.zeros(n, dtype=np.float64)
    low = np.full(n, np.inf)
    high = np.full(n, -np.inf)
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    with_stages = a.stage_epochs is not None or b.stage_epochs is not None
    stage_epochs = np.zeros((n, STAGES), dtype=np.int64) if with_stages else None
    for part in (a, b):
        index = np.searchsorted(buckets, part.bucket_ms)
        count[index] += part.count
        total[index] += part.sum
        low[index] = np.minimum(low[index], part.min)
        high[index] = np.maximum(high[index], part.max)
        first[index] = np.minimum(first[index], part.first_ms)
        last[index] = np.maximum(last[index], part.last_ms)
        if stage_epochs is not None and part.stage_epochs is not None:
            stage_epochs[index] += part.stage_epochs
    return Rollup(
        bucket_ms=buckets,
        count=count,
        sum=total,
        min=low,
        max=high,
        first_ms=first,
        last_ms=last,
        stage_epochs=stage_epochs,
    )
