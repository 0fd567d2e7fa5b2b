"""Raw segments in PostgreSQL's binary COPY format, their arrays encoded whole by numpy.

asyncpg's record encoder (`copy_records_to_table`) visits every element of a segment's `integer[]` columns
as a Python int — about a third of the worker's CPU for 1-second heart rate. Here each array becomes one
numpy record array of (length, value) cells in network byte order, and only the few scalars of a segment
go through `struct`. The layout is PostgreSQL's (`COPY … FROM STDIN (FORMAT binary)`: a signature, then
per row a field count and length-prefixed fields, -1 for NULL; arrays as `array_send` writes them).
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Mapping, Sequence
from typing import Final

import numpy as np

from stream_processors.segments import RAW_COLUMNS, Segment

STAGED_COLUMNS: Final = (*RAW_COLUMNS, "sync_time")
"""The columns `staged_rows` writes, in order: the raw segment's and its upload's sync time."""

_SIGNATURE: Final = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_TRAILER: Final = struct.pack("!h", -1)
_NULL: Final = struct.pack("!i", -1)
_PG_EPOCH_MS: Final = 946_684_800_000
"""2000-01-01 UTC in Unix milliseconds: PostgreSQL's timestamps count microseconds from there."""
_INT4: Final = (23, np.dtype(">i4"))
_FLOAT4: Final = (700, np.dtype(">f4"))
_FLOAT8: Final = (701, np.dtype(">f8"))
_HEAD: Final = struct.Struct("!hi")
_SCALARS: Final = struct.Struct("!ihiqiqi16sii")
_TIME: Final = struct.Struct("!iq")
_INT: Final = struct.Struct("!ii")


def _array(values: Sequence[float] | None, kind: tuple[int, np.dtype[np.generic]]) -> bytes:
    """One one-dimensional array field without NULL elements (lower bound 1), or a NULL field."""
    if values is None:
        return _NULL
    oid, dtype = kind
    if len(values) == 0:
        return struct.pack("!iiii", 12, 0, 0, oid)
    cells = np.empty(len(values), dtype=[("size", ">i4"), ("value", dtype)])
    cells["size"] = dtype.itemsize
    cells["value"] = values
    header = struct.pack("!iiiiii", 20 + cells.nbytes, 1, 0, oid, len(values), 1)
    return header + cells.tobytes()


def _micros(ms: int) -> int:
    return (ms - _PG_EPOCH_MS) * 1000


def staged_rows(segments: Sequence[Segment], sync_times: Mapping[str, int]) -> bytes:
    """The binary COPY stream of `segments` for STAGED_COLUMNS; `sync_times` maps each batch id to its upload
    time (ms). Equal, field by field, to what `copy_records_to_table` sends for `Segment.record()`."""
    parts = [_SIGNATURE]
    for s in segments:
        name = s.participant_id.encode()
        parts.append(_HEAD.pack(len(STAGED_COLUMNS), len(name)))
        parts.append(name)
        parts.append(
            _SCALARS.pack(
                *(2, s.metric_id, 8, _micros(s.start_ms), 8, _micros(s.end_ms)),
                *(16, uuid.UUID(s.batch_id).bytes, 4, len(s.ts_delta)),
            )
        )
        parts.append(_array(s.ts_delta, _INT4))
        parts.append(_array(s.value_delta, _INT4))
        parts.append(_array(s.extra, _FLOAT4))
        parts.append(_NULL if s.value_scale is None else _INT.pack(4, s.value_scale))
        parts.append(_array(s.value_f8, _FLOAT8))
        parts.append(_TIME.pack(8, _micros(sync_times[s.batch_id])))
    parts.append(_TRAILER)
    return b"".join(parts)
