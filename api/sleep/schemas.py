"""Response shapes of sleep."""

from __future__ import annotations

import datetime as dt

import msgspec


class StageMinutes(msgspec.Struct, frozen=True, kw_only=True):
    wake: float
    light: float
    deep: float
    rem: float


class Night(msgspec.Struct, frozen=True, kw_only=True):
    date: dt.date
    """The sleep date: the local date the night ends on."""
    window_start: dt.datetime
    window_end: dt.datetime
    has_sleep: bool
    stage_minutes: StageMinutes | None
    minutes_in_bed: float | None
    minutes_asleep: float | None
    efficiency_pct: float | None
    onset: dt.datetime | None
    offset: dt.datetime | None
    spo2_mean: float | None
    spo2_min: float | None
    hrv_rmssd_mean: float | None
    breathing_rate: float | None


class SleepReport(msgspec.Struct, frozen=True, kw_only=True):
    participant_id: str
    timezone: str
    nights: list[Night]
