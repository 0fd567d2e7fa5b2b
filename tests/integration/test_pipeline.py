"""End to end on the real stack: simulator → replay → Kafka → faust worker → TimescaleDB equals ground truth,
with the worker killed, the offsets reset, the database stopped, and malformed input."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg
import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from core.settings import Settings
from core.topics import ensure_topics
from deploy.local.stack import LocalStack
from producers.replay import ReplayPlan, replay
from producers.simulator import CohortSimulator
from schemas import topics
from schemas.readings import encode_batch, make_batch
from tests.integration.pipeline import (
    Truth,
    assert_database_matches,
    ground_truth,
    isolated,
    start_processor,
    stop_processor,
    stored_readings,
    wait_for_readings,
)

START = dt.date(2026, 9, 1)
SEED = 11
PARTICIPANTS = 20
DAYS = 2


@pytest.fixture(scope="module")
def truth() -> Truth:
    return ground_truth(CohortSimulator(seed=SEED, start=START), PARTICIPANTS, DAYS)


async def snapshot(database_url: str) -> dict[str, list[asyncpg.Record]]:
    queries = {
        "rollup_1m": "SELECT * FROM rollup_1m ORDER BY 1, 2, 3",
        "rollup_1h": "SELECT * FROM rollup_1h ORDER BY 1, 2, 3",
        "rollup_1d": "SELECT * FROM rollup_1d ORDER BY 1, 2, 3",
        "state": "SELECT * FROM participant_metric_state ORDER BY 1, 2",
        "raw": "SELECT participant_id, metric_id, start_time, batch_id, n FROM raw_segments ORDER BY 1, 2, 3, 4",
        "gaps": "SELECT participant_id, kind, start_time, end_time FROM gaps ORDER BY 1, 2, 3",
    }
    connection = await asyncpg.connect(database_url)
    try:
        return {name: await connection.fetch(sql) for name, sql in queries.items()}
    finally:
        await connection.close()


async def test_replay_through_the_worker_equals_ground_truth_and_reprocessing_changes_nothing(
    settings: Settings, database: str, truth: Truth, tmp_path: Path
) -> None:
    env = isolated(settings, database)
    await ensure_topics(env.settings.kafka)
    worker = start_processor(env.env, tmp_path / "worker.log")
    try:
        report = await replay(
            env.settings.kafka, ReplayPlan(participants=PARTICIPANTS, days=DAYS, seed=SEED, start=START)
        )
        assert report.total_readings == truth.total
        await wait_for_readings(database, truth.total, timeout_s=300, process=worker)
        await asyncio.sleep(6)  # the not-synced timer (every 2 s) opens the trailing gaps
        await assert_database_matches(database, truth)
    finally:
        stop_processor(worker)
    # Compacted raw storage holds the same readings, and still recognises every batch when re-consumed.
    compacted = wearstream_command(env.env, "db", "compact", "--settle", "0")
    assert "compacted" in compacted
    await assert_database_matches(database, truth)
    before = await snapshot(database)

    # A new consumer group re-reads every message from the start: the database does not change.
    again = dict(env.env, WEARSTREAM_PROCESSOR_GROUP_ID=env.env["WEARSTREAM_PROCESSOR_GROUP_ID"] + "-again")
    worker = start_processor(again, tmp_path / "worker-again.log")
    try:
        await wait_until_group_caught_up(env.settings, again["WEARSTREAM_PROCESSOR_GROUP_ID"], worker)
    finally:
        stop_processor(worker)
    assert await snapshot(database) == before


def wearstream_command(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "wearstream", *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


async def wait_until_group_caught_up(settings: Settings, group: str, worker: object, timeout_s: float = 240) -> None:
    """Waits until the group's committed offsets reach the end of every readings topic."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers)
    await admin.start()
    await consumer.start()
    try:
        names = set(topics.readings_topics(settings.kafka.topic_prefix))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            committed = await admin.list_consumer_group_offsets(group)
            relevant = {tp: meta.offset for tp, meta in committed.items() if tp.topic in names}
            if relevant:
                ends = await consumer.end_offsets(list(relevant))
                if all(relevant[tp] >= ends[tp] for tp in relevant) and len(relevant) == len(names) * 3:
                    return
            await asyncio.sleep(1)
        raise AssertionError(f"group {group} did not catch up in {timeout_s} s")
    finally:
        await consumer.stop()
        await admin.close()


