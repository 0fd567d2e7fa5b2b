"""CSV text of a table of readings, built column-wise in Arrow and numpy with no Python object per reading.

The text is byte-for-byte what the row-wise writer gave: time as RFC 3339 UTC with milliseconds
(`2026-09-02T07:15:04.000Z`), numbers as Python's `repr` writes them (`72.0`, `0.30000001192092896`), empty
where null, no quoting (no value needs it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_TEMPLATE: Final = b"0000-00-00T00:00:00.000Z"
_DAY_MS: Final = 86_400_000
# Arrow's shortest float text equals Python's repr (and msgspec's JSON) between these magnitudes (apart from the
# ".0" on whole numbers); outside them they choose exponent notation differently, so those few values are spelt
# by the writer itself.
_PLAIN_LOW: Final = 1e-4
_PLAIN_HIGH: Final = 1e10


def time_rows(epoch_ms: np.ndarray, template: bytes, at: int, *, millis: bool = True) -> np.ndarray:
    """Per time, a copy of `template` (rows × bytes) with `YYYY-MM-DDTHH:MM:SS` (and `.mmm` if `millis`)
    written at byte `at` over its zeros (years 0–9999)."""
    ms = np.asarray(epoch_ms, dtype=np.int64)
    days = ms // _DAY_MS
    of_day = ms - days * _DAY_MS
    date = days.astype("datetime64[D]")
    year_start = date.astype("datetime64[Y]")
    month_start = date.astype("datetime64[M]")
    out = np.empty((len(ms), len(template)), dtype=np.uint8)
    out[:] = np.frombuffer(template, dtype=np.uint8)
    fields = [
        (0, 4, year_start.astype(np.int64) + 1970),
        (5, 2, (month_start - year_start.astype("datetime64[M]")).astype(np.int64) + 1),
        (8, 2, (date - month_start.astype("datetime64[D]")).astype(np.int64) + 1),
        (11, 2, of_day // 3_600_000),
        (14, 2, of_day // 60_000 % 60),
        (17, 2, of_day // 1000 % 60),
    ]
    if millis:
        fields.append((20, 3, of_day % 1000))
    for column, width, value in fields:
        for k in range(width - 1, -1, -1):
            out[:, at + column + k] += (value % 10).astype(np.uint8)
            value = value // 10
    return out


def fixed_width(rows: np.ndarray) -> pa.StringArray:
    """Rows × bytes as one string per row."""
    offsets = np.arange(0, rows.size + 1, rows.shape[1], dtype=np.int32)
    return pa.StringArray.from_buffers(len(rows), pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(rows)))


def rfc3339_ms(epoch_ms: np.ndarray) -> pa.StringArray:
    """Epoch milliseconds as fixed-width `YYYY-MM-DDTHH:MM:SS.mmmZ` strings (years 0–9999)."""
    return fixed_width(time_rows(epoch_ms, _TEMPLATE, 0))


def number_text(column: pa.Array | pa.ChunkedArray, spell: Callable[[float], str] = repr) -> pa.Array:
    """A numeric column as `repr` writes each value (integers as integers); null stays null. `spell` writes the
    few values outside the magnitudes where Arrow's shortest text is repr's (another writer whose plain numbers
    are repr's, such as msgspec's JSON, passes its own)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_integer(array.type):
        return pc.cast(array, pa.string())
    array = array.cast(pa.float64())
    values = array.to_numpy(zero_copy_only=False)
    text = pc.cast(array, pa.string())
    finite = np.isfinite(values)
    whole = finite & (values == np.floor(values))
    text = pc.if_else(pa.array(whole), pc.binary_join_element_wise(text, pa.scalar(".0"), ""), text)
    magnitude = np.abs(values, where=finite, out=np.zeros_like(values))
    odd = finite & (values != 0) & ((magnitude < _PLAIN_LOW) | (magnitude >= _PLAIN_HIGH))
    if odd.any():
        spelt = pa.array([spell(float(v)) for v in values[odd]], type=pa.string())
        text = pc.replace_with_mask(text, pa.array(odd), spelt)
    return text


def csv_lines(table: pa.Table) -> bytes:
    """The table's rows as CSV lines, each ended by a newline; the first column is the time."""
    columns = [rfc3339_ms(table.column(0).cast(pa.int64()).to_numpy())]
    columns.extend(number_text(table.column(i)) for i in range(1, table.num_columns))
    # Each line joined with a trailing separator, which then becomes the line's newline.
    joined = pc.binary_join_element_wise(*columns, pa.scalar(""), ",", null_handling="replace", null_replacement="")
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32, count=len(joined) + 1, offset=joined.offset * 4)
    data = np.frombuffer(joined.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].copy()
    data[offsets[1:] - offsets[0] - 1] = ord("\n")
    return data.tobytes()
