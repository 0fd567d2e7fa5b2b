"""Live updates: what a stored group shows the live feeds, built from the rows the transaction merged."""

from __future__ import annotations

import time
from collections import defaultdict

import asyncpg
import numpy as np
import numpy.typing as npt

from schemas.events import LiveUpdate, MinutePoint
from schemas.metrics import Metric


def count_in(buckets: npt.NDArray[np.int64], members: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """How many of `members` (bucket starts, each one of `buckets`) fall in each bucket."""
    return np.bincount(np.searchsorted(buckets, members), minlength=len(buckets)).astype(np.int64)


def live_updates(
    metric: Metric,
    upserted: list[asyncpg.Record],
    readings: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]],
    since_ms: int | None = None,
) -> list[LiveUpdate]:
    """One update per participant: the 1-minute rollups this batch touched, as merged in the database, and
    for a metric sampled every second (heart rate) the batch's readings thinned to at most one per second.
    With `since_ms`, only participants whose latest touched minute starts then or later (backfilled history is
    not news, and building its updates is most of their cost)."""
    rows_of: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for row in upserted:
        rows_of[row["participant_id"]].append(row)
    updates = []
    emitted_ms = int(time.time() * 1000)
    for pid, rows in rows_of.items():
        if since_ms is not None and max(row["bucket_ms"] for row in rows) < since_ms:
            continue
        minutes = []
        for row in rows:
            count, total = row["count"], row["sum"]
            minutes.append(MinutePoint(row["bucket_ms"], count, total / count, row["min"], row["max"], total))
        thinned_ts: list[int] = []
        thinned_values: list[float] = []
        if 0 < metric.resolution_s <= 1:  # sampled every second: the readings themselves are news
            ts, values = readings[pid]
            seconds = ts // 1000
            keep = np.r_[seconds[1:] != seconds[:-1], True]
            thinned_ts, thinned_values = ts[keep].tolist(), values[keep].tolist()
        updates.append(
            LiveUpdate(
                participant_id=pid,
                metric=metric.name,
                minutes=sorted(minutes, key=lambda p: p.bucket_ms),
                timestamps=thinned_ts,
                values=thinned_values,
                emitted_ms=emitted_ms,
            )
        )
    return updates
