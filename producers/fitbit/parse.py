"""Typed responses → per-metric columns (UTC epoch ms, values as float64, extra columns), one per file.

Pure functions: no I/O, no batching. One reading per intraday entry, in file order (duplicates and ordering
are the importer's job). Rules that are not obvious from the shapes:
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

import datetime as dt
import zoneinfo
from collections.abc import Callable, Sequence
from typing import Final

import msgspec
import numpy as np
import numpy.typing as npt

from producers.fitbit.decode import LocatedResponse
from producers.fitbit.errors import ShapeError
from producers.fitbit.localtime import to_utc_ms, wall_ms_of_date, wall_ms_of_datetime, wall_ms_of_time
from producers.fitbit.shapes import (
    METRIC_OF,
    AzmIntraday,
    BreathingRate,
    DailyValue,
    DataType,
    DayDate,
    HeartDay,
    HeartRateDaily,
    HeartRateIntraday,
    HrvIntraday,
    IntradayDataset,
    SleepLogs,
    Spo2Day,
    StageBreathingRate,
    StepsDaily,
    StepsIntraday,
)
from producers.fitbit.sleep import sleep_epochs
from schemas.device_daily import DeviceDailyValue
from schemas.metrics import SleepStage

FULL_NIGHT_STAGE: Final = -1


class Readings(msgspec.Struct, frozen=True, kw_only=True):
    """One metric's readings from one file, in file order; `timestamps` are UTC epoch ms."""

    metric: str
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    extra: dict[str, npt.NDArray[np.float64]] = {}
    daily: tuple[DeviceDailyValue, ...] = ()
    """Daily values the device reported in the same responses (stored as such, beside the readings)."""

    def __len__(self) -> int:
        return int(self.timestamps.size)


def parse_responses(data_type: DataType, responses: Sequence[LocatedResponse], zone: zoneinfo.ZoneInfo) -> Readings:
    """All readings of a file's responses; raises `ShapeError` for a semantic problem (e.g. a bad time)."""
    return _PARSERS[data_type](responses, zone)


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
        metric=METRIC_OF[data_type], timestamps=to_utc_ms(_cat(wall), zone), values=_catf(values), daily=tuple(daily)
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


def _heart_rate(responses: Sequence[LocatedResponse], zone: zoneinfo.ZoneInfo) -> Readings:
    return _intraday(responses, zone, "heart")


def _steps(responses: Sequence[LocatedResponse], zone: zoneinfo.ZoneInfo) -> Readings:
    return _intraday(responses, zone, "steps")


def _active_zone_minutes(responses: Sequence[LocatedResponse], zone: zoneinfo.ZoneInfo) -> Readings:
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


def _spo2(responses: Sequence[LocatedResponse], zone: zoneinfo.ZoneInfo) -> Readings:
    wall: list[int] = []
    values: list[float] = []
    for _, response in responses:
        assert isinstance(response, Spo2Day)
        wall.extend(wall_ms_of_datetime(minute.minute) for minute in response.minutes)
        values.extend(minute.value for minute in response.minutes)
    return Readings(
        metric=METRIC_OF[DataType.SPO2],
        timestamps=to_utc_ms(np.array(wall, dtype=np.int64), zone),
        values=np.array(values, dtype=np.float64),
    )


def _hrv(responses: Sequence[LocatedResponse], zone: zoneinfo.ZoneInfo) -> Readings:
    wall: list[int] = []
    columns: dict[str, list[float]] = {"rmssd": [], "coverage": [], "lf": [], "hf": []}
    daily: list[DeviceDailyValue] = []
    for _, response in responses:
        assert isinstance(response, HrvIntraday)
        for day in response.hrv:
            if day.value is not None and day.date is not None:
                for field, value in (
                    ("hrv_daily_rmssd", day.value.daily_rmssd),
                    ("hrv_deep_rmssd", day.value.deep_rmssd),
                ):
                    if value is not None:
                        daily.append(DeviceDailyValue(date=day.date, field=field, value=value))
            for minute in day.minutes:
                wall.append(wall_ms_of_datetime(minute.minute))
                for name, column in columns.items():
                    column.append(getattr(minute.value, name))
    return Readings(
        metric=METRIC_OF[DataType.HRV],
        timestamps=to_utc_ms(np.array(wall, dtype=np.int64), zone),
        values=np.array(columns.pop("rmssd"), dtype=np.float64),
        extra={name: np.array(column, dtype=np.float64) for name, column in columns.items()},
        daily=tuple(daily),
    )


