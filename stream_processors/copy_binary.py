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
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

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


ROLLUP_COLUMNS: Final = (
    *("participant_id", "bucket", "count", "sum", "min", "max"),
    *("first_time", "last_time", "minutes", "stage_epochs"),
)
"""The columns `rollup_rows` writes, in order (a rollup row without its metric id)."""
_ROLLUP_FIELDS: Final = (
    ("bucket", ">i8"),
    ("count", ">i4"),
    ("sum", ">f8"),
    ("min", ">f8"),
    ("max", ">f8"),
    ("first", ">i8"),
    ("last", ">i8"),
    ("minutes", ">i4"),
)


def rollup_rows(
    participant_id: str, columns: Mapping[str, npt.NDArray[np.generic]], stage_epochs: npt.NDArray[np.int64] | None
) -> bytes:
    """One participant's rollup rows for ROLLUP_COLUMNS, without the stream's signature and trailer (`stream`
    adds them): every row has the same width, so all of them are one numpy record array. `columns` holds the
    arrays named in `_ROLLUP_FIELDS` (times in ms); `stage_epochs` is (rows × 4) or None (NULL)."""
    name = participant_id.encode()
    rows = len(columns["bucket"])
    layout: list[tuple[Any, ...]] = [("fields", ">i2"), ("name_size", ">i4")]
    layout += [("name", f"V{len(name)}")] if name else []
    for field, kind in _ROLLUP_FIELDS:
        layout += [(f"{field}_size", ">i4"), (field, kind)]
    layout += [("stages_size", ">i4")]
    if stage_epochs is not None:
        layout += [("stages_header", ">i4", (5,)), ("stages", [("size", ">i4"), ("value", ">i4")], (4,))]
    cells = np.empty(rows, dtype=layout)
    cells["fields"] = len(ROLLUP_COLUMNS)
    cells["name_size"] = len(name)
    if name:
        cells["name"] = np.frombuffer(name, dtype=f"V{len(name)}")[0]
    for field, kind in _ROLLUP_FIELDS:
        cells[f"{field}_size"] = np.dtype(kind).itemsize
        values = columns[field]
        cells[field] = (values - _PG_EPOCH_MS) * 1000 if field in ("bucket", "first", "last") else values
    if stage_epochs is None:
        cells["stages_size"] = -1
    else:
        cells["stages_size"] = 20 + 4 * 8
        cells["stages_header"] = (1, 0, _INT4[0], 4, 1)
        cells["stages"]["size"] = 4
        cells["stages"]["value"] = stage_epochs
    return cells.tobytes()


def stream(bodies: Iterable[bytes]) -> bytes:
    """A whole binary COPY stream of row bodies."""
    return b"".join((_SIGNATURE, *bodies, _TRAILER))
