"""What the processor needs from its store: the seam between the pipeline and the database.

`Sink` (Postgres) implements it; unit tests drive the Processor with an in-memory store. Every method is
one transaction or none: a method that raised changed nothing, and calling it again is safe.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

import msgspec

from schemas.device_daily import DeviceDaily
from schemas.events import AlertEvent, GapEvent, LiveUpdate
from schemas.participants import Participant
from stream_processors.compaction import CompactionReport
from stream_processors.validate import ValidBatch

if TYPE_CHECKING:
    import asyncpg

    StageEvents = Callable[
        [asyncpg.Connection, list[GapEvent], list[LiveUpdate], list[AlertEvent]],
        Awaitable[tuple[list[GapEvent], list[LiveUpdate], list[AlertEvent]]],
    ]
    """Runs last in the transaction with the events it produced (the outbox); returns the events to report."""


class Applied(msgspec.Struct, kw_only=True):
    """What one transaction changed: for metrics, live updates, gap events and alert changes."""

    batches: int = 0
    duplicates: int = 0
    readings: int = 0
    superseded: int = 0
    """Readings (stored or new) that lost their timestamp to a later upload's reading."""
    live: list[LiveUpdate] = []
    gap_events: list[GapEvent] = []
    alerts: list[AlertEvent] = []

    def __add__(self, other: Applied) -> Applied:
        return Applied(
            batches=self.batches + other.batches,
            duplicates=self.duplicates + other.duplicates,
            readings=self.readings + other.readings,
            superseded=self.superseded + other.superseded,
            live=[*self.live, *other.live],
            gap_events=[*self.gap_events, *other.gap_events],
            alerts=[*self.alerts, *other.alerts],
        )


class ParticipantInfo(msgspec.Struct, frozen=True):
    timezone: str
    enrolment_start_ms: int


class Store(Protocol):
    async def participants(self) -> Mapping[str, ParticipantInfo]:
        """Time zones and enrolment starts of known participants (may be cached briefly)."""
        ...

    async def store_group(self, group: Sequence[ValidBatch], *, live_since_ms: int) -> Applied:
        """Stores the batches and writes their events to the outbox in one transaction (live updates only
        for minutes from `live_since_ms` on); returns what was stored. Safe to call again."""
        ...

    async def open_not_synced(self, now_ms: int) -> list[GapEvent]:
        """Opens `not_synced` gaps for participants silent at `now_ms`, their events in the outbox."""
        ...

    async def upsert_participants(self, participants: Sequence[Participant]) -> None: ...

    async def upsert_device_daily(self, messages: Sequence[DeviceDaily]) -> int: ...

    async def drain_outbox(
        self,
        *,
        gap: Callable[[GapEvent], Awaitable[None]],
        live: Callable[[LiveUpdate], Awaitable[None]],
        flush: Callable[[], Awaitable[None]],
        alert: Callable[[AlertEvent], Awaitable[None]] | None,
    ) -> int:
        """Publishes up to one drain batch of outbox leftovers; returns how many."""
        ...

    async def delete_published(self, event_ids: Sequence[str]) -> None:
        """Deletes published events from the outbox."""
        ...

    async def compact(self, *, settle_s: int) -> CompactionReport: ...

    async def apply_retention(self, retention_days: Mapping[str, int | None]) -> dict[str, int]: ...