def _breathing_rate(responses: Sequence[LocatedResponse], zone: zoneinfo.ZoneInfo) -> Readings:
    wall: list[int] = []
    values: list[float] = []
    stages: list[int] = []
    daily: list[DeviceDailyValue] = []
    for path, response in responses:
        assert isinstance(response, BreathingRate)
        for day_index, day in enumerate(response.br):
            summary = day.value
            full = summary.full_sleep_summary
            if full is None and summary.breathing_rate is not None:
                full = StageBreathingRate(breathing_rate=summary.breathing_rate)
            per_stage: list[tuple[int, StageBreathingRate | None]] = [
                (FULL_NIGHT_STAGE, full),
                (SleepStage.LIGHT, summary.light_sleep_summary),
                (SleepStage.DEEP, summary.deep_sleep_summary),
                (SleepStage.REM, summary.rem_sleep_summary),
            ]
            present = [(stage, rate.breathing_rate) for stage, rate in per_stage if rate is not None]
            if not present:
                raise ShapeError(
                    f'{path}["br"][{day_index}]["value"]',
                    "no breathing rate: expected fullSleepSummary, deep/light/remSleepSummary or breathingRate",
                )
            midnight = wall_ms_of_date(day.date)
            for stage, rate in present:
                wall.append(midnight + _STAGE_OFFSET_MS[stage])
                values.append(rate)
                stages.append(stage)
                field = f"breathing_rate_{_STAGE_FIELDS[stage]}"
                daily.append(DeviceDailyValue(date=day.date, field=field, value=rate))
    return Readings(
        metric=METRIC_OF[DataType.BREATHING_RATE],
        timestamps=to_utc_ms(np.array(wall, dtype=np.int64), zone),
        values=np.array(values, dtype=np.float64),
        extra={"stage": np.array(stages, dtype=np.float64)},
        daily=tuple(daily),
    )


_STAGE_OFFSET_MS: Final = {FULL_NIGHT_STAGE: 0, SleepStage.LIGHT: 1, SleepStage.DEEP: 2, SleepStage.REM: 3}
_STAGE_FIELDS: Final = {
    FULL_NIGHT_STAGE: "full",
    SleepStage.LIGHT: "light",
    SleepStage.DEEP: "deep",
    SleepStage.REM: "rem",
}


def _daily(responses: Sequence[LocatedResponse], zone: zoneinfo.ZoneInfo) -> Readings:
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


def _sleep(responses: Sequence[LocatedResponse], zone: zoneinfo.ZoneInfo) -> Readings:
    timestamps: list[npt.NDArray[np.int64]] = []
    stages: list[npt.NDArray[np.int8]] = []
    for path, response in responses:
        assert isinstance(response, SleepLogs)
        for log_index, log in enumerate(response.sleep):
            log_timestamps, log_stages = sleep_epochs(log, zone, f'{path}["sleep"][{log_index}]')
            timestamps.append(log_timestamps)
            stages.append(log_stages)
    return Readings(
        metric=METRIC_OF[DataType.SLEEP],
        timestamps=_cat(timestamps),
        values=np.concatenate(stages).astype(np.float64) if stages else np.empty(0, dtype=np.float64),
    )


def _cat(arrays: list[npt.NDArray[np.int64]]) -> npt.NDArray[np.int64]:
    return np.concatenate(arrays) if arrays else np.empty(0, dtype=np.int64)


def _catf(arrays: list[npt.NDArray[np.float64]]) -> npt.NDArray[np.float64]:
    return np.concatenate(arrays) if arrays else np.empty(0, dtype=np.float64)


_PARSERS: Final[dict[DataType, Callable[[Sequence[LocatedResponse], zoneinfo.ZoneInfo], Readings]]] = {
    DataType.HEART_RATE: _heart_rate,
    DataType.STEPS: _steps,
    DataType.ACTIVE_ZONE_MINUTES: _active_zone_minutes,
    DataType.SPO2: _spo2,
    DataType.HRV: _hrv,
    DataType.BREATHING_RATE: _breathing_rate,
    DataType.SLEEP: _sleep,
    DataType.DAILY: _daily,
}
