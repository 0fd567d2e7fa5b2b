"""Night exports: SpO2 and HRV intervals, breathing rate per sleep stage, sleep logs."""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from producers.fitbit.decode import LocatedResponse
from producers.fitbit.errors import ShapeError
from producers.fitbit.localtime import to_utc_ms, wall_ms_of_date, wall_ms_of_datetime
from producers.fitbit.parse.readings import Readings, cat_int64
from producers.fitbit.shapes import (
    METRIC_OF,
    BreathingRate,
    DataType,
    HrvIntraday,
    SleepLogs,
    Spo2Day,
    StageBreathingRate,
)
from producers.fitbit.sleep import sleep_epochs
from schemas.device_daily import DeviceDailyValue
from schemas.metrics import SleepStage

FULL_NIGHT_STAGE: Final = -1


def spo2(responses: Sequence[LocatedResponse], zone: zoneinfo.ZoneInfo) -> Readings:
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


def hrv(responses: Sequence[LocatedResponse], zone: zoneinfo.ZoneInfo) -> Readings:
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


def breathing_rate(responses: Sequence[LocatedResponse], zone: zoneinfo.ZoneInfo) -> Readings:
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


def sleep(responses: Sequence[LocatedResponse], zone: zoneinfo.ZoneInfo) -> Readings:
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
        timestamps=cat_int64(timestamps),
        values=np.concatenate(stages).astype(np.float64) if stages else np.empty(0, dtype=np.float64),
    )
