"""A group split into parts by participant: every batch in exactly one part, each participant's batches together
and in their order, the parts balanced by readings; applying the parts sums what each stored, runs them at once
(a group too small to split as one), and raises a part's error only after every part has finished."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from stream_processors.parts import apply_in_parts, by_participant
from stream_processors.store import Applied
from stream_processors.validate import DAY_MS, ValidBatch
from tests import factories

NOW = 1_780_000_000_000


def _batches(sizes: list[tuple[str, int]]) -> list[ValidBatch]:
    found = []
    for k, (participant, n) in enumerate(sizes):
        ts = NOW - 2 * DAY_MS + k * 10_000_000 + np.arange(n) * 1000
        found.append(
            factories.valid_batch(factories.reading_batch(participant, "heart_rate", ts, ts % 60 + 50), now_ms=NOW)
        )
    return found


def test_each_participant_in_one_part_in_order_and_balanced() -> None:
    sizes = [("a", 900), ("b", 100), ("a", 50), ("c", 500), ("d", 450), ("b", 30), ("e", 1), ("c", 2)]
    batches = _batches(sizes)
    parts = by_participant(batches, 2)
    assert len(parts) == 2
    assert sorted(id(b) for part in parts for b in part) == sorted(id(b) for b in batches)
    for part in parts:
        assert [batches.index(b) for b in part] == sorted(batches.index(b) for b in part)
    owners = [{b.batch.participant_id for b in part} for part in parts]
    assert owners[0].isdisjoint(owners[1])
    loads = [sum(len(b.timestamps) for b in part) for part in parts]
    assert sorted(loads) == [953, 1080]  # a + b (950 + 130) against c + d + e (502 + 450 + 1)
    assert by_participant(batches, 1) == [batches]
    assert len(by_participant(_batches([("a", 5), ("a", 6)]), 4)) == 1
    assert by_participant([], 2) == [[]]


def test_parts_run_at_once_and_sum() -> None:
    batches = _batches([("a", 10), ("b", 20), ("c", 30)])
    running = 0
    most = 0

    async def apply(part: list[ValidBatch]) -> Applied:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        running -= 1
        return Applied(batches=len(part), readings=sum(len(b.timestamps) for b in part))

    total = asyncio.run(apply_in_parts(apply, batches, 2, min_readings=60))
    assert (total.batches, total.readings, most) == (3, 60, 2)
    most = 0
    total = asyncio.run(apply_in_parts(apply, batches, 2, min_readings=61))  # too small to split
    assert (total.batches, total.readings, most) == (3, 60, 1)


def test_an_error_is_raised_after_every_part_finished() -> None:
    batches = _batches([("a", 10), ("b", 20)])
    finished: list[str] = []

    async def apply(part: list[ValidBatch]) -> Applied:
        participant = part[0].batch.participant_id
        if participant == "b":
            raise RuntimeError("part b failed")
        await asyncio.sleep(0.02)
        finished.append(participant)
        return Applied(batches=len(part))

    with pytest.raises(RuntimeError, match="part b failed"):
        asyncio.run(apply_in_parts(apply, batches, 2, min_readings=0))
    assert finished == ["a"]
