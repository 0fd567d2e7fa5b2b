"""Raw store layout: a batch's readings packed into per-hour segments of delta-encoded integer columns.

One segment holds the readings of one batch inside one clock hour: `ts_delta` (ms; the first is 0, relative to
`start_time`) and `value_delta` (values as round(value × scale); the first is absolute). Runs of equal steps
become runs of equal small integers, which TOAST compresses well; `raw_readings()` in SQL unpacks them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import Final

import msgspec
import numpy as np
import numpy.typing as npt

HOUR_MS: Final = 3_600_000
UTC: Final = dt.UTC


class Segment(msgspec.Struct, frozen=True, kw_only=True):
    participant_id: str
    metric_id: int
    start_ms: int
    end_ms: int
    batch_id: str
    ts_delta: list[int]
    value_delta: list[int]
    extra: list[float] | None

    def record(self) -> tuple[object, ...]:
        """The row for `raw_segments`, in column order."""
        return (
            self.participant_id,
            self.metric_id,
            ms_to_datetime(self.start_ms),
            ms_to_datetime(self.end_ms),
            uuid.UUID(self.batch_id),
            len(self.ts_delta),
            self.ts_delta,
            self.value_delta,
            self.extra,
        )


RAW_COLUMNS: Final = (
    "participant_id",
    "metric_id",
    "start_time",
    "end_time",
    "batch_id",
    "n",
    "ts_delta",
    "value_delta",
    "extra",
)


def ms_to_datetime(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=UTC)


def pack(
    *,
    participant_id: str,
    metric_id: int,
    batch_id: str,
    scale: int,
    timestamps: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    extra: list[npt.NDArray[np.float32]],
) -> list[Segment]:
    """Packs sorted readings into one segment per clock hour. `extra` columns are interleaved per reading."""
    scaled = np.rint(values * scale).astype(np.int64)
    hours = timestamps // HOUR_MS
    cuts = np.flatnonzero(np.diff(hours)) + 1
    bounds = [0, *cuts.tolist(), len(timestamps)]
    stacked = np.stack(extra, axis=1) if extra else None
    segments = []
    for lo, hi in itertools.pairwise(bounds):
        ts = timestamps[lo:hi]
        vals = scaled[lo:hi]
        ts_delta = np.diff(ts, prepend=ts[0])
        value_delta = np.diff(vals, prepend=0)
        segments.append(
            Segment(
                participant_id=participant_id,
                metric_id=metric_id,
                start_ms=int(ts[0]),
                end_ms=int(ts[-1]),
                batch_id=batch_id,
                ts_delta=ts_delta.astype(np.int32).tolist(),
                value_delta=value_delta.astype(np.int32).tolist(),
                extra=None if stacked is None else stacked[lo:hi].ravel().astype(np.float64).tolist(),
            )
        )
    return segments


def unpack(segment: Segment, scale: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The inverse of `pack` for one segment (timestamps in ms, values divided by scale)."""
    timestamps = segment.start_ms + np.cumsum(np.asarray(segment.ts_delta, dtype=np.int64))
    values = np.cumsum(np.asarray(segment.value_delta, dtype=np.int64)) / scale
    return timestamps, values
