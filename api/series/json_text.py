"""A JSON page of raw readings built column-wise in Arrow and numpy, with no Python object per reading.

The bytes are those msgspec writes for the same `SeriesPage` with one `Point` per reading: time as RFC 3339
UTC (`2026-09-02T07:15:04Z`, or with six fractional digits when the reading is not on a whole second), the
value as msgspec writes a float (`72.0`). Readings with secondary columns (`extra`) keep the row-wise path.
"""

from __future__ import annotations

from typing import Final

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from api.series.csv_text import fixed_lines, fixed_width, number_text, time_rows
from api.series.raw import Decoded
from api.series.schemas import SeriesPage

_EMPTY_POINTS: Final = b'"points":[]'
_WHOLE: Final = b'{"time":"0000-00-00T00:00:00Z","value":'
_FRACTION: Final = b'{"time":"0000-00-00T00:00:00.000000Z","value":'
_ENCODER: Final = msgspec.json.Encoder()


def _heads(epoch_ms: np.ndarray) -> pa.Array:
    """Each point's text up to its value, `{"time":"…","value":`, the time as msgspec writes a UTC datetime:
    `…:SSZ` on whole seconds, `…:SS.ffffffZ` otherwise."""
    whole = epoch_ms % 1000 == 0
    if whole.all():
        return fixed_width(time_rows(epoch_ms, _WHOLE, 9, millis=False))
    fraction = fixed_width(time_rows(epoch_ms, _FRACTION, 9))
    if not whole.any():
        return fraction
    return pc.if_else(pa.array(whole), fixed_width(time_rows(epoch_ms, _WHOLE, 9, millis=False)), fraction)


def _spelt(value: float) -> str:
    return _ENCODER.encode(value).decode()


def _points_parts(readings: Decoded) -> list[bytes | memoryview] | None:
    """The JSON array of `points_json` as pieces to be joined (the points' text is not copied until then)."""
    if bool(np.any(readings.has_extra)):
        return None
    if not bool(np.all(np.isfinite(readings.values))):
        return None
    if len(readings) == 0:
        return [b"[]"]
    whole = readings.times % 1000 == 0
    if whole.all() or not whole.any():
        template = _WHOLE if whole.all() else _FRACTION
        lines = fixed_lines(readings.times, template, 9, readings.values, b"},", _spelt)
        if lines is not None:
            return [b"[", memoryview(lines)[:-1], b"]"]  # the last ',' dropped
    values = number_text(pa.array(readings.values, type=pa.float64()), _spelt)
    rows = pc.binary_join_element_wise(_heads(readings.times), values, pa.scalar("},"), "")
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32, count=len(rows) + 1, offset=rows.offset * 4)
    data = memoryview(rows.buffers()[2])[offsets[0] : offsets[-1] - 1]  # the last ',' dropped
    return [b"[", data, b"]"]


def points_json(readings: Decoded) -> bytes | None:
    """The readings as the JSON array of `{time, value}` points; None where some reading has secondary columns
    or a value that is not finite (the row-wise path writes those)."""
    parts = _points_parts(readings)
    return None if parts is None else b"".join(parts)


def raw_page_json(facts: SeriesPage, readings: Decoded) -> bytes | None:
    """The page `facts` (its `points` empty) with `readings` as its points, as msgspec encodes the page built
    with one `Point` per reading; None where `points_json` leaves the readings to the row-wise path."""
    parts = _points_parts(readings)
    if parts is None:
        return None
    head, found, tail = _ENCODER.encode(facts).partition(_EMPTY_POINTS)
    # A key is the only place the quoted text can stand: inside a JSON string every quote is escaped.
    assert found, "a SeriesPage encodes its points"
    return b"".join([head, b'"points":', *parts, tail])
