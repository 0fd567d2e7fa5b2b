"""The sources runner on the real Kafka and TimescaleDB, with the simulator as its source and the processor
storing what it publishes: backfill, lookback re-reads that change nothing, cursors across restarts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import asyncpg
import pytest

from core.settings import Settings
from core.topics import ensure_topics
from producers.simulator import CohortSimulator
from producers.simulator.grid import DAY_MS
from producers.sources import cursors
from producers.sources.simulator import LOOKBACK_MS, SimulatorSource
from producers.sources.sync import sync_once
from tests.integration.pipeline import isolated, start_processor, stop_processor
from tests.integration.sources_helpers import (
    enrol,
    expected_counts,
    simulator_start_ms,
    steady_participants,
    wait_for_counts,
    wait_until_consumed,
)

SEED = 11
START = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=5)
METRICS = ("heart_rate", "steps")

pytestmark = pytest.mark.timeout(900)


async def test_backfill_then_lookback_re_reads_change_nothing_and_cursors_survive_restarts(
    settings: Settings, database: str, tmp_path: Path
) -> None:
    env = isolated(settings, database)
    await ensure_topics(env.settings.kafka)
    simulator = CohortSimulator(seed=SEED, start=START)
    ks = steady_participants(simulator, 3)
    await enrol(database, simulator, ks, START)
    now = simulator_start_ms(simulator) + 3 * DAY_MS + 5 * 3_600_000
    worker = start_processor(env.env, tmp_path / "worker.log")
    try:
        # First pass: the backfill from each participant's enrolment (local midnight) to now.
        source = SimulatorSource(seed=SEED, start=START, metrics=METRICS, clock=lambda: now)
        first = await sync_once(env.settings, source, clock=lambda: now)
        assert not first.failed, first.failures
        assert first.participants == 3
        assert first.cursors_ok == 3 * len(METRICS)
        expected = expected_counts(simulator, ks, METRICS, [(0, now)])
        assert first.readings == sum(expected.values())  # windows tile the span: nothing sent twice
        stored = await wait_for_counts(database, expected)
        assert {key: raw for key, (raw, _) in stored.items()} == expected
        assert all(raw == rolled for raw, rolled in stored.values())  # the rollups count each reading once
        saved = await cursors.list_cursors(database_pool := await asyncpg.create_pool(database), source="simulator")
        assert len(saved) == 3 * len(METRICS)
        assert {(c.status, c.fetched_through_ms, c.page_token) for c in saved} == {("ok", now, None)}
        assert sum(c.readings for c in saved) == first.readings

        # A restart (new source, pool and publisher) at the same now: the cursors say where to go on; the
        # lookback re-reads the last two days, and the store does not change.
        again = SimulatorSource(seed=SEED, start=START, metrics=METRICS, clock=lambda: now)
        second = await sync_once(env.settings, again, clock=lambda: now)
        assert not second.failed, second.failures
        assert 0 < second.readings < first.readings
        await wait_until_consumed(env.settings, env.settings.processor.group_id, METRICS)
        assert await wait_for_counts(database, expected) == stored

        # A day later: the new day, and the late uploads of the lookback's days, land; earlier ones stay.
        later = now + DAY_MS
        third = await sync_once(
            env.settings,
            SimulatorSource(seed=SEED, start=START, metrics=METRICS, clock=lambda: later),
            clock=lambda: later,
        )
        assert not third.failed, third.failures
        expected_later = expected_counts(simulator, ks, METRICS, [(0, now), (now - LOOKBACK_MS, later)])
        assert all(expected_later[key] > expected[key] for key in expected)
        await wait_until_consumed(env.settings, env.settings.processor.group_id, METRICS)
        stored_later = await wait_for_counts(database, expected_later)
        assert {key: raw for key, (raw, _) in stored_later.items()} == expected_later
        assert all(raw == rolled for raw, rolled in stored_later.values())
        after = await cursors.list_cursors(database_pool, source="simulator")
        assert {c.fetched_through_ms for c in after} == {later}
        assert all(c.last_success_ms is not None and c.last_error is None for c in after)
        await database_pool.close()
    finally:
        stop_processor(worker)
