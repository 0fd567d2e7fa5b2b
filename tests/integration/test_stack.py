"""The local stack is real: Apache Kafka and TimescaleDB answer, report versions, and survive up/down/up."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import uuid

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from core.settings import Settings
from core.topics import ensure_topics
from deploy.local.kafka import KAFKA_VERSION
from deploy.local.stack import LocalStack
from schemas import topics
from schemas.metrics import METRICS
from schemas.migrate import migrate
from tests.integration.conftest import TopicFactory


def wearstream(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wearstream", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


def test_status_reports_both_components_with_versions(stack: LocalStack) -> None:
    result = wearstream("stack", "status")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert f"kafka {stack.kafka.address} {KAFKA_VERSION}" in lines
    timescale = next(line for line in lines if line.startswith("timescaledb "))
    assert timescale.startswith(f"timescaledb {stack.postgres.address} 2.")
    assert "(postgresql 15." in timescale


async def test_kafka_round_trip_through_a_consumer_group(settings: Settings, topic_factory: TopicFactory) -> None:
    topic = await topic_factory(partitions=3)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for i in range(300):
            await producer.send(topic, key=f"P{i % 10:04d}".encode(), value=str(i).encode())
        await producer.flush()
    finally:
        await producer.stop()

    group = f"group-{uuid.uuid4().hex[:8]}"

    async def consume(expected: int) -> list[int]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=settings.kafka.bootstrap_servers,
            group_id=group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        values: list[int] = []
        try:
            for _ in range(30):
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    values.extend(int(r.value) for r in records if r.value is not None)
                if len(values) >= expected:
                    break
            await consumer.commit()
        finally:
            await consumer.stop()
        return values

    assert sorted(await consume(300)) == list(range(300))
    # The group committed its offsets: a second member of the same group finds nothing left to read.
    assert await consume(0) == []


async def test_hypertable_queried_with_time_bucket(database: str) -> None:
    connection = await asyncpg.connect(database)
    try:
        await connection.execute("CREATE TABLE hr (time timestamptz NOT NULL, bpm smallint NOT NULL)")
        await connection.execute("SELECT create_hypertable('hr', by_range('time', INTERVAL '1 day'))")
        await connection.execute(
            "INSERT INTO hr SELECT t, 60 + extract(minute FROM t)::int FROM generate_series("
            "'2026-03-01 00:00+00'::timestamptz, '2026-03-02 23:59:59+00', INTERVAL '5 seconds') t"
        )
        rows = await connection.fetch(
            "SELECT time_bucket('1 hour', time) AS hour, count(*) AS n, min(bpm), max(bpm)"
            " FROM hr WHERE time >= '2026-03-02' GROUP BY 1 ORDER BY 1"
        )
        chunks = await connection.fetchval("SELECT count(*) FROM show_chunks('hr')")
    finally:
        await connection.close()
    assert len(rows) == 24
    assert all(r["n"] == 720 and r["min"] == 60 and r["max"] == 119 for r in rows)
    assert chunks == 2


async def test_migrations_create_hypertables_and_sync_the_registry_once(database: str) -> None:
    assert await migrate(database) == []  # already applied by the fixture
    connection = await asyncpg.connect(database)
    try:
        hypertables = {
            r["hypertable_name"] for r in await connection.fetch("SELECT * FROM timescaledb_information.hypertables")
        }
        metrics = {r["name"]: r["scale"] for r in await connection.fetch("SELECT name, scale FROM metrics")}
        versions = await connection.fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        await connection.close()
    assert "raw_segments" in hypertables
    assert metrics == {name: m.scale for name, m in METRICS.items()}
    assert versions >= 1


async def test_topics_created_idempotently(settings: Settings, stack: LocalStack) -> None:
    kafka = settings.kafka.model_copy(update={"topic_prefix": f"test{uuid.uuid4().hex[:8]}"})
    created = await ensure_topics(kafka)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    try:
        expected = {
            *topics.readings_topics(kafka.topic_prefix),
            topics.participants_topic(kafka.topic_prefix),
        }
        assert expected <= set(created)
        assert await ensure_topics(kafka) == []
        participants = topics.participants_topic(kafka.topic_prefix)
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, participants)])
        entries = {entry[0]: entry[1] for entry in response.resources[0][4]}
        assert entries["cleanup.policy"] == "compact"
        described = await admin.describe_topics([topics.readings_topic(kafka.topic_prefix, "heart_rate")])
        assert len(described[0]["partitions"]) == kafka.partitions
    finally:
        await admin.delete_topics(created)
        await admin.close()


def test_up_twice_then_down_then_up(stack: LocalStack) -> None:
    """On a stack of its own (own state dir and ports): the shared stack other tests and a demo use keeps running."""
    # Beside the shared state dir, where the `postgres` user can reach it (pytest's tmp_path is private to root).
    state_dir = stack.state_dir.parent / f"{stack.state_dir.name}-test-{uuid.uuid4().hex[:8]}"
    ports = free_ports(3)
    own = {
        **os.environ,
        "WEARSTREAM_STATE_DIR": str(state_dir),
        "WEARSTREAM_KAFKA_PORT": str(ports[0]),
        "WEARSTREAM_KAFKA_CONTROLLER_PORT": str(ports[1]),
        "WEARSTREAM_PG_PORT": str(ports[2]),
    }
    own.pop("WEARSTREAM_KAFKA_BOOTSTRAP_SERVERS", None)
    own.pop("WEARSTREAM_DATABASE_URL", None)
    try:
        first = wearstream("stack", "up", env=own)
        assert first.returncode == 0, first.stderr
        second = wearstream("stack", "up", env=own)
        assert second.returncode == 0, second.stderr
        assert "already running" in second.stderr
        down = wearstream("stack", "down", env=own)
        assert down.returncode == 0, down.stderr
        assert wearstream("stack", "status", env=own).returncode == 1
        again = wearstream("stack", "up", env=own)
        assert again.returncode == 0, again.stderr
        assert wearstream("stack", "status", env=own).returncode == 0
        # A new cluster needs passwords: the owner's is in the state dir, 0600, and no role is a superuser.
        secret = state_dir / "secrets" / "wearstream.password"
        assert secret.stat().st_mode & 0o077 == 0
        check = "import asyncio, asyncpg; from core.settings import load_settings; s = load_settings()\n"
        check += "async def main():\n    c = await asyncpg.connect(s.database.api_dsn)\n"
        check += "    print(await c.fetchval('SELECT current_user || rolsuper::text FROM pg_roles"
        check += " WHERE rolname = current_user'))\nasyncio.run(main())"
        probe = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, env=own, check=False)
        assert probe.stdout.strip() == "wearstream_apifalse", probe.stderr
    finally:
        wearstream("stack", "down", env=own)
        shutil.rmtree(state_dir, ignore_errors=True)
    # The shared stack was never touched.
    assert wearstream("stack", "status").returncode == 0


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()
