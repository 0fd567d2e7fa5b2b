"""Response shapes of alerts and nights."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

AlertLevel = Literal["yellow", "red"]
DetectorName = Literal["nightsignal", "cusum"]
AlertState = Literal["raised", "upgraded", "downgraded", "withdrawn"]


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    participant_id: str
    detector: str
    level: AlertLevel
    night: dt.date
    """The local date of the morning (07:00 local) the night ends."""
    value: float | None
    baseline: float | None
    state: AlertState
    """A withdrawn alert keeps the level it had."""
    created_at: dt.datetime
    updated_at: dt.datetime


class AlertPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Alert]
    next_cursor: str | None


class NightVerdict(msgspec.Struct, frozen=True, kw_only=True):
    detector: str
    value: float | None
    baseline: float | None
    level: AlertLevel | None
    filled: bool


class Night(msgspec.Struct, frozen=True, kw_only=True):
    night: dt.date
    resting_hr: float | None
    """NightSignal's value: mean minute HR over 00:00–06:59 local with steps = 0 (null for a filled night)."""
    minutes: int
    detectors: list[NightVerdict]


class NightPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Night]
    next_cursor: str | None = None
