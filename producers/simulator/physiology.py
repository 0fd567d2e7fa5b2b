"""Heart rate, steps and active zone minutes of one UTC day, on the day's minute and second grid.

Steps come from walks and runs (drawn per local day, so a walk across midnight UTC is one walk) plus short
bursts of everyday ambulation (drawn per UTC day, a minute never spans days). Heart rate follows: a resting
level with a circadian swing while awake, the stage-dependent sleeping level at night, and a rise that tracks
cadence during activity. AZM is then read off the generated heart rate, minute by minute.
"""

from __future__ import annotations

import math
from typing import Final

import msgspec
import numpy as np
import numpy.typing as npt

from producers.simulator.grid import (
    EPOCH_MS,
    MINUTE_MS,
    MINUTES_PER_DAY,
    SECOND_MS,
    SECONDS_PER_DAY,
    BoolArray,
    FloatArray,
    Int64Array,
)
from producers.simulator.streams import Stream, rng_for
from producers.simulator.traits import ParticipantTraits

FAT_BURN_RESERVE: Final = 0.40
CARDIO_RESERVE: Final = 0.60
_CADENCE_KNOTS: Final = np.array([0.0, 40.0, 80.0, 100.0, 120.0, 140.0, 160.0, 180.0])
_RESERVE_KNOTS: Final = np.array([0.0, 0.06, 0.18, 0.30, 0.45, 0.58, 0.72, 0.82])
"""Fraction of heart-rate reserve a cadence (steps/min) costs an average-fitness participant."""
_RESPONSE: Final = np.array([0.55, 0.27, 0.12, 0.06])
"""Minute-by-minute response of HR to a change of effort: most of it in the first minute, gone after four."""
_HOUR_KNOTS: Final = np.array([0.0, 6.0, 7.0, 8.0, 12.0, 18.0, 21.0, 23.0, 24.0])
_AMBULATION_BY_HOUR: Final = np.array([0.1, 0.1, 0.6, 1.2, 1.3, 1.3, 0.8, 0.3, 0.1])
_STILL_SLOTS: Final = np.arange(0, 60, 5)
_NOISE_KNOT_S: Final = 20


class Bouts(msgspec.Struct, frozen=True, kw_only=True, eq=False):
    """The walks and runs of one local day, as active minutes: start of each minute and its cadence."""

    minute_ms: Int64Array
    cadence: FloatArray


def azm_thresholds_bpm(traits: ParticipantTraits) -> tuple[int, int]:
    """Fitbit's heart-rate-reserve (Karvonen) zones, in whole bpm rounded up: (fat burn, cardio).

    With reserve = max HR (220 − age) − resting HR, a minute whose mean HR is ≥ resting + 40 % of the reserve is
    fat-burn (1 AZM); ≥ resting + 60 % is cardio or peak (2 AZM); a minute without HR earns 0.
    """
    reserve = traits.max_hr - traits.resting_hr
    return (
        math.ceil(traits.resting_hr + FAT_BURN_RESERVE * reserve),
        math.ceil(traits.resting_hr + CARDIO_RESERVE * reserve),
    )


def activity_bouts(seed: int, traits: ParticipantTraits, j: int, wake_up_ms: int, bedtime_ms: int) -> Bouts:
    """Walks (and, for fitter participants, sometimes a run) between waking up and bedtime of local day j."""
    rng = rng_for(seed, traits.k, Stream.ACTIVITY, j)
    walk_minutes = 0.55 * traits.steps_per_day * float(rng.lognormal(0.0, 0.25)) / 110.0
    n_walks = max(1, int(rng.poisson(walk_minutes / 18.0)))
    durations = rng.lognormal(np.log(18.0), 0.5, size=n_walks)
    durations = np.maximum(np.rint(durations * walk_minutes / durations.sum()), 3.0)
    cadence = rng.uniform(95.0, 128.0, size=n_walks)
    if rng.random() < 0.05 + 0.35 * traits.fitness:
        durations = np.append(durations, float(rng.integers(20, 51)))
        cadence = np.append(cadence, rng.uniform(150.0, 175.0))
    minutes = durations.astype(np.int64)
    first, last = wake_up_ms + 20 * MINUTE_MS, bedtime_ms - 30 * MINUTE_MS
    room = last - first - minutes * MINUTE_MS
    starts = (first + rng.random(minutes.size) * np.maximum(room, 0)).astype(np.int64) // MINUTE_MS * MINUTE_MS
    minutes = np.where(room > 0, minutes, 0)
    total = int(minutes.sum())
    offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(minutes) - minutes, minutes)
    return Bouts(
        minute_ms=np.repeat(starts, minutes) + offsets * MINUTE_MS,
        cadence=np.repeat(cadence, minutes) * (1.0 + rng.normal(0.0, 0.04, size=total)),
    )


