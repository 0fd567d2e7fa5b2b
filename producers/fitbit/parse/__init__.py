"""Typed responses → per-metric columns (UTC epoch ms, values as float64, extra columns), one per file.

Pure functions: no I/O, no batching; one module per export family (`activity.py`: heart rate, steps, active
zone minutes; `night.py`: SpO2, HRV, breathing rate, sleep; `daily.py`: the device's daily values). One
reading per intraday entry, in file order (duplicates and ordering are the importer's job).
Rules that are not obvious from the shapes:
- heart rate / steps: `dataset[].time` is a bare time of the summary's `dateTime`; when the summary lists
  several days (a range request), a time earlier than its predecessor starts the next listed day;
- active zone minutes: `value.activeZoneMinutes` as Fitbit reports it (1 fat-burn, 2 cardio or peak);
  `minute` is a bare time of the day's `dateTime` (wearipedia) or a full local date-time (Web API);
- breathing rate: one reading per stage summary present, stamped at local midnight starting `dateTime` (the
  date the night ends on, per Fitbit) + 0 / 1 / 2 / 3 ms for the full night / light / deep / rem (one
  timestamp per reading, as the simulator stamps a night's stages), with the `stage` column: a SleepStage
  code, -1 for the full night;
  the summary endpoint's bare `value.breathingRate` is a full-night reading;
- sleep: see `producers.fitbit.sleep`;
- device-reported daily values (`Readings.daily`, never readings): `activities-heart[].value.restingHeartRate`,
  the breathing-rate summaries per stage, HRV `value.dailyRmssd` / `deepRmssd`, SpO2 `value.avg/min/max`,
  and daily step totals (wearipedia's `intraday_activity`, Web API `activities-steps` without intraday).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Sequence
from typing import Final

from producers.fitbit.decode import LocatedResponse
from producers.fitbit.parse.activity import active_zone_minutes, heart_rate, steps
from producers.fitbit.parse.daily import daily_values
from producers.fitbit.parse.night import breathing_rate, hrv, sleep, spo2
from producers.fitbit.parse.readings import Readings
from producers.fitbit.shapes import DataType

__all__ = ["Readings", "parse_responses"]


def parse_responses(data_type: DataType, responses: Sequence[LocatedResponse], zone: zoneinfo.ZoneInfo) -> Readings:
    """All readings of a file's responses; raises `ShapeError` for a semantic problem (e.g. a bad time)."""
    return _PARSERS[data_type](responses, zone)


_PARSERS: Final[dict[DataType, Callable[[Sequence[LocatedResponse], zoneinfo.ZoneInfo], Readings]]] = {
    DataType.HEART_RATE: heart_rate,
    DataType.STEPS: steps,
    DataType.ACTIVE_ZONE_MINUTES: active_zone_minutes,
    DataType.SPO2: spo2,
    DataType.HRV: hrv,
    DataType.BREATHING_RATE: breathing_rate,
    DataType.SLEEP: sleep,
    DataType.DAILY: daily_values,
}
