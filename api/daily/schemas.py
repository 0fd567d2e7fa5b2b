"""Response shapes of daily summaries."""

from __future__ import annotations

import datetime as dt

import msgspec

from api.sleep.schemas import Night


class Coverage(msgspec.Struct, frozen=True, kw_only=True):
    heart_rate: float
    steps: float
    active_zone_minutes: float


class DaySummary(msgspec.Struct, frozen=True, kw_only=True):
    date: dt.date
    day_minutes: int
    """Minutes in the local day (1,380 or 1,500 on daylight-saving changes)."""
    wear_minutes: int
    wear_pct: float
    coverage_pct: Coverage
    resting_hr: float | None
    resting_hr_minutes: int
    """Minutes the resting HR is the mean of."""
    steps: int | None
    active_zone_minutes: int | None
    sleep: Night
    uploads: int
    last_upload: dt.datetime | None
    device_reported: dict[str, float] = {}
    """The device's own daily values for this date, as reported (e.g. `steps`, `resting_heart_rate`,
    `spo2_avg`, `hrv_daily_rmssd`, `breathing_rate_full`: `schemas.device_daily.FIELDS`); empty when none."""


class DailyReport(msgspec.Struct, frozen=True, kw_only=True):
    participant_id: str
    timezone: str
    days: list[DaySummary]
