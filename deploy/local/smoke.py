"""An end-to-end check of the running stack: a Kafka round trip through a consumer group, and a hypertable."""

from __future__ import annotations

import time
import uuid

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from core.settings import Settings


async def kafka_round_trip(bootstrap_servers: str, *, messages: int = 100) -> float:
    """Produces `messages` to a fresh topic, reads them back with a consumer group; returns seconds taken."""
    topic = f"wearstream-smoke-{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    started = time.perf_counter()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            for i in range(messages):
                await producer.send(topic, key=str(i % 7).encode(), value=f"m{i}".encode())
            await producer.flush()
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap_servers,
            group_id=f"{topic}-group",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            seen: set[bytes] = set()
            deadline = time.monotonic() + 30
            while len(seen) < messages and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=1000)
                for records in batches.values():
                    seen.update(r.value for r in records if r.value is not None)
            await consumer.commit()
        finally:
            await consumer.stop()
        if len(seen) != messages:
            raise RuntimeError(f"kafka round trip: read back {len(seen)} of {messages} messages")
        return time.perf_counter() - started
    finally:
        await admin.delete_topics([topic])
        await admin.close()


async def hypertable_round_trip(dsn: str) -> int:
    """Creates a temporary hypertable, fills an hour of rows, returns the number of 1-minute buckets."""
    connection = await asyncpg.connect(dsn)
    table = f"smoke_{uuid.uuid4().hex[:12]}"
    transaction = connection.transaction()
    await transaction.start()
    try:
        await connection.execute(f"CREATE TABLE {table} (time timestamptz NOT NULL, value double precision)")
        await connection.execute(f"SELECT create_hypertable('{table}', by_range('time'))")
        await connection.execute(
            f"INSERT INTO {table} SELECT t, 60 FROM generate_series("
            "'2026-01-01 00:00+00'::timestamptz, '2026-01-01 00:59:59+00', INTERVAL '1 second') t"
        )
        buckets: int = await connection.fetchval(
            f"SELECT count(*) FROM (SELECT time_bucket('1 minute', time) FROM {table} GROUP BY 1) b"
        )
        return buckets
    finally:
        # Nothing of the check stays behind.
        await transaction.rollback()
        await connection.close()


async def smoke(settings: Settings) -> list[str]:
    seconds = await kafka_round_trip(settings.kafka.bootstrap_servers)
    buckets = await hypertable_round_trip(settings.database.url)
    if buckets != 60:
        raise RuntimeError(f"time_bucket over an hour of seconds gave {buckets} buckets, expected 60")
    return [
        f"kafka: 100 messages produced and consumed through a consumer group in {seconds:.2f} s",
        "timescaledb: hypertable created, 3,600 rows bucketed into 60 one-minute buckets",
    ]
