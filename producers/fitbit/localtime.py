"""The wearer's local wall-clock time → UTC epoch milliseconds, vectorised and DST-safe.

Fitbit reports every time in the wearer's local time zone without an offset. Readings are first placed on a
"wall-clock epoch" (milliseconds since 1970-01-01T00:00 local, as if the zone were UTC), then shifted by the
zone's UTC offset. Times that a DST change makes ambiguous or impossible are resolved as PEP 495 does with
`fold=0`, deterministically:
- ambiguous (clocks go back, the hour repeats): the earlier instant, i.e. the offset in force before the
  change (01:30 in New York on 2024-11-03 → 05:30Z);
- nonexistent (clocks go forward, the hour is skipped): the offset in force before the change, which moves
  the time forward by the gap (02:30 in New York on 2024-03-10 → 07:30Z, the same instant as 03:30 EDT).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Final

import numpy as np
import numpy.typing as npt

from producers.fitbit.errors import ImportArgumentError

MS_PER_SECOND: Final = 1_000
MS_PER_MINUTE: Final = 60_000
MS_PER_DAY: Final = 86_400_000
_EPOCH: Final = dt.datetime(1970, 1, 1)
_EPOCH_ORDINAL: Final = _EPOCH.toordinal()


def zone_named(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone `name` (e.g. "Europe/Berlin"); raises `ImportArgumentError` for an unknown name."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ImportArgumentError(f"unknown IANA time zone {name!r}") from None


def wall_ms_of_date(day: dt.date) -> int:
    return (day.toordinal() - _EPOCH_ORDINAL) * MS_PER_DAY


def wall_ms_of_time(time: dt.time) -> int:
    return ((time.hour * 60 + time.minute) * 60 + time.second) * MS_PER_SECOND + time.microsecond // 1000


def wall_ms_of_datetime(moment: dt.datetime) -> int:
    return wall_ms_of_date(moment.date()) + wall_ms_of_time(moment.time())


def to_utc_ms(wall_ms: npt.NDArray[np.int64], zone: zoneinfo.ZoneInfo) -> npt.NDArray[np.int64]:
    """Epoch milliseconds of wall-clock times in `zone` (see the module docstring for DST rules)."""
    if wall_ms.size == 0:
        return wall_ms.astype(np.int64)
    # Since 1972 every tzdata offset is a whole number of minutes and changes on a whole minute, so one
    # zoneinfo lookup per distinct wall-clock minute (≤ 1,440 a day) is exact and keeps 1 Hz days cheap.
    minutes, inverse = np.unique(wall_ms // MS_PER_MINUTE, return_inverse=True)
    offsets_ms = np.fromiter((_offset_ms(int(minute), zone) for minute in minutes), dtype=np.int64, count=minutes.size)
    return (wall_ms - offsets_ms[inverse.reshape(wall_ms.shape)]).astype(np.int64)


def _offset_ms(wall_minute: int, zone: zoneinfo.ZoneInfo) -> int:
    wall = (_EPOCH + dt.timedelta(minutes=wall_minute)).replace(tzinfo=zone, fold=0)
    offset = wall.utcoffset()
    assert offset is not None  # a ZoneInfo always answers an offset
    return int(offset.total_seconds() * MS_PER_SECOND)
