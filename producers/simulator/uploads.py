"""Uploads: when a participant's device syncs, and how a day's readings are cut into ReadingBatches.

The device syncs about every `sync_interval_s` (one upload at a random point of each slot) while the phone is
near; while the phone is away (an outage, hours or days long) nothing is uploaded and the next upload carries
the backlog. An upload at sync time t carries every reading with timestamp ≤ t not carried before. Uploads
happen from enrolment until the first upload at or after the participant's stop day (which carries the last
readings); `never`-authorised participants have none.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Final

import numpy as np
import numpy.typing as npt

from producers.simulator.failures import OUTAGE_MAX_DAYS, Span, outages_starting
from producers.simulator.grid import DAY_MS, SECOND_MS, Int64Array, day_start_ms
from producers.simulator.model import MetricReadings
from producers.simulator.streams import Stream, rng_for
from producers.simulator.traits import ParticipantTraits, stop_day
from schemas.readings import ReadingBatch, make_batch

_SEARCH_LIMIT_DAYS: Final = 120
_EMPTY: Final = np.zeros(0, dtype=np.int64)


class UploadTimeline:
    """The upload times of one participant; a pure function of (seed, traits, start), cached per day."""

    def __init__(self, seed: int, traits: ParticipantTraits, start: dt.date) -> None:
        self._seed = seed
        self._traits = traits
        self._start = start
        self._enrolment_ms = day_start_ms(start, traits.enrolment_day)
        self._stop_day = stop_day(traits)
        # A day's batches need the schedules of the day before, the day and the day after.
        self._scheduled = functools.lru_cache(maxsize=4)(self._scheduled_uncached)
        self._outages = functools.lru_cache(maxsize=8)(self._outages_uncached)
        self._final: int | None = None

    def _outages_uncached(self, day: int) -> list[Span]:
        return outages_starting(self._seed, self._traits, day, day_start_ms(self._start, day))

    def _scheduled_uncached(self, day: int) -> Int64Array:
        """Upload attempts of UTC day `day` that the phone is near for, ignoring the study window."""
        interval_ms = self._traits.sync_interval_s * SECOND_MS
        n_slots = DAY_MS // interval_ms
        offsets = rng_for(self._seed, self._traits.k, Stream.SYNC_SLOTS, day).uniform(0.1, 0.9, size=n_slots)
        times = day_start_ms(self._start, day) + interval_ms * np.arange(n_slots, dtype=np.int64)
        times += (offsets * interval_ms).astype(np.int64)
        away = np.zeros(n_slots, dtype=np.bool_)
        for first in range(day - OUTAGE_MAX_DAYS - 1, day + 1):
            for begin, end in self._outages(first):
                away |= (times >= begin) & (times < end)
        times = times[~away]
        times.flags.writeable = False
        return times

    def final_upload(self) -> int | None:
        """The last upload ever (the first at or after the stop day), None while the participant never stops."""
        if self._stop_day is None or self._final is not None:
            return self._final
        stop_ms = day_start_ms(self._start, self._stop_day)
        for day in range(self._stop_day, self._stop_day + _SEARCH_LIMIT_DAYS):
            times = self._scheduled(day)
            if times.size:
                self._final = int(times[0]) if times[0] >= stop_ms else int(times[times >= stop_ms][0])
                return self._final
        raise RuntimeError(f"{self._traits.participant_id}: no upload within {_SEARCH_LIMIT_DAYS} days of stopping")

    def on_day(self, day: int) -> Int64Array:
        """Uploads that happen during UTC day `day`, ascending."""
        if self._traits.authorisation == "never" or day < self._traits.enrolment_day:
            return _EMPTY
        times = self._scheduled(day)
        final = self.final_upload()
        if final is not None and times.size and times[-1] > final:
            times = times[times <= final]
        return times

    def first_at_or_after(self, timestamp_ms: int) -> int | None:
        """The first upload at or after `timestamp_ms`, None if there is none ever."""
        final = self.final_upload()
        if self._traits.authorisation == "never" or (final is not None and timestamp_ms > final):
            return None
        day = (timestamp_ms - day_start_ms(self._start, 0)) // DAY_MS
        for d in range(day, day + _SEARCH_LIMIT_DAYS):
            times = self.on_day(d)
            later = times[times >= timestamp_ms]
            if later.size:
                return int(later[0])
        raise RuntimeError(f"{self._traits.participant_id}: no upload within {_SEARCH_LIMIT_DAYS} days")

    def last_before(self, day: int) -> int | None:
        """The last upload before 00:00 UTC of `day`, None if there was none since enrolment."""
        final = self.final_upload()
        if final is not None and final < day_start_ms(self._start, day):
            return final
        for d in range(day - 1, self._traits.enrolment_day - 1, -1):
            times = self.on_day(d)
            if times.size:
                return int(times[-1])
        return None

    def carrying(self, day: int) -> Int64Array:
        """Uploads that can carry readings of `day`: those during the day and the first one after it."""
        times = self.on_day(day)
        after = self.first_at_or_after(day_start_ms(self._start, day + 1))
        return times if after is None else np.append(times, np.int64(after))

    def not_synced(self, day: int, threshold_ms: int) -> list[Span]:
        """Parts of `day` inside gaps of ≥ `threshold_ms` between uploads (from enrolment; open after the last)."""
        day_start = day_start_ms(self._start, day)
        day_end = day_start + DAY_MS
        if day < self._traits.enrolment_day:
            return []
        before = self.last_before(day)
        points = [self._enrolment_ms if before is None else before, *self.on_day(day).tolist()]
        after = self.first_at_or_after(day_end)
        spans: list[Span] = []
        for begin, end in zip(points, [*points[1:], after], strict=True):
            if end is None or end - begin >= threshold_ms:
                clipped = (max(begin, day_start), day_end if end is None else min(end, day_end))
                if clipped[1] > clipped[0]:
                    spans.append(clipped)
        return spans


def cut_batches(
    participant_id: str,
    device_id: str,
    readings: dict[str, MetricReadings],
    uploads: Int64Array,
    timezone: str = "",
) -> list[ReadingBatch]:
    """One batch per upload × metric with readings: each reading goes to the first upload at or after it.

    Raises ValueError if a reading is later than the last upload (the caller must pass one that follows them).
    """
    batches: list[ReadingBatch] = []
    for metric, metric_readings in readings.items():
        timestamps = metric_readings.timestamps
        if not timestamps.size:
            continue
        carried = np.searchsorted(timestamps, uploads, side="right")
        if not carried.size or carried[-1] != timestamps.size:
            raise ValueError(f"{participant_id} {metric}: readings after the last upload")
        low = 0
        for i in np.flatnonzero(np.diff(carried, prepend=0)).tolist():
            high = int(carried[i])
            extra: dict[str, npt.ArrayLike] = {
                column: array[low:high] for column, array in metric_readings.extra.items()
            }
            batches.append(
                make_batch(
                    participant_id=participant_id,
                    metric=metric,
                    device_id=device_id,
                    sync_time=int(uploads[i]),
                    timestamps=timestamps[low:high],
                    values=metric_readings.values[low:high],
                    extra=extra or None,
                    timezone=timezone,
                )
            )
            low = high
    batches.sort(key=lambda batch: (batch.sync_time, batch.metric))
    return batches
