"""Daily-value exports: resting heart rate, daily step totals, SpO2 summaries (device values, never readings)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence

import msgspec
import numpy as np

from producers.fitbit.decode import LocatedResponse
from producers.fitbit.errors import ShapeError
from producers.fitbit.parse.readings import Readings
from producers.fitbit.shapes import DailyValue, HeartRateDaily, StepsDaily
from schemas.device_daily import DeviceDailyValue


def daily_values(responses: Sequence[LocatedResponse], zone: zoneinfo.ZoneInfo) -> Readings:
    daily: list[DeviceDailyValue] = []
    for path, response in responses:
        if isinstance(response, HeartRateDaily):
            daily.extend(
                DeviceDailyValue(date=day.date, field="resting_heart_rate", value=day.value.resting_heart_rate)
                for day in response.days
                if day.value is not None and day.value.resting_heart_rate is not None
            )
        elif isinstance(response, StepsDaily):
            for index, day in enumerate(response.days):
                daily.append(
                    DeviceDailyValue(
                        date=day.date, field="steps", value=_number(day.value, f'{path}["activities-steps"][{index}]')
                    )
                )
        else:
            assert isinstance(response, DailyValue)
            if isinstance(response.value, float | int):
                daily.append(DeviceDailyValue(date=response.date, field="steps", value=float(response.value)))
            else:
                for field in ("avg", "min", "max"):
                    value = getattr(response.value, field)
                    if value is not None:
                        daily.append(DeviceDailyValue(date=response.date, field=f"spo2_{field}", value=value))
    empty_i = np.empty(0, dtype=np.int64)
    return Readings(metric="", timestamps=empty_i, values=np.empty(0, dtype=np.float64), daily=tuple(daily))


def _number(text: str | float, path: str) -> float:
    try:
        return float(text)
    except ValueError:
        got = msgspec.json.encode(text).decode()
        raise ShapeError(f'{path}["value"]', f"expected a number, got {got}") from None
