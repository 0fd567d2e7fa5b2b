"""Response shapes of adherence."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

Flag = Literal["not_authorised", "no_recent_upload", "low_wear", "low_sleep_data"]
FLAGS: tuple[Flag, ...] = ("not_authorised", "no_recent_upload", "low_wear", "low_sleep_data")


class Thresholds(msgspec.Struct, frozen=True, kw_only=True):
    min_wear_pct: float
    max_upload_age_h: float
    min_sleep_pct: float


class AdherenceDay(msgspec.Struct, frozen=True, kw_only=True):
    date: dt.date
    worn_minutes: int
    day_minutes: int
    wear_pct: float
    sleep: bool
    """The night ending this morning (previous 12:00 → 12:00) has sleep data."""


class ParticipantAdherence(msgspec.Struct, frozen=True, kw_only=True):
    participant_id: str
    timezone: str
    enrolled_on: dt.date
    authorisation: str
    days: int
    """Dates of the window on or after enrolment."""
    wear_pct: float | None
    nights_with_sleep: int
    sleep_pct: float | None
    last_upload: dt.datetime | None
    hours_since_last_upload: float | None
    flags: list[Flag]
    daily: list[AdherenceDay] = []
    last_import: dt.datetime | None = None
    """Latest `wearstream import` at or before `as_of` (imported data is not a device upload: it never sets
    `last_upload`)."""


class AdherenceReport(msgspec.Struct, frozen=True, kw_only=True):
    start: dt.date
    end: dt.date
    """Exclusive."""
    as_of: dt.datetime
    thresholds: Thresholds
    items: list[ParticipantAdherence]
