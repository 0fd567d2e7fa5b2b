"""Wire contract of the `<prefix>.readings.<metric>` topics: one ReadingBatch per device upload, msgpack.

Columns travel as little-endian byte strings (numpy buffers) so that a batch of thousands of readings encodes
and decodes in microseconds: `timestamps` is int64 epoch milliseconds, `values` has the metric's `wire_dtype`
from the registry, and each of the metric's `extra_columns` is float32. The Kafka key is the participant id.
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

    def timestamps_array(self) -> npt.NDArray[np.int64]:
        return np.frombuffer(self.timestamps, dtype=TIMESTAMP_DTYPE)

    def values_array(self) -> npt.NDArray[np.generic]:
        return np.frombuffer(self.values, dtype=np.dtype(get_metric(self.metric).wire_dtype))

    def extra_array(self, column: str) -> npt.NDArray[np.float32]:
        return np.frombuffer(self.extra[column], dtype=EXTRA_DTYPE)

    def __len__(self) -> int:
        return len(self.timestamps) // TIMESTAMP_DTYPE.itemsize


def batch_id_for(
    participant_id: str,
    metric: str,
    device_id: str,
    timestamps: bytes,
    values: bytes,
    extra: dict[str, bytes],
) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for part in (participant_id, metric, device_id):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(timestamps)
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
    """Builds a batch from array-likes, converting each column to its wire dtype and deriving the batch id."""
    spec = get_metric(metric)
    ts = np.ascontiguousarray(timestamps, dtype=TIMESTAMP_DTYPE).tobytes()
    vals = np.ascontiguousarray(values, dtype=np.dtype(spec.wire_dtype)).tobytes()
    extra_bytes = {
        column: np.ascontiguousarray(column_values, dtype=EXTRA_DTYPE).tobytes()
        for column, column_values in (extra or {}).items()
    }
    return ReadingBatch(
        participant_id=participant_id,
        metric=metric,
        device_id=device_id,
        batch_id=batch_id_for(participant_id, metric, device_id, ts, vals, extra_bytes),
        sync_time=int(sync_time),
        timestamps=ts,
        values=vals,
        extra=extra_bytes,
        timezone=timezone,
        origin=origin,
    )


_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(ReadingBatch)


def encode_batch(batch: ReadingBatch) -> bytes:
    return _encoder.encode(batch)


def decode_batch(payload: bytes) -> ReadingBatch:
    """Decodes a batch; raises msgspec.DecodeError / msgspec.ValidationError on malformed input."""
    return _decoder.decode(payload)
