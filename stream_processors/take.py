"""Groups of a faust stream's events, taken while the previous group is being stored and acknowledged by the
agent only after it was stored.

faust's own `take_events` buffers nothing while a group is being processed and acknowledges the group when the
next one is asked for; it yields a partial group only when its window (`within`, counted from when it began to
wait) ran out. Here the next group fills while the agent stores the last one (up to `max_events`: the stream
waits beyond that, so memory stays bounded), and a group is handed over as soon as it is full, `idle_s` passed
without a new event (the input paused: nothing is gained by waiting), or `within_s` passed since its first event.
Nothing is acknowledged here: the agent acknowledges each group (`acknowledge`) once it is stored, so a crash
redelivers everything taken and not yet stored.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import faust
from mode.utils.locks import Event


async def take_groups(
    stream: faust.Stream[Any], *, max_events: int, within_s: float, idle_s: float
) -> AsyncIterator[list[Any]]:
    """Groups of at most `max_events` events (faust `EventT`), in the stream's order, none of them acknowledged."""
    pending: list[Any] = []
    first_arrival = last_arrival = 0.0
    arrived = Event()
    full = Event()
    room = Event()
    room.set()

    async def add(value: Any) -> Any:
        nonlocal first_arrival, last_arrival
        while len(pending) >= max_events:
            room.clear()
            await stream.wait(room)
        event = stream.current_event
        if event is None:
            raise RuntimeError("an event arrived without its message (faust's current_event is None)")
        last_arrival = time.monotonic()
        if not pending:
            first_arrival = last_arrival
            arrived.set()
        pending.append(event)
        if len(pending) >= max_events:
            full.set()
        return value

    enable_acks = stream.enable_acks
    stream.enable_acks = False
    stream.add_processor(add)
    # The background drain of the stream that faust's take_events uses: it runs `add` on every event.
    stream._enable_passive(aiter(cast(Any, stream.channel)))
    try:
        while not stream.should_stop:
            if not pending:
                arrived.clear()
                await stream.wait_for_stopped(arrived, timeout=within_s)
                continue
            while len(pending) < max_events:
                wait = min(last_arrival + idle_s, first_arrival + within_s) - time.monotonic()
                if wait <= 0:
                    break
                await stream.wait_for_stopped(full, timeout=wait)
            group = pending[:]
            pending.clear()
            full.clear()
            room.set()
            yield group
    finally:
        stream.enable_acks = enable_acks
        stream._processors.remove(add)


async def acknowledge(stream: faust.Stream[Any], events: Sequence[Any]) -> None:
    """Acknowledges stored events: their offsets are committed with the consumer's next commit."""
    for event in events:
        await stream.ack(event)
