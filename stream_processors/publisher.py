"""Where the processor's results go: dead letters, live updates, gap and alert events (Kafka in the app)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import msgspec

from schemas.events import AlertEvent, GapEvent, LiveUpdate
from stream_processors import metric_defs as m
from stream_processors.deadletter import DeadLetter


class Publisher(msgspec.Struct, frozen=True):
    """Where results go. `dead_letter` must only return once the broker has the message; `live`, `gap` and
    `alert` may return once the message is sent, and `flush` then returns once the broker has all that was
    sent (raising if any was refused). Without `alert`, alert events stay in the outbox."""

    dead_letter: Callable[[DeadLetter], Awaitable[None]]
    live: Callable[[LiveUpdate], Awaitable[None]]
    gap: Callable[[GapEvent], Awaitable[None]]
    flush: Callable[[], Awaitable[None]] | None = None
    alert: Callable[[AlertEvent], Awaitable[None]] | None = None

    async def events(
        self, live: Sequence[LiveUpdate], gap_events: Sequence[GapEvent], alerts: Sequence[AlertEvent]
    ) -> list[str]:
        """Publishes gap events, live updates and (with `alert`) alert events, in that order, and returns their
        ids once the broker has them all. Raises if any was refused."""
        published: list[str] = []
        for event in gap_events:
            m.GAP_EVENTS.labels(event.kind, event.state).inc()
            await self.gap(event)
            m.OUTBOX_PUBLISHED.labels("gap", "inline").inc()
            published.append(event.event_id)
        for update in live:
            await self.live(update)
            m.OUTBOX_PUBLISHED.labels("live", "inline").inc()
            published.append(update.event_id)
        if self.alert is not None:
            for alert in alerts:
                await self.alert(alert)
                m.OUTBOX_PUBLISHED.labels("alert", "inline").inc()
                published.append(alert.event_id)
        await self.delivered()
        return published

    async def delivered(self) -> None:
        if self.flush is not None:
            await self.flush()
