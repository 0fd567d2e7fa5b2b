"""The public entry: a deterministic, vectorised simulator of a cohort of Fitbit-class wearers.

`CohortSimulator.simulate_day(k, day)` returns participant k's UTC day `day` (day 0 is `start`): the readings
of every registry metric, the ReadingBatches that deliver them (one per upload × metric), and the ground
truth of what happened. It is a pure function of (seed, start, not_synced_after_s, k, day).
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Final

import msgspec
import numpy as np

from producers.simulator.episodes import Episode, EpisodeModel, draw_episode, night_variation_bpm
from producers.simulator.failures import (
    ALWAYS_WORN,
    WearEvents,
    illness_raise_bpm,
    not_worn_holes,
    not_worn_spans,
    wear_events,
)
from producers.simulator.grid import (
    DAY_MS,
    EPOCH_MS,
    EPOCHS_PER_DAY,
    MINUTE_MS,
    MINUTES_PER_DAY,
    BoolArray,
    day_start_ms,
    local_hour_of_minute,
    minute_index,
    minute_index_ceil,
)
from producers.simulator.model import (
    DayTruth,
    Interval,
    MetricReadings,
    ParticipantDay,
    concat_readings,
    metric_readings,
)
from producers.simulator.physiology import (
    Bouts,
    active_zone_minutes,
    activity_bouts,
    azm_thresholds_bpm,
    heart_rate,
    steps_per_minute,
    worn_minutes,
)
from producers.simulator.sleep import Night, NightTiming, generate_night, night_timing, overlaps, sleep_readings
from producers.simulator.traits import ParticipantTraits, delivers_on, draw_traits, participant_record
from producers.simulator.uploads import UploadTimeline, cut_batches
from schemas.metrics import HEART_RATE, METRICS
from schemas.participants import Participant

_NOT_WORN_THRESHOLD_MS: Final = (HEART_RATE.gap_threshold_s or 0) * 1000
_MINUTE_OFFSETS: Final = np.arange(MINUTES_PER_DAY, dtype=np.int64) * MINUTE_MS


class _DayFacts(msgspec.Struct, frozen=True, kw_only=True, eq=False):
    readings: dict[str, MetricReadings]
    illness_raise_bpm: float
    sleep: list[Interval]


class CohortSimulator:
    """Simulates participants P0001, P0002, … of one study, a participant-day at a time, in any order.

    Participant k's data depends only on (seed, start, k): never on how many participants or which other days
    are simulated. Caches traits and upload schedules per participant; otherwise stateless.
    """

    def __init__(
        self,
        *,
        seed: int,
        start: dt.date,
        not_synced_after_s: int = 6 * 3600,
        episodes: EpisodeModel | None = None,
        ideal_wear: bool = False,
    ) -> None:
        """`episodes` switches to illness episodes with a symptom onset and healthy night-to-night variation
        (`producers.simulator.episodes`); `ideal_wear` has everyone wear the device day and night from day 0
        without dropping out (readings only: for scoring detectors). Both off leave every output as before."""
        if seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        self.seed = seed
        self.start = start
        self.not_synced_after_s = not_synced_after_s
        self.episodes = episodes
        self.ideal_wear = ideal_wear
        self._traits: dict[int, ParticipantTraits] = {}
        self._timeline = functools.lru_cache(maxsize=4_096)(self._new_timeline)
        self._night_timing = functools.lru_cache(maxsize=65_536)(self._new_night_timing)
        self._wear_events = functools.lru_cache(maxsize=65_536)(self._new_wear_events)
        self._raise = functools.lru_cache(maxsize=65_536)(self._new_raise)
        self._episode = functools.lru_cache(maxsize=65_536)(self._new_episode)
        # A night and a local day's walks reach two or three UTC days: simulating days in order reuses them.
        self._night = functools.lru_cache(maxsize=8)(self.night)
        self._bouts = functools.lru_cache(maxsize=8)(self._new_bouts)

    def traits(self, k: int) -> ParticipantTraits:
        """Participant k's traits (k ≥ 1; the participant id is `P{k:04d}`)."""
        if k < 1:
            raise ValueError(f"participants are numbered from 1, got {k}")
        traits = self._traits.get(k)
        if traits is None:
            traits = self._traits[k] = draw_traits(self.seed, k, self.start)
        return traits

    def participant_record(self, k: int, *, as_of_day: int | None = None) -> Participant:
        """The participants-topic record of k: final status, or as the study saw it on `as_of_day`."""
        return participant_record(self.traits(k), self.start, as_of_day)

    def night(self, k: int, n: int) -> Night:
        """Night n of participant k in full (evening of local date start + n), as if worn throughout."""
        return generate_night(self.seed, self.traits(k), self._night_timing(k, n), self._raise(k, n)[0])

    def episode(self, k: int) -> Episode | None:
        """Participant k's illness episode (None without an `EpisodeModel`, or when k stays healthy)."""
        return self._episode(k)

    def readings(self, k: int, day: int) -> dict[str, MetricReadings]:
        """The readings `simulate_day(k, day)` delivers, without cutting batches or the truth."""
        return self._day_facts(self.traits(k), day, day_start_ms(self.start, day)).readings

    def worn_minutes(self, k: int, day: int) -> BoolArray:
        """Which minutes of UTC day `day` participant k's readings can cover: worn, and the day delivered."""
        if not self._delivers_on(self.traits(k), day):
            return np.zeros(MINUTES_PER_DAY, dtype=np.bool_)
        return self._worn(k, day, day_start_ms(self.start, day))

    def _worn(self, k: int, day: int, day_start: int) -> BoolArray:
        worn = np.ones(MINUTES_PER_DAY, dtype=np.bool_)
        for j in range(day - 2, day + 3):
            for begin, end in not_worn_spans(
                self._wear_events(k, j), self._night_timing(k, j - 1), self._night_timing(k, j)
            ):
                worn[minute_index(begin, day_start) : minute_index_ceil(end, day_start)] = False
        return worn

    def _new_night_timing(self, k: int, n: int) -> NightTiming:
        return night_timing(self.seed, self.traits(k), self.start, n)

    def _new_wear_events(self, k: int, j: int) -> WearEvents:
        if self.ideal_wear:
            return ALWAYS_WORN
        return wear_events(self.seed, self.traits(k), j)

    def _new_bouts(self, k: int, j: int) -> Bouts:
        previous, night = self._night_timing(k, j - 1), self._night_timing(k, j)
        return activity_bouts(self.seed, self.traits(k), j, previous.end_ms, night.onset_ms)

    def _new_episode(self, k: int) -> Episode | None:
        return None if self.episodes is None else draw_episode(self.seed, self.traits(k), self.episodes)

    def _new_raise(self, k: int, n: int) -> tuple[float, float]:
        """(illness raise, total raise of resting HR) of night n; they differ by the healthy variation."""
        traits = self.traits(k)
        if self.episodes is None:
            illness = illness_raise_bpm(self.seed, traits, n)
            return illness, illness
        episode = self._episode(k)
        illness = 0.0 if episode is None else episode.raise_bpm(n + 1)
        return illness, illness + night_variation_bpm(self.seed, traits, self.episodes, n)

    def _delivers_on(self, traits: ParticipantTraits, day: int) -> bool:
        return self.ideal_wear or delivers_on(traits, day)

    def simulate_day(self, k: int, day: int) -> ParticipantDay:
        """Participant k's UTC day `day`: readings, the batches delivering exactly them, and the ground truth."""
        if self.ideal_wear:
            raise ValueError("an ideal-wear simulator has readings only (its uploads would not carry them all)")
        traits = self.traits(k)
        day_start = day_start_ms(self.start, day)
        facts = self._day_facts(traits, day, day_start)
        timeline = self._timeline(k)
        batches = cut_batches(
            traits.participant_id, traits.device_id, facts.readings, timeline.carrying(day), traits.timezone
        )
        hr_timestamps = facts.readings[HEART_RATE.name].timestamps
        episode = self._episode(k)
        authorised = traits.authorisation != "never" and (
            traits.authorised_until_day is None or day < traits.authorised_until_day
        )
        truth = DayTruth(
            not_worn=not_worn_holes(hr_timestamps, day_start, day_start + DAY_MS, _NOT_WORN_THRESHOLD_MS),
            uploads=sorted({batch.sync_time for batch in batches}),
            illness=facts.illness_raise_bpm > 0,
            dropped_out=traits.dropout_day is not None and day >= traits.dropout_day,
            worn_minutes=worn_minutes(hr_timestamps, day_start),
            illness_raise_bpm=facts.illness_raise_bpm,
            enrolled=day >= traits.enrolment_day,
            authorised=authorised,
            sleep=facts.sleep,
            not_synced=[
                Interval(begin, end) for begin, end in timeline.not_synced(day, self.not_synced_after_s * 1000)
            ],
            symptom_onset=episode is not None and episode.onset_day == day,
        )
        return ParticipantDay(
            participant_id=traits.participant_id,
            day=self.start + dt.timedelta(days=day),
            readings=facts.readings,
            batches=batches,
            truth=truth,
        )

    def expected_counts(self, k: int, day: int) -> dict[str, int]:
        """Readings per metric that `simulate_day(k, day)` delivers, without cutting batches (about half the cost)."""
        traits = self.traits(k)
        facts = self._day_facts(traits, day, day_start_ms(self.start, day))
        return {metric: len(readings) for metric, readings in facts.readings.items()}

    def _new_timeline(self, k: int) -> UploadTimeline:
        return UploadTimeline(self.seed, self.traits(k), self.start)

    def _day_facts(self, traits: ParticipantTraits, day: int, day_start: int) -> _DayFacts:
        day_end = day_start + DAY_MS
        # Night n (and local day n's wear events) touch UTC days n−1 … n+1 in every zone used, and an illness
        # raise lasts until the next night's onset: these ranges hold all that can reach `day`, with a spare.
        k = traits.k
        timings = {n: self._night_timing(k, n) for n in range(day - 3, day + 3)}
        events = {j: self._wear_events(k, j) for j in range(day - 2, day + 3)}
        both = {n: self._raise(k, n) for n in range(day - 2, day + 2)}
        raises = {n: illness for n, (illness, _) in both.items()}
        overlapping = [n for n in range(day - 2, day + 2) if overlaps(timings[n], day_start, day_end)]
        illness = max((raises[n] for n in overlapping), default=0.0)
        if not self._delivers_on(traits, day):
            empty = {metric: concat_readings(metric, []) for metric in METRICS}
            return _DayFacts(readings=empty, illness_raise_bpm=illness, sleep=[])

        worn = self._worn(k, day, day_start)
        asleep = np.zeros(MINUTES_PER_DAY, dtype=np.bool_)
        sleep_hr = np.full(EPOCHS_PER_DAY, np.nan)
        illness_bpm = np.zeros(MINUTES_PER_DAY)
        for n in range(day - 2, day + 2):
            if both[n][1] != 0:
                begin = minute_index(timings[n].onset_ms, day_start)
                illness_bpm[begin : minute_index(timings[n + 1].onset_ms, day_start)] = both[n][1]
        nights: list[Night] = []
        for n in overlapping:
            timing = timings[n]
            asleep[minute_index(timing.onset_ms, day_start) : minute_index_ceil(timing.end_ms, day_start)] = True
            if events[n].night_worn:
                night = self._night(k, n)
                nights.append(night)
                first = (timing.onset_ms - day_start) // EPOCH_MS
                low, high = max(first, 0), min(first + timing.n_epochs, EPOCHS_PER_DAY)
                sleep_hr[low:high] = night.sleep_hr[low - first : high - first]

        local_hour = local_hour_of_minute(traits.timezone, day_start)
        bouts = [
            self._bouts(k, j)
            for j in range(day - 2, day + 3)
            if timings[j - 1].end_ms < day_end and timings[j].onset_ms > day_start
        ]
        steps = steps_per_minute(self.seed, traits, day, day_start, bouts, worn & ~asleep, local_hour)
        hr_ts, hr = heart_rate(self.seed, traits, day, day_start, steps, worn, sleep_hr, illness_bpm, local_hour)
        azm = active_zone_minutes(hr_ts, hr, day_start, azm_thresholds_bpm(traits))
        minute_ts = day_start + _MINUTE_OFFSETS
        readings = {
            "heart_rate": metric_readings("heart_rate", hr_ts, hr),
            "steps": metric_readings("steps", minute_ts, steps),
            "active_zone_minutes": metric_readings("active_zone_minutes", minute_ts, azm),
            **sleep_readings(nights, day_start, worn),
        }
        return _DayFacts(
            readings={metric: readings[metric] for metric in METRICS},
            illness_raise_bpm=illness,
            sleep=[Interval(n.timing.onset_ms, n.timing.end_ms) for n in nights],
        )
