"""A group's batches stored in several transactions at once, its participants split between them.

One transaction keeps the worker and PostgreSQL taking turns: while the database merges one transaction's rows
the worker waits, and while the worker builds them the database waits. Two transactions on two connections
overlap the two. Each participant's batches stay together and in their order in one part, so nothing about a
participant changes (its gap lock, its uploads' order, latest-upload-wins); a part that fails is retried and
isolated on its own, and every part is safe to apply again, as a whole group is."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from stream_processors.store import Applied
from stream_processors.validate import ValidBatch

SPLIT_MIN_READINGS: Final = 20_000
"""A smaller group stays one transaction: each transaction has fixed work (locks, uploads, gaps, summaries, the
nightly step, the commit), which two transactions of a few readings would each pay for little overlap."""


def by_participant(batches: Sequence[ValidBatch], parts: int) -> list[list[ValidBatch]]:
    """At most `parts` non-empty lists of `batches`: each participant's batches in one list, in their order, the
    participants dealt out (most readings first) to the list with the fewest readings so far."""
    readings: dict[str, int] = {}
    for b in batches:
        readings[b.batch.participant_id] = readings.get(b.batch.participant_id, 0) + len(b.timestamps)
    count = max(1, min(parts, len(readings)))
    loads = [0] * count
    part_of: dict[str, int] = {}
    for participant, n in sorted(readings.items(), key=lambda item: (-item[1], item[0])):
        k = loads.index(min(loads))
        part_of[participant] = k
        loads[k] += n
    found: list[list[ValidBatch]] = [[] for _ in range(count)]
    for b in batches:
        found[part_of[b.batch.participant_id]].append(b)
    return found


async def apply_in_parts(
    apply: Callable[[list[ValidBatch]], Awaitable[Applied]],
    batches: Sequence[ValidBatch],
    parts: int,
    *,
    min_readings: int = SPLIT_MIN_READINGS,
) -> Applied:
    """`apply` over the parts of `batches` at once (a group of fewer than `min_readings` readings is one part);
    what they stored, summed. Every part runs to its end (its transaction commits or rolls back) before the
    first error, if any, is raised."""
    split = by_participant(batches, parts if sum(len(b.timestamps) for b in batches) >= min_readings else 1)
    if len(split) <= 1:
        return await apply(list(batches))
    results = await asyncio.gather(*(apply(part) for part in split), return_exceptions=True)
    total = Applied()
    for result in results:
        if isinstance(result, BaseException):
            raise result
        total = total + result
    return total
