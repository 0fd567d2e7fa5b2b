"""Typed shapes of the Fitbit Web API responses that the importer reads (msgspec Structs, decode-only).

Only the fields the importer uses are declared; msgspec skips the others (zones, summaries, pagination), so
decoding stays fast and a response with extra fields is still accepted. Times are the wearer's local wall
clock without offset (`Meta(tz=False)` rejects an offset rather than silently mixing clocks).
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, Final, Literal, TypeAlias

import msgspec

LocalTime: TypeAlias = Annotated[dt.time, msgspec.Meta(tz=False)]
LocalDateTime: TypeAlias = Annotated[dt.datetime, msgspec.Meta(tz=False)]
Seconds: TypeAlias = Annotated[int, msgspec.Meta(ge=0)]


class DataType(enum.StrEnum):
    """What a file holds, detected from its content; each maps to one metric of the registry."""

    HEART_RATE = "heart_rate"
    STEPS = "steps"
    ACTIVE_ZONE_MINUTES = "active_zone_minutes"
    SPO2 = "spo2"
    HRV = "hrv"
    BREATHING_RATE = "breathing_rate"
    SLEEP = "sleep"
    DAILY = "daily"
    """Device-reported daily values only (e.g. wearipedia's `intraday_activity` step totals): no readings."""


METRIC_OF: Final[dict[DataType, str]] = {
    DataType.HEART_RATE: "heart_rate",
    DataType.STEPS: "steps",
    DataType.ACTIVE_ZONE_MINUTES: "active_zone_minutes",
    DataType.SPO2: "spo2",
    DataType.HRV: "hrv_rmssd",
    DataType.BREATHING_RATE: "breathing_rate",
    DataType.SLEEP: "sleep_stage",
}


class Shape(msgspec.Struct, frozen=True):
    """Base of the decoded response shapes."""


# --- heart rate and steps: activities/<resource>/date/<date>/1d/<detail>.json --------------------------


class DayDate(Shape, frozen=True, rename={"date": "dateTime"}):
    date: dt.date


class HeartDayValue(Shape, frozen=True, rename="camel"):
    resting_heart_rate: float | None = None
    """The device's daily resting heart rate (absent on days it could not compute one)."""


class HeartDay(Shape, frozen=True, rename={"date": "dateTime"}):
    date: dt.date
    value: HeartDayValue | None = None


class DatasetPoint(Shape, frozen=True):
    time: LocalTime
    value: float


class IntradayDataset(Shape, frozen=True):
    dataset: list[DatasetPoint]


class HeartRateIntraday(
    Shape, frozen=True, rename={"days": "activities-heart", "intraday": "activities-heart-intraday"}
):
    days: list[HeartDay]
    intraday: IntradayDataset


class WearipediaHeartRateDay(Shape, frozen=True):
    """wearipedia's `intraday_heart_rate` element: one day's response wrapped in a one-element list."""

    heart_rate_day: list[HeartRateIntraday]


class StepsIntraday(Shape, frozen=True, rename={"days": "activities-steps", "intraday": "activities-steps-intraday"}):
    days: list[DayDate]
    intraday: IntradayDataset


# --- active zone minutes: activities/active-zone-minutes/date/<date>/1d/1min.json ---------------------


class AzmValue(Shape, frozen=True, rename="camel"):
    active_zone_minutes: float
    """Already weighted by Fitbit: 1 per fat-burn minute, 2 per cardio or peak minute."""


class AzmMinute(Shape, frozen=True):
    minute: str
    """`YYYY-MM-DDTHH:MM:SS` from the Web API, `HH:MM:SS` from wearipedia; parsed by the importer."""
    value: AzmValue


class AzmDay(Shape, frozen=True, rename={"date": "dateTime"}):
    date: dt.date
    minutes: list[AzmMinute]


class AzmIntraday(Shape, frozen=True, rename={"days": "activities-active-zone-minutes-intraday"}):
    days: list[AzmDay]


# --- SpO2: spo2/date/<date>/all.json (an object; the interval endpoint answers a list of them) --------


class Spo2Minute(Shape, frozen=True):
    value: float
    minute: LocalDateTime


class Spo2Day(Shape, frozen=True):
    minutes: list[Spo2Minute]


# --- HRV: hrv/date/<date>/all.json --------------------------------------------------------------------


class HrvValue(Shape, frozen=True):
    rmssd: float
    coverage: float
    hf: float
    lf: float


class HrvMinute(Shape, frozen=True):
    minute: LocalDateTime
    value: HrvValue


class HrvDailyValue(Shape, frozen=True, rename="camel"):
    daily_rmssd: float | None = None
    deep_rmssd: float | None = None


class HrvDay(Shape, frozen=True, rename={"date": "dateTime"}):
    minutes: list[HrvMinute] = []
    """Intraday (`hrv/date/<date>/all.json`); the summary endpoint has `value` instead."""
    date: dt.date | None = None
    value: HrvDailyValue | None = None


class HrvIntraday(Shape, frozen=True):
    hrv: list[HrvDay]


# --- breathing rate: br/date/<date>/all.json (per stage) or br/date/<date>.json (full night) ---------


class StageBreathingRate(Shape, frozen=True, rename="camel"):
    breathing_rate: float


class BreathingRateValue(Shape, frozen=True, rename="camel"):
    deep_sleep_summary: StageBreathingRate | None = None
    rem_sleep_summary: StageBreathingRate | None = None
    light_sleep_summary: StageBreathingRate | None = None
    full_sleep_summary: StageBreathingRate | None = None
    breathing_rate: float | None = None
    """The summary endpoint's single full-night value."""


class BreathingRateDay(Shape, frozen=True, rename={"date": "dateTime"}):
    date: dt.date
    value: BreathingRateValue


class BreathingRate(Shape, frozen=True):
    br: list[BreathingRateDay]


# --- daily summaries: wearipedia `intraday_activity` elements, Web API `activities-steps`, SpO2 summary ---


class Spo2DailyValue(Shape, frozen=True):
    avg: float | None = None
    min: float | None = None
    max: float | None = None


class DailyValue(Shape, frozen=True, rename={"date": "dateTime"}):
    """`{"dateTime", "value"}`: a number is a daily step total (wearipedia's `intraday_activity`); an object
    with avg/min/max is the SpO2 summary endpoint (`spo2/date/<date>.json`)."""

    date: dt.date
    value: float | Spo2DailyValue


class StepsDay(Shape, frozen=True, rename={"date": "dateTime"}):
    date: dt.date
    value: str | float
    """The Web API sends the total as a string ("3450")."""


class StepsDaily(Shape, frozen=True, rename={"days": "activities-steps"}):
    days: list[StepsDay]


class HeartRateDaily(Shape, frozen=True, rename={"days": "activities-heart"}):
    """`activities/heart/date/<date>/1d.json` without intraday detail: the daily resting heart rate."""

    days: list[HeartDay]


# --- sleep logs v1.2: 1.2/user/-/sleep/date/<date>[/<end-date>].json ----------------------------------

SleepLevel: TypeAlias = Literal["wake", "light", "deep", "rem", "awake", "restless", "asleep"]


class SleepSegment(Shape, frozen=True, rename={"start": "dateTime"}):
    start: LocalDateTime
    level: SleepLevel
    seconds: Seconds


class SleepLevels(Shape, frozen=True, rename="camel"):
    data: list[SleepSegment]
    short_data: list[SleepSegment] = []
    """Short wakes (stages logs only), laid over `data`."""


class SleepLog(Shape, frozen=True, rename="camel"):
    log_id: int
    date_of_sleep: dt.date
    start_time: LocalDateTime
    end_time: LocalDateTime
    type: Literal["stages", "classic"]
    levels: SleepLevels


class SleepLogs(Shape, frozen=True):
    sleep: list[SleepLog]


# The shape to decode each detected response kind with; see `detect.py` for how a kind is recognised.
ResponseShape: TypeAlias = (
    HeartRateIntraday
    | WearipediaHeartRateDay
    | StepsIntraday
    | AzmIntraday
    | Spo2Day
    | HrvIntraday
    | BreathingRate
    | SleepLogs
    | DailyValue
    | StepsDaily
    | HeartRateDaily
)
