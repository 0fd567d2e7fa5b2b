"""Per-participant traits: the stable characteristics every simulated signal of a participant derives from.

Traits are drawn once from (seed, k) and never from anything else, so participant k is the same person in
every replay of the same seed, whatever the cohort size or the simulated days.
"""

from __future__ import annotations

import datetime as dt
from typing import Final, Literal, TypedDict

import msgspec
import numpy as np

from producers.simulator.grid import day_start_ms, utc_midnight_ms
from producers.simulator.streams import Stream, rng_for
from schemas.participants import Authorisation, Participant

Sex = Literal["female", "male"]

TIMEZONES: Final = (
    "America/Los_Angeles",
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Tokyo",
)
_TIMEZONE_WEIGHTS: Final = (0.2, 0.25, 0.2, 0.2, 0.05, 0.1)
_AUTHORISATIONS: Final[tuple[Authorisation, ...]] = ("authorised", "expired", "revoked", "never")
_AUTHORISATION_WEIGHTS: Final = (0.88, 0.04, 0.04, 0.04)
_SYNC_INTERVALS_S: Final = (900, 1800, 3600)
_SYNC_INTERVAL_WEIGHTS: Final = (0.8, 0.15, 0.05)


class ParticipantTraits(msgspec.Struct, frozen=True, kw_only=True):
    """Who participant k is: physiology, habits, adherence, sync behaviour and study status.

    Day indexes (`authorised_until_day`, `dropout_day`, `enrolment_day`) count UTC days from the replay start.
    """

    k: int
    participant_id: str
    device_id: str
    contact_email: str
    timezone: str
    enrolled_on: dt.date
    enrolment_day: int
    authorisation: Authorisation
    """Final status; `expired`/`revoked` participants were authorised until `authorised_until_day`."""
    authorised_until_day: int | None
    """First day without uploads for `expired`/`revoked` participants, else None."""
    dropout_day: int | None
    """First day the participant neither wears the device nor uploads, or None."""
    age: int
    sex: Sex | None
    fitness: float
    """0 (sedentary) … 1 (athletic): lowers resting HR and the HR cost of a given cadence."""
    resting_hr: float
    """bpm; the level sleeping HR settles around and the base of the heart-rate-reserve zones."""
    max_hr: int
    """220 − age."""
    sedentary_hr_offset: float
    """bpm above resting HR while awake and still."""
    sleep_onset_h: float
    """Usual local clock hour of falling asleep; above 24 means after midnight."""
    sleep_duration_h: float
    steps_per_day: float
    p_not_worn_night: float
    """Probability of taking the device off for a night."""
    charge_every_days: float
    """Mean days between ~1 h charging sessions."""
    p_forget_day: float
    """Probability of leaving the device at home for a day."""
    sync_interval_s: int
    """Typical upload interval when the phone is near."""
    p_late_hours: float
    """Probability per day that the phone is away for hours (uploads delayed by hours)."""
    p_late_days: float
    """Probability per day that the phone is away for days (uploads delayed by days)."""
    p_illness_onset: float
    """Probability per night that an illness episode (raised resting HR for several nights) starts."""
    spo2_baseline: float
    rmssd_baseline: float
    breathing_rate: float


def draw_traits(seed: int, k: int, start: dt.date) -> ParticipantTraits:
    """Draws participant k's traits; deterministic in (seed, k, start). New draws must be appended at the end."""
    rng = rng_for(seed, k, Stream.TRAITS)
    # The draws run in one order (person, habits, baselines, study): each step continues the same stream.
    person, fitness = _draw_person(rng)
    habits = _draw_habits(rng)
    baselines = _draw_baselines(rng, person["age"], fitness)
    study, device_suffix = _draw_study(rng, start)
    return ParticipantTraits(
        k=k,
        participant_id=f"P{k:04d}",
        device_id=f"fitbit-{k:04d}-{device_suffix:06x}",
        contact_email=f"p{k:04d}@study.example",
        **study,
        **person,
        **habits,
        **baselines,
    )


class _Person(TypedDict):
    age: int
    sex: Sex | None
    fitness: float
    resting_hr: float
    max_hr: int
    sedentary_hr_offset: float
    sleep_onset_h: float
    sleep_duration_h: float
    steps_per_day: float


class _Habits(TypedDict):
    p_not_worn_night: float
    charge_every_days: float
    p_forget_day: float
    sync_interval_s: int
    p_late_hours: float
    p_late_days: float
    p_illness_onset: float


class _Baselines(TypedDict):
    spo2_baseline: float
    rmssd_baseline: float
    breathing_rate: float


class _Study(TypedDict):
    timezone: str
    enrolled_on: dt.date
    enrolment_day: int
    authorisation: Authorisation
    authorised_until_day: int | None
    dropout_day: int | None


