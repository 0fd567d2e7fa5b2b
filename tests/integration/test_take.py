"""How the worker groups what it takes (`stream_processors.take`), on the real stack: a group is processed once
the input pauses, without waiting out its window; no group holds more than `take_max` messages; and the grouped
store equals the ground truth."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from pathlib import Path

from core.settings import Settings
from core.topics import ensure_topics
from producers.replay import ReplayPlan, replay
from producers.simulator import CohortSimulator
from tests.integration.pipeline import (
    assert_database_matches,
    ground_truth,
    isolated,
    start_processor,
    stop_processor,
    wait_for_readings,
)

START = dt.date(2026, 9, 1)
SEED = 5
WINDOW_S = 120


async def test_groups_end_when_the_input_pauses_and_hold_at_most_take_max_messages(
    settings: Settings, database: str, tmp_path: Path
) -> None:
    truth = ground_truth(CohortSimulator(seed=SEED, start=START), 3, 1)
    env = isolated(settings, database)
    env.env.update(
        {
            "WEARSTREAM_PROCESSOR_TAKE_MAX": "7",
            "WEARSTREAM_PROCESSOR_TAKE_WITHIN_S": str(WINDOW_S),
            "WEARSTREAM_PROCESSOR_TAKE_IDLE_S": "0.2",
        }
    )
    await ensure_topics(env.settings.kafka)
    log = tmp_path / "worker.log"
    worker = start_processor(env.env, log)
    try:
        report = await replay(env.settings.kafka, ReplayPlan(participants=3, days=1, seed=SEED, start=START))
        published = time.monotonic()
        assert report.total_readings == truth.total
        await wait_for_readings(database, truth.total, timeout_s=WINDOW_S / 2, process=worker)
        # The last group was stored once the input paused, long before its window would have run out.
        assert time.monotonic() - published < WINDOW_S / 2
        await asyncio.sleep(6)  # the not-synced timer (every 2 s) opens the trailing gaps
        await assert_database_matches(database, truth)
    finally:
        stop_processor(worker)
    groups = [int(n) for n in re.findall(r"stored (\d+) batches", log.read_text())]
    assert max(groups) == 7  # full groups, and none larger
    assert 0 < sum(groups) <= report.messages
