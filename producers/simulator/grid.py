"""The time grid of a simulated UTC day, local clock time, and the array types the simulator passes around.

Day `d` of a replay is the UTC day [start + d, start + d + 1); every per-minute array of a day has
`MINUTES_PER_DAY` entries, every per-epoch array `EPOCHS_PER_DAY` (30 s sleep epochs), starting at 00:00 UTC.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

SECOND_MS: Final = 1_000
EPOCH_MS: Final = 30_000
MINUTE_MS: Final = 60_000
HOUR_MS: Final = 3_600_000
DAY_MS: Final = 86_400_000
SECONDS_PER_DAY: Final = 86_400
MINUTES_PER_DAY: Final = 1_440
EPOCHS_PER_DAY: Final = 2_880

_EPOCH_DATE: Final = dt.date(1970, 1, 1)


def utc_midnight_ms(date: dt.date) -> int:
    return (date - _EPOCH_DATE).days * DAY_MS


def day_start_ms(start: dt.date, day: int) -> int:
    """Epoch milliseconds of 00:00 UTC of replay day `day` (day 0 is `start`)."""
    return utc_midnight_ms(start) + day * DAY_MS


@functools.lru_cache(maxsize=65_536)
def local_midnight_ms(timezone: str, date: dt.date) -> int:
    """Epoch milliseconds of 00:00 local time of `date` in the IANA zone `timezone`."""
    midnight = dt.datetime.combine(date, dt.time(0), tzinfo=ZoneInfo(timezone))
    return int(midnight.timestamp()) * SECOND_MS


@functools.lru_cache(maxsize=16_384)
def local_hour_of_minute(timezone: str, day_start: int) -> FloatArray:
    """Local clock hour [0, 24) at each minute of the UTC day starting at `day_start` (read-only array).

    The UTC offset is looked up once per UTC hour: every zone the simulator uses changes offset on a whole
    UTC hour, so this is exact across daylight-saving transitions.
    """
    zone = ZoneInfo(timezone)
    base = dt.datetime.fromtimestamp(day_start // SECOND_MS, tz=dt.UTC)
    offsets_s = np.array(
        [zone.utcoffset(base + dt.timedelta(hours=h)).total_seconds() for h in range(24)],  # type: ignore[union-attr]
        dtype=np.float64,
    )
    seconds = np.arange(MINUTES_PER_DAY, dtype=np.float64) * 60.0 + np.repeat(offsets_s, 60)
    hours: FloatArray = np.mod(seconds, float(SECONDS_PER_DAY)) / 3600.0
    hours.flags.writeable = False
    return hours


def minute_index(timestamp_ms: int, day_start: int) -> int:
    """Index of the minute containing `timestamp_ms`, clipped to [0, MINUTES_PER_DAY]."""
    return min(max((timestamp_ms - day_start) // MINUTE_MS, 0), MINUTES_PER_DAY)


def minute_index_ceil(timestamp_ms: int, day_start: int) -> int:
    """Index of the first minute starting at or after `timestamp_ms`, clipped to [0, MINUTES_PER_DAY]."""
    return min(max(-((day_start - timestamp_ms) // MINUTE_MS), 0), MINUTES_PER_DAY)
