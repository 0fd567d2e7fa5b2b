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
# A column with at most one distinct value in this many (a heart rate's day: about 100 in 20,000) is spelt
# value by value through a dictionary.
_DISTINCT_SHARE: Final = 8


def _digits(value: np.ndarray, width: int) -> np.ndarray:
    """Each non-negative integer as `width` ASCII digits, zero-padded (rows × width)."""
    return np.stack([(value // 10**k % 10 + ord("0")).astype(np.uint8) for k in range(width - 1, -1, -1)], axis=1)


def _joined(parts: list[np.ndarray | bytes], rows: int) -> np.ndarray:
    """Blocks (rows × width) and separators (the same bytes on every row) side by side: one contiguous rows ×
    bytes array."""
    blocks = [np.broadcast_to(np.frombuffer(p, np.uint8), (rows, len(p))) if isinstance(p, bytes) else p for p in parts]
    return np.ascontiguousarray(np.concatenate(blocks, axis=1))


_SECOND: Final = np.arange(86_400)
_CLOCK: Final = _joined(
    [_digits(_SECOND // 3600, 2), b":", _digits(_SECOND // 60 % 60, 2), b":", _digits(_SECOND % 60, 2)], 86_400
).view(np.uint64)[:, 0]
"""`HH:MM:SS` of each second of the day, eight bytes as one integer."""
_MILLIS: Final = _joined([b".", _digits(np.arange(1000), 3)], 1000).view(np.uint32)[:, 0]
"""`.mmm` of each millisecond, four bytes as one integer."""


def _gather(table: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Rows × bytes: row `index[i]` of `table` (rows × bytes), gathered as one item per row."""
    width = table.shape[1]
    items: np.ndarray = np.ascontiguousarray(table).view(np.dtype((np.void, width)))[:, 0]
    rows: np.ndarray = items[index].view(np.uint8).reshape(len(index), width)
    return rows


def time_rows(epoch_ms: np.ndarray, template: bytes, at: int, *, millis: bool = True) -> np.ndarray:
    """Per time, a copy of `template` (rows × bytes) with `YYYY-MM-DDTHH:MM:SS` (and `.mmm` if `millis`)
    written at byte `at` over its zeros (years 0–9999). Each distinct day's date is written once and each
    second's clock comes from a table."""
    ms = np.asarray(epoch_ms, dtype=np.int64)
    days = ms // _DAY_MS
    of_day = ms - days * _DAY_MS
    out = np.frombuffer(bytearray(template) * len(ms), dtype=np.uint8).reshape(len(ms), len(template))
    if not len(ms):
        return out
    first, last = int(days.min()), int(days.max())
    if last - first < len(ms):
        distinct, index = np.arange(first, last + 1), days - first
    else:
        distinct, index = np.unique(days, return_inverse=True)
    date = distinct.astype("datetime64[D]")
    year_start = date.astype("datetime64[Y]")
    month_start = date.astype("datetime64[M]")
    month = (month_start - year_start.astype("datetime64[M]")).astype(np.int64) + 1
    day = (date - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    dates = _joined(
        [_digits(year_start.astype(np.int64) + 1970, 4), b"-", _digits(month, 2), b"-", _digits(day, 2)], len(distinct)
    )
    out[:, at : at + 10] = _gather(dates, index.reshape(-1))
    out[:, at + 11 : at + 19] = _CLOCK[of_day // 1000].view(np.uint8).reshape(len(ms), 8)
    if millis:
        out[:, at + 19 : at + 23] = _MILLIS[of_day % 1000].view(np.uint8).reshape(len(ms), 4)
    return out


def fixed_width(rows: np.ndarray) -> pa.StringArray:
    """Rows × bytes as one string per row."""
    offsets = np.arange(0, rows.size + 1, rows.shape[1], dtype=np.int32)
    return pa.StringArray.from_buffers(len(rows), pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(rows)))


def rfc3339_ms(epoch_ms: np.ndarray) -> pa.StringArray:
    """Epoch milliseconds as fixed-width `YYYY-MM-DDTHH:MM:SS.mmmZ` strings (years 0–9999)."""
    return fixed_width(time_rows(epoch_ms, _TEMPLATE, 0))


def _dictionary(values: np.ndarray) -> tuple[list[float], pa.Array] | None:
    """The distinct values (by their bits: -0.0 is not 0.0) and each value's position among them; None when more
    than one value in `_DISTINCT_SHARE` is distinct (the column-wise path is then the faster)."""
    encoded = pa.array(np.ascontiguousarray(values, dtype=np.float64).view(np.int64)).dictionary_encode()
    if len(encoded.dictionary) * _DISTINCT_SHARE > len(values):
        return None
    return encoded.dictionary.to_numpy().view(np.float64).tolist(), encoded.indices


def _few_distinct(values: np.ndarray, spell: Callable[[float], str]) -> pa.Array | None:
    """Finite values as `spell` writes each, each distinct value spelt once (`_dictionary`; None where it is)."""
    found = _dictionary(values)
    if found is None:
        return None
    distinct, index = found
    return pa.array([spell(value) for value in distinct], type=pa.string()).take(index)


def fixed_lines(
    epoch_ms: np.ndarray, template: bytes, at: int, values: np.ndarray, after: bytes, spell: Callable[[float], str]
) -> bytes | None:
    """Per reading, `template` with its time written at `at` (`time_rows`, milliseconds if the template holds
    them), then its value as `spell` writes it and `after`; all readings' text in one piece. Built as rows of one
    width (each distinct value's text spelt once), viewed as strings of their own lengths and compacted by Arrow;
    for finite values of few distinct (None otherwise: the caller joins the columns instead)."""
    found = _dictionary(values) if bool(np.all(np.isfinite(values))) and len(values) else None
    if found is None:
        return None
    distinct, index = found
    texts = [spell(value).encode() + after for value in distinct]
    width = len(template) + max(map(len, texts))
    if len(values) * width >= 2**31:
        return None
    table = np.frombuffer(b"".join(t.ljust(width - len(template), b"\0") for t in texts), dtype=np.uint8)
    positions = index.to_numpy()
    rows = time_rows(epoch_ms, template + bytes(width - len(template)), at, millis=b"." in template)
    rows[:, len(template) :] = _gather(table.reshape(len(texts), -1), positions)
    # Arrow's string views: length, first four bytes, buffer 0, offset (every row is longer than 12 bytes).
    views = np.zeros((len(rows), 4), dtype=np.int32)
    views[:, 0] = len(template) + np.array([len(t) for t in texts], dtype=np.int32)[positions]
    views[:, 1] = np.ascontiguousarray(rows[:, :4]).view(np.int32)[:, 0]
    views[:, 3] = np.arange(len(rows), dtype=np.int32) * width
    text = pa.Array.from_buffers(pa.string_view(), len(rows), [None, pa.py_buffer(views), pa.py_buffer(rows)])
    compact = text.cast(pa.string())
    offsets = np.frombuffer(compact.buffers()[1], dtype=np.int32, count=len(compact) + 1, offset=compact.offset * 4)
    return bytes(memoryview(compact.buffers()[2])[offsets[0] : offsets[-1]])


def number_text(column: pa.Array | pa.ChunkedArray, spell: Callable[[float], str] = repr) -> pa.Array:
    """A numeric column as `repr` writes each value (integers as integers); null stays null. `spell` writes the
    few values outside the magnitudes where Arrow's shortest text is repr's (another writer whose plain numbers
    are repr's, such as msgspec's JSON, passes its own), and every value of a finite column of few distinct
    values (`_few_distinct`)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_integer(array.type):
        return pc.cast(array, pa.string())
    array = array.cast(pa.float64())
    values = array.to_numpy(zero_copy_only=False)
    finite = np.isfinite(values)
    if array.null_count == 0 and bool(finite.all()):
        few = _few_distinct(values, spell)
        if few is not None:
            return few
    text = pc.cast(array, pa.string())
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
    if table.num_columns == 2 and table.column(1).null_count == 0 and pa.types.is_floating(table.column(1).type):
        times = table.column(0).cast(pa.int64()).to_numpy()
        values = table.column(1).to_numpy()
        lines = fixed_lines(times, _TEMPLATE + b",", 0, values, b"\n", repr)
        if lines is not None:
            return lines
    columns = [rfc3339_ms(table.column(0).cast(pa.int64()).to_numpy())]
    columns.extend(number_text(table.column(i)) for i in range(1, table.num_columns))
    # Each line joined with a trailing separator, which then becomes the line's newline.
    joined = pc.binary_join_element_wise(*columns, pa.scalar(""), ",", null_handling="replace", null_replacement="")
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32, count=len(joined) + 1, offset=joined.offset * 4)
    data = np.frombuffer(joined.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].copy()
    data[offsets[1:] - offsets[0] - 1] = ord("\n")
    return data.tobytes()
