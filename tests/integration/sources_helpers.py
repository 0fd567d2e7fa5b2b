"""Helpers of the sources-runner tests: simulator participants with records, the readings a pull must land,
the store's counts, and waiting until the processor has consumed everything published."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence

import asyncpg
import msgspec
import numpy as np
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from core.settings import Settings
from producers.simulator import CohortSimulator
from producers.simulator.grid import DAY_MS
from producers.sources import cursors
from producers.sources.windows import enrolment_ms
from schemas import topics
from stream_processors import participant_records as records


def steady_participants(simulator: CohortSimulator, n: int, first_k: int = 1) -> list[int]:
    """n participant numbers from `first_k` on who are authorised, enrolled by day 0 and never drop out."""
    found: list[int] = []
    k = first_k
    while len(found) < n:
        traits = simulator.traits(k)
        if traits.authorisation == "authorised" and traits.enrolment_day <= 0 and traits.dropout_day is None:
            found.append(k)
        k += 1
    return found


async def enrol(database_url: str, simulator: CohortSimulator, ks: Sequence[int], enrolled_on: dt.date) -> None:
    """The participants' records as the study holds them, enrolled on `enrolled_on`, authorised."""
    connection = await asyncpg.connect(database_url)
    try:
        for k in ks:
            record = msgspec.structs.replace(
                simulator.participant_record(k), enrolled_on=enrolled_on, authorisation="authorised"
            )
            await records.create(connection, record, actor="test")
    finally:
        await connection.close()


def served(
    simulator: CohortSimulator, k: int, metric: str, *, since_ms: int, until_ms: int, synced_by_ms: int
) -> np.ndarray:
    """Timestamps of `metric` in [since_ms, until_ms) from the uploads synced by `synced_by_ms`."""
    parts = [np.empty(0, dtype=np.int64)]
    first_day = max(0, (since_ms - simulator_start_ms(simulator)) // DAY_MS)
    last_day = (until_ms - simulator_start_ms(simulator)) // DAY_MS
    for day in range(first_day, last_day + 1):
        for batch in simulator.simulate_day(k, day).batches:
            if batch.metric == metric and batch.sync_time <= synced_by_ms:
                ts = batch.timestamps_array()
                parts.append(ts[(ts >= since_ms) & (ts < until_ms)])
    return np.unique(np.concatenate(parts))


def simulator_start_ms(simulator: CohortSimulator) -> int:
    return int(dt.datetime.combine(simulator.start, dt.time(), tzinfo=dt.UTC).timestamp() * 1000)


async def stored_counts(database_url: str, participant_ids: Sequence[str]) -> dict[tuple[str, str], tuple[int, int]]:
    """(participant, metric) → (raw readings stored, readings counted by the 1-minute rollups)."""
    connection = await asyncpg.connect(database_url)
    try:
        raw = await connection.fetch(
            "SELECT participant_id, m.name AS metric, sum(n) AS n FROM raw_segments JOIN metrics m USING (metric_id)"
            " WHERE participant_id = ANY($1) GROUP BY 1, 2",
            list(participant_ids),
        )
        rolled = await connection.fetch(
            "SELECT participant_id, m.name AS metric, sum(count) AS n FROM rollup_1m JOIN metrics m USING (metric_id)"
            " WHERE participant_id = ANY($1) GROUP BY 1, 2",
            list(participant_ids),
        )
    finally:
        await connection.close()
    minutes = {(r["participant_id"], r["metric"]): int(r["n"]) for r in rolled}
    return {
        (r["participant_id"], r["metric"]): (int(r["n"]), minutes.get((r["participant_id"], r["metric"]), 0))
        for r in raw
    }


async def wait_for_counts(
    database_url: str, expected: dict[tuple[str, str], int], *, timeout_s: float = 180
) -> dict[tuple[str, str], tuple[int, int]]:
    participant_ids = sorted({p for p, _ in expected})
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    found: dict[tuple[str, str], tuple[int, int]] = {}
    while loop.time() < deadline:
        found = await stored_counts(database_url, participant_ids)
        if all(found.get(key, (0, 0))[0] >= n for key, n in expected.items()):
            return found
        await asyncio.sleep(0.5)
    raise AssertionError(f"stored {found}, expected {expected}")


async def wait_until_consumed(settings: Settings, group: str, metrics: Sequence[str], timeout_s: float = 180) -> None:
    """Until the processor's group has committed every message published to the metrics' topics."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers)
    await admin.start()
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topics.readings_topic(settings.kafka.topic_prefix, metric), p)
            for metric in metrics
            for p in range(settings.kafka.partitions)
        ]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            ends = await consumer.end_offsets(partitions)
            committed = await admin.list_consumer_group_offsets(group)
            if all(ends[tp] == 0 or (tp in committed and committed[tp].offset >= ends[tp]) for tp in partitions):
                return
            await asyncio.sleep(0.5)
        raise AssertionError(f"group {group} did not consume everything in {timeout_s} s")
    finally:
        await consumer.stop()
        await admin.close()


def expected_counts(
    simulator: CohortSimulator, ks: Sequence[int], metrics: Sequence[str], pulls: Sequence[tuple[int, int]]
) -> dict[tuple[str, str], int]:
    """Distinct readings that pulls of [since, now) land (each served as at its now), from enrolment on day 0
    (local midnight), per participant × metric."""
    result = {}
    for k in ks:
        traits = simulator.traits(k)
        enrolled = enrolment_ms(simulator.start, traits.timezone)
        for metric in metrics:
            parts = [
                served(simulator, k, metric, since_ms=max(enrolled, since), until_ms=now, synced_by_ms=now)
                for since, now in pulls
            ]
            result[(traits.participant_id, metric)] = len(np.unique(np.concatenate(parts)))
    return result


async def saved_cursors(database_url: str, source: str) -> dict[tuple[str, str], cursors.Cursor]:
    """The source's cursors as stored, by (participant, metric)."""
    connection = await asyncpg.connect(database_url)
    try:
        return {(c.participant_id, c.metric): c for c in await cursors.list_cursors(connection, source=source)}
    finally:
        await connection.close()


async def stored_raw(database_url: str, participant_id: str, metric: str) -> list[tuple[int, float]]:
    """The participant's stored readings of `metric`, (epoch ms, value) in time order, as `raw_readings()` unpacks
    them."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT ts_to_ms(time) AS t, value FROM raw_readings($1, $2, '-infinity', 'infinity') ORDER BY time",
            participant_id,
            metric,
        )
    finally:
        await connection.close()
    return [(int(r["t"]), float(r["value"])) for r in rows]
