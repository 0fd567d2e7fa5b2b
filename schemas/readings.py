"""Wire contract of the `<prefix>.readings.<metric>` topics: one ReadingBatch per device upload, msgpack.

Columns travel as little-endian byte strings (numpy buffers) so that a batch of thousands of readings encodes
and decodes in microseconds: `timestamps` is int64 epoch milliseconds, and each of the metric's `extra_columns`
is float32. The Kafka key is the participant id.

Values are lossless. `values` has the dtype named by `values_dtype`; empty (every batch written before the
field existed, and every batch whose values fit) means the metric's `wire_dtype` from the registry. A value
that the registry's dtype cannot carry exactly (wearipedia's heart rate of 141.65 in an int16 metric, a
reading with more digits than float32 holds) makes `make_batch` send the whole column as float64 instead.
A float32 column stands for the shortest decimal that round-trips it (what a JSON writer prints: 95.3 is
95.3, not 95.30000305), so `values_float64()` returns exactly the number the source gave.
"""

from __future__ import annotations

import hashlib
from typing import Final, Literal

import msgspec
import numpy as np
import numpy.typing as npt

from schemas.metrics import get_metric

TIMESTAMP_DTYPE: Final = np.dtype("<i8")
EXTRA_DTYPE: Final = np.dtype("<f4")
Origin = Literal["device", "import"]
EXACT_DTYPE: Final = np.dtype("<f8")
"""The fallback `values_dtype` for values the registry's wire dtype cannot carry exactly."""


class ReadingBatch(msgspec.Struct, frozen=True, kw_only=True):
    """Readings of one participant and one metric, as uploaded by the device in one sync."""

    participant_id: str
    metric: str
    device_id: str
    batch_id: str
    """Deterministic: the same readings of the same participant, metric and device give the same id."""
    sync_time: int
    """When the device uploaded this batch, epoch milliseconds."""
    timestamps: bytes
    values: bytes
    extra: dict[str, bytes] = {}
    timezone: str = ""
    """IANA time zone the device was set to ("" when unknown); the participant's record decides local days."""
    origin: Origin = "device"
    """`device`: an upload, `sync_time` is when the device synced. `import`: read from an export file,
    `sync_time` is the export's sync time if it carries one, else when it was imported; never a device upload."""
    values_dtype: str = ""
    """numpy dtype of `values` ("" = the metric's registry `wire_dtype`; "<f8" when that would not be exact)."""

    def timestamps_array(self) -> npt.NDArray[np.int64]:
        return np.frombuffer(self.timestamps, dtype=TIMESTAMP_DTYPE)

    def values_array(self) -> npt.NDArray[np.generic]:
        """The values column in its wire dtype; raises ValueError for a dtype other than the two allowed."""
        return np.frombuffer(self.values, dtype=_values_dtype(self.metric, self.values_dtype))

    def values_float64(self) -> npt.NDArray[np.float64]:
        """The values exactly as the source gave them (float32 columns read as their shortest decimal)."""
        return exact_float64(self.values_array())

    def extra_array(self, column: str) -> npt.NDArray[np.float32]:
        return np.frombuffer(self.extra[column], dtype=EXTRA_DTYPE)

    def __len__(self) -> int:
        return len(self.timestamps) // TIMESTAMP_DTYPE.itemsize


def _values_dtype(metric: str, values_dtype: str) -> np.dtype[np.generic]:
    registry = np.dtype(get_metric(metric).wire_dtype)
    if values_dtype in ("", registry.str):
        return registry
    if values_dtype == EXACT_DTYPE.str:
        return EXACT_DTYPE
    raise ValueError(f"values_dtype {values_dtype!r}: expected '' or {registry.str!r} or {EXACT_DTYPE.str!r}")


def exact_float64(values: npt.NDArray[np.generic]) -> npt.NDArray[np.float64]:
    """Values as float64 without changing any number: integers and float64 as they are, float32 through its
    shortest round-tripping decimal (numpy's repr), so 95.3 sent as float32 reads back as the float64 95.3."""
    if values.dtype.kind == "f" and values.dtype.itemsize == 4:
        return values.astype(str).astype(np.float64)
    return values.astype(np.float64)


def wire_values(values: npt.ArrayLike, wire_dtype: str) -> tuple[npt.NDArray[np.generic], str]:
    """The values column and its `values_dtype`: the registry's `wire_dtype` when every value survives the
    trip through it bit for bit, else float64 ("<f8"). An array already in the wire dtype is taken as is."""
    registry = np.dtype(wire_dtype)
    array = np.asarray(values)
    if array.dtype == registry:
        return np.ascontiguousarray(array), ""
    exact = np.ascontiguousarray(array, dtype=EXACT_DTYPE)
    if registry.kind in "iu":
        limits = np.iinfo(registry)
        fits = bool(np.all(np.isfinite(exact) & (exact >= limits.min) & (exact <= limits.max)))
        if fits:
            narrow = exact.astype(registry)
            if np.array_equal(narrow.astype(EXACT_DTYPE).view(np.int64), exact.view(np.int64)):
                return narrow, ""
    else:
        with np.errstate(over="ignore"):
            narrow = exact.astype(registry)
        if np.array_equal(exact_float64(narrow).view(np.int64), exact.view(np.int64)):
            return narrow, ""
    return exact, EXACT_DTYPE.str


def batch_id_for(
    participant_id: str,
    metric: str,
    device_id: str,
    timestamps: bytes,
    values: bytes,
    extra: dict[str, bytes],
    values_dtype: str = "",
) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for part in (participant_id, metric, device_id):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(timestamps)
    if values_dtype:
        # Batches in the registry dtype keep the ids they always had; another dtype is part of the content.
        digest.update(values_dtype.encode())
        digest.update(b"\0")
    digest.update(values)
    for column in sorted(extra):
        digest.update(column.encode())
        digest.update(extra[column])
    return digest.hexdigest()


def make_batch(
    *,
    participant_id: str,
    metric: str,
    device_id: str,
    sync_time: int,
    timestamps: npt.ArrayLike,
    values: npt.ArrayLike,
    extra: dict[str, npt.ArrayLike] | None = None,
    timezone: str = "",
    origin: Origin = "device",
) -> ReadingBatch:
    """Builds a batch from array-likes, converting each column to its wire dtype and deriving the batch id.

    Values are never altered: they go in the registry's wire dtype when that is exact, else as float64."""
    spec = get_metric(metric)
    ts = np.ascontiguousarray(timestamps, dtype=TIMESTAMP_DTYPE).tobytes()
    column, values_dtype = wire_values(values, spec.wire_dtype)
    vals = column.tobytes()
    extra_bytes = {
        column: np.ascontiguousarray(column_values, dtype=EXTRA_DTYPE).tobytes()
        for column, column_values in (extra or {}).items()
    }
    return ReadingBatch(
        participant_id=participant_id,
        metric=metric,
        device_id=device_id,
        batch_id=batch_id_for(participant_id, metric, device_id, ts, vals, extra_bytes, values_dtype),
        sync_time=int(sync_time),
        timestamps=ts,
        values=vals,
        extra=extra_bytes,
        timezone=timezone,
        origin=origin,
        values_dtype=values_dtype,
    )


_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(ReadingBatch)


def encode_batch(batch: ReadingBatch) -> bytes:
    return _encoder.encode(batch)


def decode_batch(payload: bytes) -> ReadingBatch:
    """Decodes a batch; raises msgspec.DecodeError / msgspec.ValidationError on malformed input."""
    return _decoder.decode(payload)
