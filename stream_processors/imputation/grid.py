"""A participant × metric as a contiguous 1-minute grid: the series every imputation method reads.

A minute is missing (NaN) when nothing was observed in it or when it lies in a gap being filled (a `not_worn`
minute's stored steps are the device's zeros, not a measurement). Local minutes (the participant's time zone,
daylight-saving included) let methods compare the same time of day across days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

MINUTE_MS: Final = 60_000
MINUTES_PER_DAY: Final = 1440
_HOUR_MS: Final = 3_600_000

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class MinuteSeries:
    """`values[i]` is the mean of the minute starting at `start_ms + i` minutes (NaN: missing); `local[i]` that
    minute counted from the local epoch (so `local // 1440` is the local day, `local % 1440` the time of day).
    `steps`, aligned, is the participant's step count per minute where known; `low`/`high` the valid range;
    `metric` the registry's name of what `values` holds (methods that model a metric in its own way read it)."""

    start_ms: int
    values: FloatArray
    local: IntArray
    low: float
    high: float
    steps: FloatArray | None = None
    metric: str = ""

    def __post_init__(self) -> None:
        if self.start_ms % MINUTE_MS:
            raise ValueError(f"start_ms {self.start_ms} is not on a minute")
        if len(self.values) != len(self.local) or (self.steps is not None and len(self.steps) != len(self.values)):
            raise ValueError("values, local minutes and steps must have one entry per minute")

    def __len__(self) -> int:
        return len(self.values)

    def index_of(self, ms: int) -> int:
        """The grid index of the minute containing instant `ms` (may lie outside the grid)."""
        return (ms - self.start_ms) // MINUTE_MS


def local_minutes(start_ms: int, count: int, timezone: str) -> IntArray:
    """Minutes since the local epoch of `count` minutes from `start_ms` (UTC offset looked up per hour)."""
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    zone = ZoneInfo(timezone)
    first_hour = start_ms // _HOUR_MS
    hours = np.arange(first_hour, (start_ms + count * MINUTE_MS) // _HOUR_MS + 1, dtype=np.int64)
    offsets = np.array(
        [
            int(dt.datetime.fromtimestamp(int(h) * 3600, dt.UTC).astimezone(zone).utcoffset().total_seconds()) // 60  # type: ignore[union-attr]
            for h in hours
        ],
        dtype=np.int64,
    )
    utc = start_ms // MINUTE_MS + np.arange(count, dtype=np.int64)
    return utc + offsets[utc // 60 - first_hour]


def minute_grid(start_ms: int, end_ms: int, minutes_ms: IntArray, means: FloatArray) -> FloatArray:
    """Values on the grid of minutes [start_ms, end_ms) from (minute start, mean) pairs; NaN elsewhere."""
    count = (end_ms - start_ms) // MINUTE_MS
    grid = np.full(count, np.nan)
    index = (np.asarray(minutes_ms, dtype=np.int64) - start_ms) // MINUTE_MS
    inside = (index >= 0) & (index < count)
    grid[index[inside]] = np.asarray(means, dtype=np.float64)[inside]
    return grid


def day_matrix(series: MinuteSeries, values: FloatArray) -> tuple[FloatArray, int]:
    """`values` laid out as local days × 1440 minutes (NaN where the grid has no minute), and the first local
    day's number. A local minute repeated by a clock change keeps its later value."""
    first_day = int(series.local[0] // MINUTES_PER_DAY) if len(series) else 0
    days = int(series.local[-1] // MINUTES_PER_DAY) - first_day + 1 if len(series) else 0
    matrix = np.full(days * MINUTES_PER_DAY, np.nan)
    matrix[series.local - first_day * MINUTES_PER_DAY] = values
    return matrix.reshape(days, MINUTES_PER_DAY), first_day
