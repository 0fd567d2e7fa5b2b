"""The simulator as a source: a seeded cohort (`producers.simulator`, the same data `wearstream replay`
publishes) served like a device API — a page per UTC day of a window, only the uploads synced by the clock's
now, participants `P0001`, `P0002`, … (whose records the study holds, e.g. from a replay)."""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Final

from producers.simulator import CohortSimulator, ParticipantDay
from producers.simulator.grid import DAY_MS, day_start_ms
from producers.sources.base import Gone, MetricSpec, Page, Window
from producers.sources.batches import cut
from schemas.metrics import METRICS

NAME: Final = "simulator"
LOOKBACK_MS: Final = 2 * DAY_MS
"""Simulated devices sync up to a day or more late (`producers.simulator.uploads`)."""
MAX_WINDOW_MS: Final = 7 * DAY_MS


def participant_number(participant_id: str) -> int:
    """`P0042` → 42; Gone for an id the simulator does not make."""
    digits = participant_id.removeprefix("P")
    if not participant_id.startswith("P") or not digits.isdigit() or int(digits) < 1:
        raise Gone(participant_id, "the simulator makes participants P0001, P0002, … only")
    return int(digits)


class SimulatorSource:
    """`fetch` pages are UTC days (`page` is the next day's start, epoch ms); batches are the simulator's
    uploads cut to the window, each as it would be served once the device synced it."""

    name = NAME

    def __init__(
        self,
        *,
        seed: int,
        start: dt.date,
        metrics: Sequence[str] | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.simulator = CohortSimulator(seed=seed, start=start)
        self._metrics = tuple(metrics or METRICS)
        self._clock = clock or (lambda: int(time.time() * 1000))
        self._day = functools.lru_cache(maxsize=64)(self._simulate)

    def metrics(self) -> Sequence[MetricSpec]:
        return [
            MetricSpec(
                metric=name,
                resolution_ms=int(METRICS[name].resolution_s * 1000),
                lookback_ms=LOOKBACK_MS,
                max_window_ms=MAX_WINDOW_MS,
            )
            for name in self._metrics
        ]

    async def authorise(self, participant_id: str) -> None:
        participant_number(participant_id)

    async def fetch(
        self, participant_id: str, metric: str, window: Window, page: str | None = None
    ) -> AsyncIterator[Page]:
        k = participant_number(participant_id)
        synced_by = self._clock()
        origin = day_start_ms(self.simulator.start, 0)
        begin = window.start_ms if page is None else int(page)
        if begin < origin:  # before the simulation starts there is nothing: one empty page
            more = origin < window.end_ms
            yield Page(batches=[], next_page=str(origin) if more else None)
            if not more:
                return
            begin = origin
        day = (begin - origin) // DAY_MS
        while origin + day * DAY_MS < window.end_ms:
            day_end = origin + (day + 1) * DAY_MS
            batches = [b for b in self._day(k, day).batches if b.metric == metric]
            more = day_end < window.end_ms
            yield Page(batches=cut(batches, window, synced_by_ms=synced_by), next_page=str(day_end) if more else None)
            day += 1

    def _simulate(self, k: int, day: int) -> ParticipantDay:
        return self.simulator.simulate_day(k, day)
