"""Illness episodes with the physiology the wearable studies report, and healthy night-to-night variation.

Off unless a simulator is given an `EpisodeModel`; then it replaces the plain illness raises of
`failures.illness_raise_bpm`. A share of participants has one episode with a symptom onset date (ground truth).
Resting HR starts rising a few nights before symptom onset (Mishra et al. 2020: signals a median of ~4 days,
up to 9+ days, before symptoms; Alavi et al. 2022: alerts a median of 3 days before), peaks around onset and
returns to baseline over one to two weeks; some infections barely move resting HR, so no detector can see
them. Every participant, ill or not, has night-to-night variation around their resting HR and occasional
single raised nights (alcohol, stress, a late workout), which is what false alerts are made of.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Final

import msgspec
import numpy as np

from producers.simulator.streams import Stream, rng_for
from producers.simulator.traits import ParticipantTraits

_LEAD_NIGHTS: Final = np.array([0, 1, 2, 3, 4, 5, 6, 7, 9])
_LEAD_WEIGHTS: Final = np.array([0.06, 0.1, 0.14, 0.18, 0.16, 0.13, 0.1, 0.08, 0.05])
"""Nights between the start of the rise and symptom onset (median 3–4)."""
_STANDARD_NORMAL: Final = NormalDist()


class EpisodeModel(msgspec.Struct, frozen=True, kw_only=True):
    """Who falls ill when, and how much healthy nights vary. Day indexes count from the replay start."""

    share: float = 0.1
    """Fraction of participants with one episode."""
    first_onset_day: int = 35
    """Earliest symptom onset (leaves a baseline before it)."""
    last_onset_day: int = 110
    night_sd_bpm: tuple[float, float] = (0.8, 2.2)
    """Range of each participant's night-to-night standard deviation of resting HR."""
    p_raised_night: float = 0.03
    """Chance per night of a single raised night (+2–6 bpm) without illness."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.share <= 1.0 or not 0.0 <= self.p_raised_night <= 1.0:
            raise ValueError("share and p_raised_night must lie in [0, 1]")
        if self.last_onset_day < self.first_onset_day:
            raise ValueError(f"last_onset_day {self.last_onset_day} before first_onset_day {self.first_onset_day}")


class Episode(msgspec.Struct, frozen=True, kw_only=True):
    """One participant's illness: symptom onset on the local date `start + onset_day`."""

    onset_day: int
    lead_nights: int
    """The rise starts with the night ending on the morning `onset_day − lead_nights`."""
    peak_bpm: float
    plateau_nights: int
    recovery_nights: int

    def raise_bpm(self, morning_day: int) -> float:
        """Resting-HR raise of the night whose morning is local date `start + morning_day`."""
        r = morning_day - self.onset_day
        if r < -self.lead_nights:
            return 0.0
        if r <= 1:
            return round(self.peak_bpm * (r + self.lead_nights + 1) / (self.lead_nights + 2), 2)
        if r <= 1 + self.plateau_nights:
            return self.peak_bpm
        left = 1 + self.plateau_nights + self.recovery_nights - r
        return round(max(left, 0) / self.recovery_nights * self.peak_bpm, 2)

    @property
    def last_raised_day(self) -> int:
        return self.onset_day + 1 + self.plateau_nights + self.recovery_nights


def draw_episode(seed: int, traits: ParticipantTraits, model: EpisodeModel) -> Episode | None:
    """Participant k's episode, or None: a pure function of (seed, k, model)."""
    rng = rng_for(seed, traits.k, Stream.EPISODES, 0)
    ill, onset, lead, peak, plateau, recovery = rng.random(6)
    if ill >= model.share:
        return None
    span = model.last_onset_day - model.first_onset_day + 1
    # Peak raise: lognormal around 6 bpm; about one infection in six stays under 3 bpm.
    peak_bpm = float(np.clip(np.exp(np.log(6.0) + 0.55 * _normal(peak)), 1.0, 14.0))
    return Episode(
        onset_day=model.first_onset_day + int(onset * span),
        lead_nights=int(_LEAD_NIGHTS[np.searchsorted(np.cumsum(_LEAD_WEIGHTS), lead * _LEAD_WEIGHTS.sum())]),
        peak_bpm=round(peak_bpm, 2),
        plateau_nights=1 + int(plateau * 4),
        recovery_nights=4 + int(recovery * 9),
    )


def night_variation_bpm(seed: int, traits: ParticipantTraits, model: EpisodeModel, n: int) -> float:
    """Healthy deviation of night n's resting HR from the participant's level (night n ends on morning n + 1)."""
    low, high = model.night_sd_bpm
    sd = low + (high - low) * float(rng_for(seed, traits.k, Stream.EPISODES, 1).random())
    noise, raised, size = rng_for(seed, traits.k, Stream.NIGHT_VARIATION, n).random(3)
    bpm = sd * _normal(noise) + (2.0 + 4.0 * size if raised < model.p_raised_night else 0.0)
    return round(bpm, 2)


def _normal(u: float) -> float:
    """The standard normal quantile of a uniform draw."""
    return _STANDARD_NORMAL.inv_cdf(min(max(u, 1e-9), 1.0 - 1e-9))
