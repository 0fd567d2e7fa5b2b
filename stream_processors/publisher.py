"""Where the processor's results go: dead letters, live updates, gap and alert events (Kafka in the app)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec

from schemas.events import AlertEvent, GapEvent, LiveUpdate
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

    async def delivered(self) -> None:
        if self.flush is not None:
            await self.flush()
