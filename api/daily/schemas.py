"""Response shapes of daily summaries."""

from __future__ import annotations

import datetime as dt

import msgspec

from api.series.schemas import Imputed
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
    imputed_minutes: dict[str, int] = {}
    """`imputed=include|only`: per metric, the minutes of this local date the report's imputation run imputed
    (the other fields stay observed data); empty with `exclude` or when the run imputed none."""


class DailyReport(msgspec.Struct, frozen=True, kw_only=True):
    participant_id: str
    timezone: str
    days: list[DaySummary]
    imputed: Imputed = "exclude"
    imputation_run: str | None = None
    """The run `imputed_minutes` counts (null with `exclude`, or when no complete run covers the participant)."""
