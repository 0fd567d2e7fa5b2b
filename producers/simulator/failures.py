"""Failure modes with exact ground truth: not worn (charging, forgotten days, nights off), illness, phone away.

Events that span days are drawn from keys of the day or night they *start* on, and a simulated day looks back
over every start that could reach it — so each event is a deterministic function of (seed, k, its start) and
appears identically in every day it touches.
"""

from __future__ import annotations

from typing import Final

import msgspec
import numpy as np

from producers.simulator.grid import DAY_MS, HOUR_MS, MINUTE_MS, Int64Array
from producers.simulator.model import Interval
from producers.simulator.sleep import NightTiming
from producers.simulator.streams import Stream, rng_for
from producers.simulator.traits import ParticipantTraits

ILLNESS_MAX_NIGHTS: Final = 6
"""Longest illness episode, in nights; a night looks back this far for an episode still running."""
OUTAGE_MAX_DAYS: Final = 4
"""Longest time the phone is away (uploads delayed), in days."""
_MARGIN_MS: Final = 30 * MINUTE_MS
"""Charging stays this far from sleep, so charging never truncates a night."""

Span = tuple[int, int]
"""[start_ms, end_ms)."""


def illness_raise_bpm(seed: int, traits: ParticipantTraits, n: int) -> float:
    """Resting-HR raise of night n (0 when healthy): episodes of 2–6 nights, +4–8 bpm, start on random nights."""
    raise_bpm = 0.0
    for first in range(n - ILLNESS_MAX_NIGHTS + 1, n + 1):
        starts, nights, bpm = rng_for(seed, traits.k, Stream.ILLNESS, first).random(3)
        if starts < traits.p_illness_onset and first + 2 + int(nights * (ILLNESS_MAX_NIGHTS - 1)) > n:
            raise_bpm = max(raise_bpm, round(4.0 + 4.0 * float(bpm), 1))
    return raise_bpm


class WearEvents(msgspec.Struct, frozen=True, kw_only=True):
    """What keeps the device off the wrist on local day j and the night that follows it (night j)."""

    charging: bool
    charge_position: float
    """Where in the waking hours the charge starts, 0 … 1."""
    charge_minutes: int
    forgotten: bool
    """Left at home from the morning of day j; put back on at bedtime or, if `forgotten_night`, next morning."""
    forgotten_delay_minutes: int
    forgotten_night: bool
    back_on_minutes: int
    """Minutes before bedtime (or after the next wake-up) the device goes back on."""
    off_night: bool
    """Taken off at bedtime of night j and put back on after waking."""
    off_before_minutes: int
    off_after_minutes: int

    @property
    def night_worn(self) -> bool:
        """Whether night j is recorded at all (no sleep, SpO2, HRV or breathing rate otherwise)."""
        return not (self.off_night or (self.forgotten and self.forgotten_night))


ALWAYS_WORN: Final = WearEvents(
    charging=False,
    charge_position=0.0,
    charge_minutes=0,
    forgotten=False,
    forgotten_delay_minutes=0,
    forgotten_night=False,
    back_on_minutes=0,
    off_night=False,
    off_before_minutes=0,
    off_after_minutes=0,
)
"""The events of a participant who never takes the device off (ideal wear)."""


def wear_events(seed: int, traits: ParticipantTraits, j: int) -> WearEvents:
    u = rng_for(seed, traits.k, Stream.WEAR, j).random(10)
    return WearEvents(
        charging=bool(u[0] < 1.0 / traits.charge_every_days),
        charge_position=float(u[1]),
        charge_minutes=35 + int(u[2] * 60),
        forgotten=bool(u[3] < traits.p_forget_day),
        forgotten_delay_minutes=10 + int(u[4] * 50),
        forgotten_night=bool(u[5] < 0.5),
        back_on_minutes=1 + int(u[6] * 60),
        off_night=bool(u[7] < traits.p_not_worn_night),
        off_before_minutes=int(u[8] * 90),
        off_after_minutes=5 + int(u[9] * 40),
    )


def not_worn_spans(events: WearEvents, previous_night: NightTiming, night: NightTiming) -> list[Span]:
    """Not-worn spans caused by local day j's events, on whole minutes.

    `previous_night` is night j−1 (its end is the wake-up of day j) and `night` is night j.
    """
    spans: list[Span] = []
    wake_up, bedtime = previous_night.end_ms, night.onset_ms
    room = bedtime - wake_up - 2 * _MARGIN_MS - events.charge_minutes * MINUTE_MS
    if events.charging and room > 0:
        start = _ceil_minute(wake_up + _MARGIN_MS + int(events.charge_position * room))
        spans.append((start, start + events.charge_minutes * MINUTE_MS))
    if events.forgotten:
        start = _ceil_minute(wake_up + events.forgotten_delay_minutes * MINUTE_MS)
        if events.forgotten_night:
            end = _ceil_minute(night.end_ms + events.back_on_minutes * MINUTE_MS)
        else:
            end = _floor_minute(bedtime - events.back_on_minutes * MINUTE_MS)
        if end > start:
            spans.append((start, end))
    if events.off_night:
        spans.append(
            (
                _floor_minute(bedtime - events.off_before_minutes * MINUTE_MS),
                _ceil_minute(night.end_ms + events.off_after_minutes * MINUTE_MS),
            )
        )
    return spans


def outages_starting(seed: int, traits: ParticipantTraits, day: int, day_start: int) -> list[Span]:
    """Phone-away spans starting on UTC day `day`: no upload happens inside them, so data arrives late."""
    u = rng_for(seed, traits.k, Stream.OUTAGES, day).random(6)
    spans: list[Span] = []
    if u[0] < traits.p_late_hours:
        start = day_start + int(u[1] * DAY_MS)
        spans.append((start, start + int(HOUR_MS * 20.0 ** u[2])))  # 1–20 h, log-uniform
    if u[3] < traits.p_late_days:
        start = day_start + int(u[4] * DAY_MS)
        spans.append((start, start + DAY_MS + int(u[5] * (OUTAGE_MAX_DAYS - 1) * DAY_MS)))
    return spans


def not_worn_holes(timestamps: Int64Array, day_start: int, day_end: int, threshold_ms: int) -> list[Interval]:
    """Maximal intervals of the day without a reading that are at least `threshold_ms` long."""
    points = np.concatenate(([day_start], timestamps, [day_end]))
    starts = np.flatnonzero(np.diff(points) >= threshold_ms)
    return [Interval(int(points[i]), int(points[i + 1])) for i in starts.tolist()]


def _floor_minute(timestamp_ms: int) -> int:
    return timestamp_ms // MINUTE_MS * MINUTE_MS


def _ceil_minute(timestamp_ms: int) -> int:
    return -(-timestamp_ms // MINUTE_MS) * MINUTE_MS
