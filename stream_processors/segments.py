"""Raw store layout: a batch's readings packed into per-hour segments of delta-encoded columns, losslessly.

One segment holds the readings of one batch inside one clock hour: `ts_delta` (ms; the first is 0, relative to
`start_time`) and the values in one of two exact forms, chosen per segment by `encode_values`:
- `value_delta`: round(value × scale) delta-encoded as int32 (the first is absolute), with the smallest
  power-of-ten `scale` (1, 10, …, 10⁹) for which every value reads back bit for bit as (integer / scale) —
  integer heart rate at scale 1, wearipedia's 141.65 at scale 100. `value_scale` is NULL when the scale is the
  metric's registry scale (the layout rows had before there was a choice);
- `value_f8`: the float64 values themselves, when no such scale exists.
Runs of equal steps become runs of equal small integers, which TOAST compresses well; `raw_readings()` in SQL
unpacks both forms with the same float64 division numpy does.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import Final, NamedTuple

import msgspec
import numpy as np
import numpy.typing as npt

HOUR_MS: Final = 3_600_000
UTC: Final = dt.UTC
SCALES: Final = tuple(10**k for k in range(10))
"""Candidate per-segment scales, smallest first."""
_INT32: Final = np.iinfo(np.int32)
_EXACT_INTEGER: Final = 2.0**53


class EncodedValues(NamedTuple):
    """One segment's values in stored form: exactly one of `value_delta` and `value_f8` is set."""

    value_scale: int | None
    value_delta: list[int] | None
    value_f8: list[float] | None


class Segment(msgspec.Struct, frozen=True, kw_only=True):
    participant_id: str
    metric_id: int
    start_ms: int
    end_ms: int
    batch_id: str
    ts_delta: list[int]
    value_delta: list[int] | None
    extra: list[float] | None
    value_scale: int | None = None
    """The scale of `value_delta` (None: the metric's registry scale)."""
    value_f8: list[float] | None = None
    """The values as float64, when no scale makes them exact integers (then `value_delta` is None)."""

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
            self.value_scale,
            self.value_f8,
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
    "value_scale",
    "value_f8",
)


def ms_to_datetime(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=UTC)


def exact_scale(values: npt.NDArray[np.float64], candidates: tuple[int, ...] = SCALES) -> int | None:
    """The smallest scale in `candidates` (default `SCALES`) at which every value is an integer n with
    n / scale == value bit for bit and int32 deltas between neighbours; None when there is none (then only
    float64 storage is exact)."""
    if len(values) == 0:
        return 1
    if not np.all(np.isfinite(values)):
        return None
    bits = values.view(np.int64)
    for scale in candidates:
        scaled = np.rint(values * scale)
        if np.max(np.abs(scaled)) >= _EXACT_INTEGER:
            return None
        # Through int64, as stored: -0.0 becomes 0 and so is not exact at any scale.
        if not np.array_equal((scaled.astype(np.int64).astype(np.float64) / scale).view(np.int64), bits):
            continue
        delta = np.diff(scaled, prepend=0.0)
        if delta.min() < _INT32.min or delta.max() > _INT32.max:
            return None
        return int(scale)
    return None


