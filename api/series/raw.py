"""Raw readings straight from the stored segments, decoded with numpy: for the API's raw pages and the export.

Each segment's `ts_delta`, `value_delta` / `value_f8` and `extra` arrive in PostgreSQL's binary array format
(`array_send`), become numpy arrays without a Python object per reading, and are decoded as
`stream_processors.segments` decodes them. This gives what `raw_readings()` gives in SQL — the readings of
[low, high) ordered by time and value, bit for bit — at a fraction of its cost: the SQL function unpacks every
reading through a window function (about 5 µs a reading), numpy in well under one.
"""

from __future__ import annotations

from typing import Final

import asyncpg
import numpy as np
import numpy.typing as npt

from schemas.metrics import METRIC_IDS, Metric
from schemas.readings import exact_float64
from stream_processors.segments import decode_values

_COLUMNS: Final = (
    "ts_to_ms(start_time) AS start_ms, array_send(ts_delta) AS ts, array_send(value_delta) AS dv,"
    " value_scale, array_send(value_f8) AS f8, array_send(extra) AS extra"
)
SEGMENTS_STARTING: Final = f"""
SELECT {_COLUMNS} FROM raw_segments
WHERE participant_id = $1 AND metric_id = $2 AND start_time >= ms_to_ts($3) AND start_time < ms_to_ts($4)
ORDER BY start_time
"""
"""The segments starting in [$3, $4): whole UTC days of them split no segment (none spans two days)."""
SEGMENTS_OVERLAPPING: Final = f"""
SELECT {_COLUMNS} FROM raw_segments
WHERE participant_id = $1 AND metric_id = $2 AND start_time >= date_trunc('day', ms_to_ts($3), 'UTC')
  AND start_time < ms_to_ts($4) AND end_time >= ms_to_ts($3)
ORDER BY start_time
"""
"""The segments holding readings in [$3, $4) (the bounds `raw_readings()` uses)."""
INT4: Final = np.dtype([("length", ">i4"), ("value", ">i4")])
FLOAT4: Final = np.dtype([("length", ">i4"), ("value", ">f4")])
FLOAT8: Final = np.dtype([("length", ">i4"), ("value", ">f8")])


def elements(data: bytes | None, dtype: np.dtype[np.void]) -> npt.NDArray[np.generic] | None:
    """The elements of a one-dimensional array without NULLs in PostgreSQL's binary format."""
    if data is None:
        return None
    dimensions = int.from_bytes(data[0:4], "big")
    if dimensions == 0:
        return np.empty(0, dtype=dtype["value"].newbyteorder("="))
    values: npt.NDArray[np.generic] = np.frombuffer(data, dtype=dtype, offset=20)["value"]
    return values


class Decoded:
    """Readings: times (epoch ms), values, the extra columns (float32 as sent, NaN where a segment has none)
    and, per reading, whether its segment carried extra columns."""

    def __init__(
        self,
        times: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
        extra: list[np.ndarray],
        has_extra: npt.NDArray[np.bool_] | None = None,
    ) -> None:
        self.times, self.values, self.extra = times, values, extra
        self.has_extra = has_extra if has_extra is not None else np.zeros(len(times), dtype=bool)

    @staticmethod
    def empty(width: int) -> Decoded:
        return Decoded(np.empty(0, np.int64), np.empty(0, np.float64), [np.empty(0, np.float32)] * width)

    def __len__(self) -> int:
        return len(self.times)

    def select(self, index: npt.NDArray[np.intp] | slice) -> Decoded:
        """The readings at `index` (positions, or a slice)."""
        return Decoded(self.times[index], self.values[index], [c[index] for c in self.extra], self.has_extra[index])

    def extra_float64(self) -> list[npt.NDArray[np.float64]]:
        """The extra columns as float64 without changing any number (`schemas.readings.exact_float64`)."""
        return [exact_float64(column) for column in self.extra]


def concatenate(parts: list[Decoded], width: int) -> Decoded:
    """The readings of `parts`, one after the other; `width` extra columns."""
    if not parts:
        return Decoded.empty(width)
    if len(parts) == 1:
        return parts[0]
    return Decoded(
        np.concatenate([p.times for p in parts]),
        np.concatenate([p.values for p in parts]),
        [np.concatenate([p.extra[k] for p in parts]) for k in range(width)],
        np.concatenate([p.has_extra for p in parts]),
    )


def decode_segments(rows: list[asyncpg.Record], scale: int, width: int) -> Decoded:
    """Every reading of `rows` (segments), unsorted; `width` extra columns per reading."""
    times, values, extras, present = [], [], [], []
    for row in rows:
        deltas = elements(row["ts"], INT4)
        assert deltas is not None
        times.append(row["start_ms"] + np.cumsum(deltas, dtype=np.int64))
        value_f8 = elements(row["f8"], FLOAT8)
        if value_f8 is not None:
            values.append(value_f8.astype(np.float64))
        else:
            value_delta = elements(row["dv"], INT4)
            assert value_delta is not None
            values.append(decode_values(value_delta, row["value_scale"], None, scale))  # type: ignore[arg-type]
        if width:
            extra = elements(row["extra"], FLOAT4)
            extras.append(
                np.full((len(deltas), width), np.nan, np.float32) if extra is None else extra.reshape(-1, width)
            )
            present.append(np.full(len(deltas), extra is not None))
    if not times:
        return Decoded.empty(width)
    stacked = np.concatenate(extras).astype(np.float32) if width else None
    extra_columns = [stacked[:, k] for k in range(width)] if stacked is not None else []
    has_extra = np.concatenate(present) if width else None
    return Decoded(np.concatenate(times), np.concatenate(values), extra_columns, has_extra)


def in_order(decoded: Decoded, low_ms: int, high_ms: int) -> Decoded:
    """The readings in [low_ms, high_ms), ordered by time and value (as `raw_readings()` orders them).
    Segments of one upload stream, fetched in start order, usually hold strictly increasing times: then the
    order is the one they came in, and the window a slice of it."""
    times = decoded.times
    if len(times) < 2 or bool(np.all(times[1:] > times[:-1])):
        low, high = np.searchsorted(times, [low_ms, high_ms]).tolist()
        return decoded.select(slice(low, high))
    keep = np.flatnonzero((decoded.times >= low_ms) & (decoded.times < high_ms))
    order = np.lexsort((decoded.values[keep], decoded.times[keep]))
    return decoded.select(keep[order])


async def read_window(
    connection: asyncpg.Pool | asyncpg.Connection, participant_id: str, metric: Metric, low_ms: int, high_ms: int
) -> Decoded:
    """The readings of [low_ms, high_ms), ordered by time and value."""
    rows = await connection.fetch(SEGMENTS_OVERLAPPING, participant_id, METRIC_IDS[metric.name], low_ms, high_ms)
    return in_order(decode_segments(rows, metric.scale, len(metric.extra_columns)), low_ms, high_ms)