def _draw_person(rng: np.random.Generator) -> tuple[_Person, float]:
    """Age, sex, fitness and what follows from them (heart rate, sleep, steps); and the unrounded fitness."""
    age = int(np.clip(rng.normal(45.0, 15.0), 18, 85))
    sex_draw = rng.random()
    sex: Sex | None = "female" if sex_draw < 0.48 else "male" if sex_draw < 0.96 else None
    fitness = float(rng.beta(2.0, 2.5))
    resting_hr = float(
        np.clip(
            73.0 - 14.0 * fitness + 0.06 * (age - 45) + (2.0 if sex == "female" else 0.0) + rng.normal(0.0, 4.5),
            46.0,
            90.0,
        )
    )
    sedentary_hr_offset = float(rng.uniform(7.0, 14.0))
    sleep_onset_h = float(np.clip(rng.normal(23.1, 0.7), 21.3, 25.3))
    sleep_duration_h = float(np.clip(rng.normal(7.4, 0.65) - 0.01 * (age - 45), 5.8, 9.2))
    steps_per_day = float(np.clip(rng.lognormal(np.log(7000.0) + 0.6 * (fitness - 0.45), 0.4), 2500.0, 17000.0))
    person = _Person(
        age=age,
        sex=sex,
        fitness=round(fitness, 3),
        resting_hr=round(resting_hr, 1),
        max_hr=220 - age,
        sedentary_hr_offset=round(sedentary_hr_offset, 1),
        sleep_onset_h=round(sleep_onset_h, 2),
        sleep_duration_h=round(sleep_duration_h, 2),
        steps_per_day=round(steps_per_day),
    )
    return person, fitness


def _draw_habits(rng: np.random.Generator) -> _Habits:
    """Wear, charging and sync behaviour, and the illness rate."""
    p_not_worn_night = float(rng.uniform(0.15, 0.35) if rng.random() < 0.15 else rng.uniform(0.0, 0.05))
    charge_every_days = float(rng.uniform(2.5, 6.0))
    p_forget_day = float(rng.uniform(0.005, 0.06))
    sync_interval_s = int(rng.choice(_SYNC_INTERVALS_S, p=_SYNC_INTERVAL_WEIGHTS))
    p_late_hours = float(rng.uniform(0.03, 0.25))
    p_late_days = float(rng.uniform(0.0, 0.03))
    p_illness_onset = float(rng.uniform(0.005, 0.025))
    return _Habits(
        p_not_worn_night=round(p_not_worn_night, 4),
        charge_every_days=round(charge_every_days, 2),
        p_forget_day=round(p_forget_day, 4),
        sync_interval_s=sync_interval_s,
        p_late_hours=round(p_late_hours, 4),
        p_late_days=round(p_late_days, 4),
        p_illness_onset=round(p_illness_onset, 4),
    )


def _draw_baselines(rng: np.random.Generator, age: int, fitness: float) -> _Baselines:
    """The sleep-time baselines: SpO2, HRV (falling with age, rising with fitness) and breathing rate."""
    spo2_baseline = float(np.clip(rng.normal(96.6, 0.8), 94.0, 98.5))
    rmssd_median = max(15.0, 65.0 - 0.7 * (age - 20) + 20.0 * fitness)
    rmssd_baseline = float(np.clip(rng.lognormal(np.log(rmssd_median), 0.25), 12.0, 130.0))
    breathing_rate = float(np.clip(rng.normal(15.0, 1.6), 11.0, 20.0))
    return _Baselines(
        spo2_baseline=round(spo2_baseline, 1),
        rmssd_baseline=round(rmssd_baseline, 1),
        breathing_rate=round(breathing_rate, 1),
    )


def _draw_study(rng: np.random.Generator, start: dt.date) -> tuple[_Study, int]:
    """Time zone, enrolment, authorisation and dropout; and the device's serial suffix."""
    timezone = str(rng.choice(TIMEZONES, p=_TIMEZONE_WEIGHTS))
    enrolment_day = int(rng.integers(1, 6) if rng.random() < 0.15 else -rng.integers(0, 61))
    authorisation: Authorisation = _AUTHORISATIONS[int(rng.choice(4, p=_AUTHORISATION_WEIGHTS))]
    # Status changes fall inside the replay (counted from enrolment or the start, whichever is later).
    observed_from = max(enrolment_day, 0)
    until_draw = int(rng.integers(3, 46))
    authorised_until_day = observed_from + until_draw if authorisation in ("expired", "revoked") else None
    dropout_draw = int(rng.integers(5, 61))
    dropout_day = observed_from + dropout_draw if rng.random() < 0.06 else None
    device_suffix = int(rng.integers(0, 1 << 24))
    study = _Study(
        timezone=timezone,
        enrolled_on=start + dt.timedelta(days=enrolment_day),
        enrolment_day=enrolment_day,
        authorisation=authorisation,
        authorised_until_day=authorised_until_day,
        dropout_day=dropout_day,
    )
    return study, device_suffix


def stop_day(traits: ParticipantTraits) -> int | None:
    """First day from which nothing is delivered (dropout or lost authorisation), or None."""
    days = [d for d in (traits.authorised_until_day, traits.dropout_day) if d is not None]
    return min(days) if days else None


def delivers_on(traits: ParticipantTraits, day: int) -> bool:
    """Whether readings of `day` reach the study: enrolled, authorised at some point, and not yet stopped."""
    if traits.authorisation == "never" or day < traits.enrolment_day:
        return False
    last = stop_day(traits)
    return last is None or day < last


def participant_record(traits: ParticipantTraits, start: dt.date, as_of_day: int | None = None) -> Participant:
    """The participants-topic record; with `as_of_day`, the authorisation status the study saw on that day."""
    status = traits.authorisation
    updated_at = utc_midnight_ms(traits.enrolled_on)
    if traits.authorised_until_day is not None:
        if as_of_day is not None and as_of_day < traits.authorised_until_day:
            status = "authorised"
        else:
            updated_at = day_start_ms(start, traits.authorised_until_day)
    return Participant(
        participant_id=traits.participant_id,
        enrolled_on=traits.enrolled_on,
        timezone=traits.timezone,
        authorisation=status,
        device_id=traits.device_id,
        contact_email=traits.contact_email,
        updated_at=updated_at,
    )
