"""Paced replay's queue: simulated uploads held until the simulated clock reaches their sync time, and the
watermarks of their days released only when a day is published completely (late uploads arrive late)."""

from __future__ import annotations

import heapq
import itertools
from collections import Counter

from schemas.readings import ReadingBatch
from schemas.watermarks import Watermark


class PendingUploads:
    """Simulated uploads not yet published, in sync-time order, and the watermarks of their days: a day's
    watermarks are released once it and every day before it are published completely."""

    def __init__(self) -> None:
        self._queue: list[tuple[int, int, ReadingBatch]] = []
        self._sequence = itertools.count()
        self._outstanding: Counter[int] = Counter()
        self._day_of: dict[int, int] = {}
        self._day_marks: dict[int, list[Watermark]] = {}
        self._committed_through = -1

    def push(self, day: int, batch: ReadingBatch) -> None:
        seq = next(self._sequence)
        heapq.heappush(self._queue, (batch.sync_time, seq, batch))
        self._day_of[seq] = day
        self._outstanding[day] += 1

    def add_marks(self, day: int, marks: list[Watermark]) -> None:
        """Records day's watermarks (called at least once per queued day, with no marks for an empty day)."""
        self._day_marks.setdefault(day, []).extend(marks)

    def first_sync_ms(self) -> int | None:
        return self._queue[0][0] if self._queue else None

    def pop(self) -> ReadingBatch:
        """The upload due first."""
        _, seq, batch = heapq.heappop(self._queue)
        self._outstanding[self._day_of.pop(seq)] -= 1
        return batch

    def pop_completed_marks(self) -> list[list[Watermark]]:
        """The watermarks of the days now complete, day by day in order."""
        completed: list[list[Watermark]] = []
        while self._committed_through + 1 in self._day_marks and self._outstanding[self._committed_through + 1] == 0:
            self._committed_through += 1
            completed.append(self._day_marks.pop(self._committed_through))
        return completed