def steps_per_minute(
    seed: int,
    traits: ParticipantTraits,
    day: int,
    day_start: int,
    bouts: list[Bouts],
    awake_worn: BoolArray,
    local_hour: FloatArray,
) -> npt.NDArray[np.int16]:
    """Steps of every minute of the day: the bouts plus everyday ambulation, 0 asleep or not worn."""
    rng = rng_for(seed, traits.k, Stream.BACKGROUND_STEPS, day)
    p_moving = 0.45 * traits.steps_per_day / (960.0 * 26.0) * np.interp(local_hour, _HOUR_KNOTS, _AMBULATION_BY_HOUR)
    moving = rng.random(MINUTES_PER_DAY) < np.minimum(p_moving, 0.9)
    burst = np.clip(np.rint(rng.lognormal(np.log(18.0), 0.7, size=MINUTES_PER_DAY)), 1.0, 110.0)
    steps = np.where(moving, burst, 0.0)
    for day_bouts in bouts:
        minute = (day_bouts.minute_ms - day_start) // MINUTE_MS
        inside = (minute >= 0) & (minute < MINUTES_PER_DAY)
        np.maximum.at(steps, minute[inside], np.rint(day_bouts.cadence[inside]))
    return np.where(awake_worn, np.clip(steps, 0.0, 300.0), 0.0).astype(np.int16)


def heart_rate(
    seed: int,
    traits: ParticipantTraits,
    day: int,
    day_start: int,
    steps: npt.NDArray[np.int16],
    worn: BoolArray,
    sleep_hr: FloatArray,
    illness_bpm: FloatArray,
    local_hour: FloatArray,
) -> tuple[Int64Array, npt.NDArray[np.int16]]:
    """HR readings of the day: (timestamps ms, whole bpm), only while worn.

    Sampled every second (3 % dropped) in minutes with steps, else on a 5 s grid, each sample jittered by up
    to 2 s (4 % dropped), as Fitbit devices do. `sleep_hr` is the sleeping HR per 30 s epoch (NaN when not in a night)
    and `illness_bpm` the resting-HR raise per minute.
    """
    rng = rng_for(seed, traits.k, Stream.HEART_RATE, day)
    sampled = np.zeros(SECONDS_PER_DAY, dtype=np.bool_)
    moving_minutes = np.flatnonzero(worn & (steps > 0))
    moving_seconds = (moving_minutes[:, None] * 60 + np.arange(60)).ravel()
    sampled[moving_seconds[rng.random(moving_seconds.size) >= 0.03]] = True
    still_minutes = np.flatnonzero(worn & (steps == 0))
    still_seconds = (
        still_minutes[:, None] * 60
        + rng.integers(0, 3, size=(still_minutes.size, 1))
        + _STILL_SLOTS
        + rng.integers(0, 3, size=(still_minutes.size, _STILL_SLOTS.size))
    )
    sampled[still_seconds[rng.random(still_seconds.shape) >= 0.04]] = True
    seconds = np.flatnonzero(sampled)

    reserve = traits.max_hr - traits.resting_hr
    effort = np.interp(steps.astype(np.float64), _CADENCE_KNOTS, _RESERVE_KNOTS) * (1.15 - 0.3 * traits.fitness)
    sedentary = traits.resting_hr + traits.sedentary_hr_offset + 3.0 * np.cos(2.0 * np.pi * (local_hour - 16.0) / 24.0)
    excess = np.maximum(traits.resting_hr + effort * reserve - sedentary, 0.0)
    awake_by_minute = sedentary + np.convolve(excess, _RESPONSE)[:MINUTES_PER_DAY]
    awake = np.interp(seconds, np.arange(MINUTES_PER_DAY) * 60 + 30, awake_by_minute)
    asleep = sleep_hr[seconds * SECOND_MS // EPOCH_MS]
    level = np.where(np.isnan(asleep), awake, asleep) + illness_bpm[seconds // 60]

    knots = rng.normal(0.0, 1.6, size=SECONDS_PER_DAY // _NOISE_KNOT_S + 1)
    drift = np.interp(seconds, np.arange(knots.size) * _NOISE_KNOT_S, knots)
    bpm = np.rint(np.clip(level + drift + rng.normal(0.0, 0.8, size=seconds.size), 30.0, 240.0))
    return day_start + seconds.astype(np.int64) * SECOND_MS, bpm.astype(np.int16)


def active_zone_minutes(
    timestamps: Int64Array, bpm: npt.NDArray[np.int16], day_start: int, thresholds: tuple[int, int]
) -> npt.NDArray[np.int8]:
    """AZM of every minute of the day from the minute's mean HR (see `azm_thresholds_bpm`)."""
    fat_burn, cardio = thresholds
    minute = (timestamps - day_start) // MINUTE_MS
    total = np.bincount(minute, weights=bpm, minlength=MINUTES_PER_DAY)
    count = np.bincount(minute, minlength=MINUTES_PER_DAY)
    zone = (total >= fat_burn * count).astype(np.int8) + (total >= cardio * count).astype(np.int8)
    return np.where(count > 0, zone, 0).astype(np.int8)


def worn_minutes(timestamps: Int64Array, day_start: int) -> int:
    """Minutes of the day with at least one HR reading."""
    return int(np.count_nonzero(np.bincount((timestamps - day_start) // MINUTE_MS, minlength=MINUTES_PER_DAY)))
