"""Intraday activity exports: heart rate and steps (`activities-<resource>-intraday`), active zone minutes."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence

import msgspec
import numpy as np
import numpy.typing as npt

from producers.fitbit.decode import LocatedResponse
from producers.fitbit.errors import ShapeError
from producers.fitbit.localtime import to_utc_ms, wall_ms_of_date, wall_ms_of_datetime, wall_ms_of_time
from producers.fitbit.parse.readings import Readings, cat_float64, cat_int64
from producers.fitbit.shapes import (
    METRIC_OF,
    AzmIntraday,
    DataType,
    DayDate,
    HeartDay,
    HeartRateIntraday,
    IntradayDataset,
    StepsIntraday,
)
from schemas.device_daily import DeviceDailyValue


def _intraday(responses: Sequence[LocatedResponse], zone: zoneinfo.ZoneInfo, resource: str) -> Readings:
    wall: list[npt.NDArray[np.int64]] = []
    values: list[npt.NDArray[np.float64]] = []
    daily: list[DeviceDailyValue] = []
    for path, response in responses:
        assert isinstance(response, HeartRateIntraday | StepsIntraday)
        wall.append(_dataset_wall_ms(response.days, response.intraday, path, resource))
        points = response.intraday.dataset
        values.append(np.fromiter((p.value for p in points), dtype=np.float64, count=len(points)))
        if isinstance(response, HeartRateIntraday):
            daily.extend(
                DeviceDailyValue(date=day.date, field="resting_heart_rate", value=day.value.resting_heart_rate)
                for day in response.days
                if day.value is not None and day.value.resting_heart_rate is not None
            )
    data_type = DataType.HEART_RATE if resource == "heart" else DataType.STEPS
    return Readings(
        metric=METRIC_OF[data_type],
        timestamps=to_utc_ms(cat_int64(wall), zone),
        values=cat_float64(values),
        daily=tuple(daily),
    )


def _dataset_wall_ms(
    days: Sequence[DayDate | HeartDay], intraday: IntradayDataset, path: str, resource: str
) -> npt.NDArray[np.int64]:
    summary_path = f'{path}["activities-{resource}"]'
    points = intraday.dataset
    if not points:
        return np.empty(0, dtype=np.int64)
    if not days:
        raise ShapeError(summary_path, "empty summary list: the intraday dataset has no date")
    time_ms = np.fromiter((wall_ms_of_time(p.time) for p in points), dtype=np.int64, count=len(points))
    day_index = np.zeros(time_ms.size, dtype=np.int64)
    if len(days) > 1:
        day_index[1:] = np.cumsum(np.diff(time_ms) < 0)
        if day_index[-1] >= len(days):
            first_past = int(np.argmax(day_index >= len(days)))
            raise ShapeError(
                f'{path}["activities-{resource}-intraday"]["dataset"][{first_past}]["time"]',
                f"the dataset wraps past the last of the {len(days)} dates in {summary_path}",
            )
    day_ms = np.array([wall_ms_of_date(day.date) for day in days], dtype=np.int64)
    return day_ms[day_index] + time_ms


def heart_rate(responses: Sequence[LocatedResponse], zone: zoneinfo.ZoneInfo) -> Readings:
    return _intraday(responses, zone, "heart")


def steps(responses: Sequence[LocatedResponse], zone: zoneinfo.ZoneInfo) -> Readings:
    return _intraday(responses, zone, "steps")


def active_zone_minutes(responses: Sequence[LocatedResponse], zone: zoneinfo.ZoneInfo) -> Readings:
    wall: list[int] = []
    values: list[float] = []
    for path, response in responses:
        assert isinstance(response, AzmIntraday)
        for day_index, day in enumerate(response.days):
            day_path = f'{path}["activities-active-zone-minutes-intraday"][{day_index}]'
            for minute_index, minute in enumerate(day.minutes):
                wall.append(_azm_minute_ms(minute.minute, day.date, f'{day_path}["minutes"][{minute_index}]'))
                values.append(minute.value.active_zone_minutes)
    return Readings(
        metric=METRIC_OF[DataType.ACTIVE_ZONE_MINUTES],
        timestamps=to_utc_ms(np.array(wall, dtype=np.int64), zone),
        values=np.array(values, dtype=np.float64),
    )


def _azm_minute_ms(text: str, day: dt.date, path: str) -> int:
    try:
        if "-" in text:
            moment = dt.datetime.fromisoformat(text)
            if moment.tzinfo is None:
                return wall_ms_of_datetime(moment)
        else:
            time = dt.time.fromisoformat(text)
            return wall_ms_of_date(day) + wall_ms_of_time(time)
    except ValueError:
        pass
    got = msgspec.json.encode(text).decode()
    expected = "a time of day (HH:MM:SS) or a local date-time (YYYY-MM-DDTHH:MM:SS)"
    raise ShapeError(f'{path}["minute"]', f"expected {expected}, got {got}")