def encode_values(values: npt.NDArray[np.float64], registry_scale: int) -> EncodedValues:
    """The stored form of one segment's values (see the module docstring); `decode_values` inverts it exactly."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    scale = exact_scale(values)
    if scale is None:
        return EncodedValues(None, None, values.tolist())
    scaled = np.rint(values * scale).astype(np.int64)
    delta = np.diff(scaled, prepend=0).astype(np.int32).tolist()
    return EncodedValues(None if scale == registry_scale else scale, delta, None)


def decode_values(
    value_delta: list[int] | None, value_scale: int | None, value_f8: list[float] | None, registry_scale: int
) -> npt.NDArray[np.float64]:
    """The values of one stored segment (what `raw_readings()` computes in SQL)."""
    if value_f8 is not None:
        return np.asarray(value_f8, dtype=np.float64)
    scale = registry_scale if value_scale is None else value_scale
    return np.cumsum(np.asarray(value_delta, dtype=np.int64)).astype(np.float64) / scale


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
    """Packs sorted readings into one segment per clock hour; `scale` is the metric's registry scale. `extra`
    columns are interleaved per reading."""
    hours = timestamps // HOUR_MS
    cuts = np.flatnonzero(np.diff(hours)) + 1
    bounds = [0, *cuts.tolist(), len(timestamps)]
    width = len(extra)
    flat_extra = np.stack(extra, axis=1).ravel().astype(np.float64).tolist() if extra else None
    ts_delta = np.diff(timestamps, prepend=timestamps[:1])
    ts_delta[bounds[:-1]] = 0
    ts_lists = ts_delta.astype(np.int32).tolist()
    whole = _whole_batch_integers(values, bounds)
    segments = []
    for lo, hi in itertools.pairwise(bounds):
        if whole is None:
            encoded = encode_values(values[lo:hi], scale)
        else:
            encoded = EncodedValues(None if scale == 1 else 1, whole[lo:hi], None)
        segments.append(
            Segment(
                participant_id=participant_id,
                metric_id=metric_id,
                start_ms=int(timestamps[lo]),
                end_ms=int(timestamps[hi - 1]),
                batch_id=batch_id,
                ts_delta=ts_lists[lo:hi],
                value_delta=encoded.value_delta,
                extra=None if flat_extra is None else flat_extra[lo * width : hi * width],
                value_scale=encoded.value_scale,
                value_f8=encoded.value_f8,
            )
        )
    return segments


def _whole_batch_integers(values: npt.NDArray[np.float64], bounds: list[int]) -> list[int] | None:
    """Every segment's `value_delta` at once when the whole batch is exact at scale 1 (the smallest, so the one
    `encode_values` picks for every segment) with int32 absolutes; else None, and each segment is encoded on
    its own."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    if len(values) == 0 or exact_scale(values, SCALES[:1]) is None or np.abs(values).max() > _INT32.max:
        return None
    scaled = values.astype(np.int64)
    delta = np.diff(scaled, prepend=0)
    starts = bounds[:-1]
    delta[starts] = scaled[starts]
    return delta.astype(np.int32).tolist()  # type: ignore[no-any-return]


def unpack(segment: Segment, scale: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The inverse of `pack` for one segment (timestamps in ms, values exactly as packed); `scale` is the
    metric's registry scale."""
    timestamps = segment.start_ms + np.cumsum(np.asarray(segment.ts_delta, dtype=np.int64))
    return timestamps, decode_values(segment.value_delta, segment.value_scale, segment.value_f8, scale)


class Readings(NamedTuple):
    """One batch's sorted readings, as `pack` takes them."""

    participant_id: str
    metric_id: int
    batch_id: str
    scale: int
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    extra: list[npt.NDArray[np.float32]]


def pack_many(batches: list[Readings]) -> list[Segment]:
    """`pack` of every batch, in order, with the same result. When all of them are whole numbers at scale 1 with
    int32 deltas and without extra columns (heart rate, steps), their segments are cut and encoded in one pass
    over the concatenated arrays instead of a dozen numpy calls per batch."""
    scales = {b.scale for b in batches}
    if len(scales) != 1 or any(b.extra or len(b.timestamps) == 0 for b in batches):
        return [s for b in batches for s in pack(**b._asdict())]
    timestamps = np.concatenate([b.timestamps for b in batches])
    starts = np.cumsum([0, *(len(b.timestamps) for b in batches)])
    hours = timestamps // HOUR_MS
    cut = np.zeros(len(timestamps), dtype=bool)
    cut[1:] = hours[1:] != hours[:-1]
    cut[starts[:-1]] = True
    bounds = [*np.flatnonzero(cut).tolist(), len(timestamps)]
    whole = _whole_batch_integers(np.concatenate([b.values for b in batches]), bounds)
    if whole is None:
        return [s for b in batches for s in pack(**b._asdict())]
    ts_delta = np.diff(timestamps, prepend=timestamps[:1])
    ts_delta[bounds[:-1]] = 0
    ts_lists = ts_delta.astype(np.int32).tolist()
    owner = np.searchsorted(starts, bounds[:-1], side="right") - 1
    value_scale = None if scales == {1} else 1
    return [
        Segment(
            participant_id=(b := batches[k]).participant_id,
            metric_id=b.metric_id,
            start_ms=int(timestamps[lo]),
            end_ms=int(timestamps[hi - 1]),
            batch_id=b.batch_id,
            ts_delta=ts_lists[lo:hi],
            value_delta=whole[lo:hi],
            extra=None,
            value_scale=value_scale,
        )
        for k, lo, hi in zip(owner.tolist(), bounds[:-1], bounds[1:], strict=True)
    ]
