"""The source interface: what every origin of readings (a device API, the simulator, an export file) offers.

A source knows how to authorise a participant and how to fetch one window of one metric for them. It does
not schedule, retry across runs, remember cursors or publish: the runner (`producers.sources.runner`) owns
those, so every source gets the same delivery, delta-load by content, rate limits and progress.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from schemas.readings import ReadingBatch


class SourceError(Exception):
    """A source could not serve a request; `participant_id` says whose, `reason` says why (for the user)."""

    def __init__(self, participant_id: str, reason: str) -> None:
        super().__init__(f"{participant_id}: {reason}")
        self.participant_id = participant_id
        self.reason = reason


class NotAuthorised(SourceError):
    """The participant's grant is missing, expired beyond refresh, or revoked (HTTP 401/403 on refresh)."""


class Gone(SourceError):
    """The service no longer serves this participant or data type (HTTP 410)."""


class RateLimited(SourceError):
    """The service asked us to slow down (HTTP 429); `retry_after_s` is how long it asked for, if it said."""

    def __init__(self, participant_id: str, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(participant_id, reason)
        self.retry_after_s = retry_after_s


class Unavailable(SourceError):
    """The service failed transiently (HTTP 5xx, a timeout, a reset connection) after the source's own retries."""


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open interval [start_ms, end_ms) of epoch milliseconds (UTC)."""

    start_ms: int
    end_ms: int


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """What a source says about one of its metrics: storage resolution, lookback for late syncs, window cap."""

    metric: str
    """A wearstream metric name (schemas.metrics)."""
    resolution_ms: int
    """The resolution the source stores the data at (heart rate 1 000, steps 60 000, …)."""
    lookback_ms: int
    """How far back an incremental pull re-reads, because devices sync late (hours or days)."""
    max_window_ms: int
    """The longest window one request may cover (e.g. 14 days for heart-rate roll-ups)."""


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a fetch: its readings (as batches) and where the next page starts."""

    batches: Sequence[ReadingBatch]
    next_page: str | None
    """An opaque token to resume this window from (persisted by the runner), or None after the last page."""
    last_sync_ms: int | None = None
    """The device's latest sync time the service reports, when it reports one."""


class Source(Protocol):
    """An origin of readings. Implementations: the Google Health API connector, the simulator, export files."""

    name: str
    """Stable identifier, stored with cursors and grants (e.g. "google_health", "simulator")."""

    def metrics(self) -> Sequence[MetricSpec]:
        """The metrics this source can deliver."""
        ...

    async def authorise(self, participant_id: str) -> None:
        """Makes sure a valid credential exists (refreshing it if due); raises NotAuthorised otherwise."""
        ...

    def fetch(self, participant_id: str, metric: str, window: Window, page: str | None = None) -> AsyncIterator[Page]:
        """The pages of one window, starting at `page` (a token from an earlier Page) or at the beginning."""
        ...
