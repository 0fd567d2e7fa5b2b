"""Token buckets and backoff of the sources runner, on a fake clock (looptime: the event loop's time jumps
ahead whenever every task waits, so a minute of limits takes milliseconds and is exact)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import looptime
import pytest

from producers.sources.limits import Backoff, RateLimits

T = TypeVar("T")


def on_fake_clock(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    loop = looptime.new_event_loop(start=0.0)
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


async def request_times(limits: RateLimits, participant_ids: list[str]) -> list[tuple[str, float]]:
    """Acquires once per entry, concurrently; returns (participant, loop time) of each grant."""
    loop = asyncio.get_running_loop()
    granted: list[tuple[str, float]] = []

    async def one(participant_id: str) -> None:
        await limits.acquire(participant_id)
        granted.append((participant_id, loop.time()))

    await asyncio.gather(*(one(p) for p in participant_ids))
    return granted


def most_in_any_window(times: list[float], window_s: float) -> int:
    times = sorted(times)
    best = 0
    j = 0
    for i, t in enumerate(times):
        while times[j] <= t - window_s:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_a_user_gets_a_burst_of_the_bucket_then_the_rate_and_never_more() -> None:
    limits = RateLimits(per_user=300, per_project=120_000)
    granted = on_fake_clock(lambda: request_times(limits, ["P1"] * 900))
    times = [t for _, t in granted]
    # The full bucket: 300 at once; then 5 a second (300/min), so 900 take two more minutes.
    assert sum(1 for t in times if t == 0.0) == 300
    assert max(times) == pytest.approx(120.0, abs=0.5)
    # Leaky bucket: in any 60 s the grants are at most the capacity plus what leaked meanwhile (2 × 300).
    assert most_in_any_window(times, 60.0) <= 600
    # After the burst the steady rate is 5/s: never more than 5 (+1 at an edge) in any one second.
    later = [t for t in times if t >= 1.0]
    assert most_in_any_window(later, 1.0) <= 6


def test_users_have_their_own_buckets_but_share_the_project_one() -> None:
    limits = RateLimits(per_user=10, per_project=25, period_s=60)
    users = [f"P{i}" for i in range(5)] * 10  # 50 requests, 10 per user
    granted = on_fake_clock(lambda: request_times(limits, users))
    at_once = [p for p, t in granted if t == 0.0]
    # The project's 25 at once, whichever users; none over its own 10.
    assert len(at_once) == 25
    assert max(at_once.count(p) for p in set(at_once)) <= 10
    times = [t for _, t in granted]
    assert len(times) == 50
    # The remaining 25 at the project's rate (25/min): about 60 s for the lot.
    assert max(times) == pytest.approx(60.0, abs=3.0)
    for p in {p for p, _ in granted}:
        own = [t for q, t in granted if q == p]
        assert most_in_any_window(own, 60.0) <= 20


def test_an_idle_bucket_refills_for_a_new_burst() -> None:
    limits = RateLimits(per_user=60, per_project=1000)

    async def main() -> list[float]:
        first = await request_times(limits, ["P1"] * 60)
        await asyncio.sleep(60)
        second = await request_times(limits, ["P1"] * 60)
        return [t for _, t in first + second]

    times = on_fake_clock(main)
    assert times[:60] == [0.0] * 60
    assert times[60:] == [60.0] * 60


def test_backoff_is_jittered_and_capped() -> None:
    backoff = Backoff(base_s=1.0, cap_s=8.0, rng=random.Random(7))
    delays = [[backoff.delay_s(n) for n in range(8)] for _ in range(200)]
    for n in range(8):
        values = [row[n] for row in delays]
        assert max(values) <= min(8.0, 2.0**n)
        assert min(values) >= 0.0
        assert len(set(values)) > 150  # jittered: retries of many cursors do not line up
    assert max(row[7] for row in delays) > 6.0  # the cap, not the exponent, bounds late retries
