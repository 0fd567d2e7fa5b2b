"""Replay onto the real broker: exact counts, delta-load, and only the added day on a longer re-run."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from core.settings import Settings
from deploy.local.stack import LocalStack
from producers.replay import ReplayPlan, replay
from producers.simulator import CohortSimulator
from schemas import topics
from schemas.readings import decode_batch
from tests.integration.cleanup import created_prefixes

START = dt.date(2026, 9, 1)


async def read_counts(settings: Settings) -> tuple[Counter[str], Counter[tuple[str, int]]]:
    """Readings per metric, and per (metric, day index), on the prefix's readings topics."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    per_metric: Counter[str] = Counter()
    per_day: Counter[tuple[str, int]] = Counter()
    try:
        partitions = [
            TopicPartition(name, p)
            for name in topics.readings_topics(settings.kafka.topic_prefix)
            for p in range(settings.kafka.partitions)
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in partitions])

        while await behind():
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    batch = decode_batch(record.value)
                    ts = batch.timestamps_array()
                    per_metric[batch.metric] += len(ts)
                    start_ms = int(dt.datetime.combine(START, dt.time(), tzinfo=dt.UTC).timestamp() * 1000)
                    for day, n in Counter(((ts - start_ms) // 86_400_000).tolist()).items():
                        per_day[(batch.metric, day)] += n
    finally:
        await consumer.stop()
    return per_metric, per_day


@pytest.fixture
def isolated(settings: Settings, stack: LocalStack) -> Settings:
    kafka = settings.kafka.model_copy(update={"topic_prefix": f"t{uuid.uuid4().hex[:10]}", "partitions": 3})
    created_prefixes.add(f"{kafka.topic_prefix}.")
    return settings.model_copy(update={"kafka": kafka})


async def test_replay_publishes_exactly_the_simulated_readings_once(isolated: Settings) -> None:
    simulator = CohortSimulator(seed=5, start=START)
    expected: Counter[str] = Counter()
    expected_day3: Counter[str] = Counter()
    for k in range(1, 21):
        for day in range(3):
            for metric, count in simulator.expected_counts(k, day).items():
                (expected_day3 if day == 2 else expected)[metric] += count

    first = await replay(isolated.kafka, ReplayPlan(participants=20, days=2, seed=5, start=START))
    assert first.readings == dict(expected)
    per_metric, _ = await read_counts(isolated)
    assert per_metric == +expected

    again = await replay(isolated.kafka, ReplayPlan(participants=20, days=2, seed=5, start=START))
    assert again.total_readings == 0
    assert again.skipped_participant_days == 40

    # The start is remembered; only day 3 is new.
    third = await replay(isolated.kafka, ReplayPlan(participants=20, days=3, seed=5))
    assert third.start == START
    assert third.readings == dict(expected_day3)
    assert third.participant_days == 20
    per_metric, per_day = await read_counts(isolated)
    assert per_metric == +(expected + expected_day3)
    assert {metric: n for (metric, day), n in per_day.items() if day == 2} == dict(+expected_day3)


async def test_paced_replay_publishes_the_same_readings_in_sync_time_order(isolated: Settings) -> None:
    simulator = CohortSimulator(seed=9, start=START)
    expected: Counter[str] = Counter()
    for k in (1, 2):
        for metric, count in simulator.expected_counts(k, 0).items():
            expected[metric] += count
    # 100,000× real time: a simulated day takes under a second; uploads days late arrive seconds later.
    report = await replay(isolated.kafka, ReplayPlan(participants=2, days=1, seed=9, start=START, speed=100_000))
    assert report.readings == dict(expected)
    per_metric, _ = await read_counts(isolated)
    assert per_metric == +expected
    again = await replay(isolated.kafka, ReplayPlan(participants=2, days=1, seed=9, start=START, speed=100_000))
    assert again.total_readings == 0
