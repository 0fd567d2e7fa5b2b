"""What every detector consumes and produces, and the interface they share."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Literal, Protocol

import msgspec

Level = Literal["yellow", "red"]
LEVELS: tuple[Level, ...] = ("yellow", "red")


class NightInput(msgspec.Struct, frozen=True, kw_only=True):
    """One participant's night, dated by the local date of its morning (07:00 local ends the night).

    `resting_hr` is the mean of the minute-mean heart rates of 00:00–06:59 local with steps = 0;
    `resting_hr_lab` the same as the lab's script computes it (each minute truncated to an integer, the mean
    truncated too); `hourly` the 24 hourly medians of the local day's resting minutes (NaN where an hour has
    none), which CuSum reads.
    """

    night: dt.date
    resting_hr: float
    resting_hr_lab: int
    minutes: int
    hourly: tuple[float, ...] = ()


class NightOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """A detector's verdict on one night: the value it judged, the baseline it judged it against, the alert.

    `filled` marks a night the detector imputed (NightSignal's faithful one-night fill); `level` is None when
    the night raises no alert.
    """

    night: dt.date
    value: float | None
    baseline: float | None
    level: Level | None = None
    filled: bool = False


class Tracker(Protocol):
    """One participant's detector state."""

    def push(self, night: NightInput) -> list[NightOutcome]:
        """Adds the next night (strictly after every night pushed so far); returns the outcomes of this night
        and of the earlier nights it revised, ascending. Raises ValueError for a night out of order."""
        ...


class Detector(Protocol):
    name: str

    def tracker(self) -> Tracker:
        """A fresh state for one participant."""
        ...

    def batch(self, nights: Iterable[NightInput]) -> list[NightOutcome]:
        """The outcomes of every night from scratch (the reference the tracker must equal)."""
        ...


def run_incremental(detector: Detector, nights: Iterable[NightInput]) -> list[NightOutcome]:
    """Every night pushed through one tracker; the last outcome per night, ascending."""
    tracker = detector.tracker()
    latest: dict[dt.date, NightOutcome] = {}
    for night in nights:
        for outcome in tracker.push(night):
            latest[outcome.night] = outcome
    return [latest[night] for night in sorted(latest)]


def check_order(last: dt.date | None, night: dt.date) -> None:
    if last is not None and night <= last:
        raise ValueError(f"nights must be pushed in ascending order: {night} after {last}")
