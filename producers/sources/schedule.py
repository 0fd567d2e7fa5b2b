"""When the runner pulls: every N minutes, or daily at a local time in each participant's own zone (the study
protocol's 01:00, after the night's data has synced). Pure functions of the clock, for the runner and tests."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Every:
    """A pull every `interval_s` seconds, counted from the previous pull's start."""

    interval_s: float


@dataclass(frozen=True, slots=True)
class DailyAt:
    """A pull once a day when the participant's local clock reads `local_time`."""

    local_time: dt.time


Schedule = Every | DailyAt

_DURATION = re.compile(r"^(\d+)\s*([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_every(text: str) -> Every:
    """`15m`, `30s`, `2h`, `1d` → Every; ValueError naming the accepted form otherwise."""
    match = _DURATION.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"{text!r}: expected a positive duration such as 30s, 15m, 2h or 1d")
    return Every(int(match.group(1)) * _UNIT_S[match.group(2)])


def parse_daily_at(text: str) -> DailyAt:
    """`01:00` → DailyAt; ValueError otherwise."""
    try:
        return DailyAt(dt.time.fromisoformat(text.strip()))
    except ValueError:
        raise ValueError(f"{text!r}: expected a local time HH:MM such as 01:00") from None


def next_every(schedule: Every, *, last_start: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """Now if never pulled (or overdue), else `interval_s` after the previous pull's start."""
    if last_start is None:
        return now
    return max(now, last_start + dt.timedelta(seconds=schedule.interval_s))


def next_daily(schedule: DailyAt, *, timezone: str, after: dt.datetime) -> dt.datetime:
    """The first instant strictly after `after` at which the local clock in `timezone` reads the time.

    A local time that a daylight-saving change skips runs at the end of the skipped hour; one that occurs twice
    (clocks going back) runs at its first occurrence only."""
    zone = zoneinfo.ZoneInfo(timezone)
    local_day = after.astimezone(zone).date()
    for offset in range(3):
        day = local_day + dt.timedelta(days=offset)
        candidate = dt.datetime.combine(day, schedule.local_time, tzinfo=zone).replace(fold=0)
        instant = candidate.astimezone(dt.UTC)
        if instant > after:
            return instant
    raise AssertionError("unreachable: a local time recurs within three days")


def next_run(schedule: Schedule, *, timezone: str, last_start: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """When a participant in `timezone` whose previous pull started at `last_start` is next due."""
    if isinstance(schedule, Every):
        return next_every(schedule, last_start=last_start, now=now)
    if last_start is None:
        return now
    return next_daily(schedule, timezone=timezone, after=max(last_start, now - dt.timedelta(days=1)))


def describe(schedule: Schedule) -> str:
    if isinstance(schedule, Every):
        return f"every {schedule.interval_s:g} s"
    return f"daily at {schedule.local_time:%H:%M} in each participant's zone"