async def test_worker_killed_mid_replay_loses_nothing_and_counts_nothing_twice(
    settings: Settings, database: str, truth: Truth, tmp_path: Path
) -> None:
    connection = await asyncpg.connect(database)
    await connection.execute(
        "TRUNCATE raw_segments, rollup_1m, rollup_1h, rollup_1d, uploads, participant_metric_state, gaps,"
        " participants CASCADE"
    )
    await connection.close()
    env = isolated(settings, database)
    await ensure_topics(env.settings.kafka)
    worker = start_processor(env.env, tmp_path / "worker.log")
    replaying = asyncio.create_task(
        replay(env.settings.kafka, ReplayPlan(participants=PARTICIPANTS, days=DAYS, seed=SEED, start=START))
    )
    try:
        while await stored_readings(database) < truth.total // 4:
            assert worker.poll() is None
            await asyncio.sleep(0.2)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        partial = await stored_readings(database)
        assert partial < truth.total
        worker = start_processor(env.env, tmp_path / "worker-restarted.log")
        await replaying
        await wait_for_readings(database, truth.total, timeout_s=300, process=worker)
        await asyncio.sleep(6)
        await assert_database_matches(database, truth)
    finally:
        stop_processor(worker)


async def test_database_outage_mid_replay_loses_nothing(
    settings: Settings, stack: LocalStack, database: str, truth: Truth, tmp_path: Path
) -> None:
    connection = await asyncpg.connect(database)
    await connection.execute(
        "TRUNCATE raw_segments, rollup_1m, rollup_1h, rollup_1d, uploads, participant_metric_state, gaps,"
        " participants CASCADE"
    )
    await connection.close()
    env = isolated(settings, database)
    await ensure_topics(env.settings.kafka)
    worker = start_processor(env.env, tmp_path / "worker.log")
    try:
        await replay(env.settings.kafka, ReplayPlan(participants=PARTICIPANTS // 2, days=1, seed=SEED, start=START))
        await wait_for_readings(database, 1, timeout_s=120, process=worker)
        stack.postgres.stop(print)
        await replay(env.settings.kafka, ReplayPlan(participants=PARTICIPANTS, days=DAYS, seed=SEED, start=START))
        await asyncio.sleep(20)
        assert worker.poll() is None, "the worker must wait for the database, not exit"
        stack.postgres.start(print)
        await wait_for_readings(database, truth.total, timeout_s=300, process=worker)
        await asyncio.sleep(6)
        await assert_database_matches(database, truth)
    finally:
        stop_processor(worker)


async def test_malformed_messages_reach_the_dead_letter_topic_with_reasons(
    settings: Settings, database: str, tmp_path: Path
) -> None:
    env = isolated(settings, database)
    await ensure_topics(env.settings.kafka)
    prefix = env.settings.kafka.topic_prefix
    now = int(dt.datetime.now(dt.UTC).timestamp() * 1000)

    def batch(values: list[int], ts: list[int], metric: str = "heart_rate") -> bytes:
        return encode_batch(
            make_batch(participant_id="PBAD", metric=metric, device_id="d", sync_time=now, timestamps=ts, values=values)
        )

    hr_topic = topics.readings_topic(prefix, "heart_rate")
    bad = {
        b"\xc1 random bytes": "decode",
        msgspec.msgpack.encode({"participant_id": 7}): "schema",
        batch([300, 400], [now - 2000, now - 1000]): "no valid readings",
        batch([70, 71], [now + 5 * 86_400_000, now + 5 * 86_400_001]): "no valid readings",
        batch([70, 71], [now - 1000, now], metric="steps"): "on the topic of",
        batch([60, 300, 61], [now - 3000, now - 2000, now - 1000]): "1 of 3 readings rejected",
    }
    producer = AIOKafkaProducer(bootstrap_servers=env.settings.kafka.bootstrap_servers)
    await producer.start()
    for payload in bad:
        await producer.send_and_wait(hr_topic, key=b"PBAD", value=payload)
    await producer.send_and_wait(
        hr_topic,
        key=b"PGOOD",
        value=encode_batch(
            make_batch(
                participant_id="PGOOD",
                metric="heart_rate",
                device_id="d",
                sync_time=now,
                timestamps=[now - 1000, now],
                values=[70, 71],
            )
        ),
    )
    await producer.stop()

    worker = start_processor(env.env, tmp_path / "worker.log")
    try:
        consumer = AIOKafkaConsumer(
            topics.deadletter_topic(prefix),
            bootstrap_servers=env.settings.kafka.bootstrap_servers,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        letters: dict[bytes, str] = {}
        try:
            async with asyncio.timeout(120):
                while len(letters) < len(bad):
                    for records in (await consumer.getmany(timeout_ms=1000)).values():
                        for record in records:
                            headers = dict(record.headers)
                            assert headers["wearstream-dlq-topic"] == hr_topic.encode()
                            assert int(headers["wearstream-dlq-offset"]) >= 0
                            letters[record.value] = headers["wearstream-dlq-reason"].decode()
        finally:
            await consumer.stop()
        for payload, reason in bad.items():
            assert reason in letters[payload], (reason, letters[payload])
        await wait_for_readings(database, 4, timeout_s=60, process=worker)  # 2 good + the 2 kept of the partial
        assert worker.poll() is None
    finally:
        stop_processor(worker)
