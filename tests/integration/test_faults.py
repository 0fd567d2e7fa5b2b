"""Hostile input and faults against a real worker, Kafka and TimescaleDB: a stream of bad messages among good
ones, a bad zone across restarts, a topic paused by its dead-letter limit, and a kill -9 between commit and
publish."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import numpy as np
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from api.live.hub import LiveHub
from core.settings import Settings
from core.topics import ensure_topics
from schemas import topics
from schemas.events import decode_gap_event
from schemas.participants import Participant, encode_participant
from schemas.readings import encode_batch, make_batch
from tests.hostile import KINDS, HostileGenerator
from tests.integration.pipeline import isolated, start_processor, stop_processor

MINUTE = 60_000


def now_ms() -> int:
    return int(time.time() * 1000)


async def produce(bootstrap: str, messages: list[tuple[str, bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        for topic, key, value in messages:
            await producer.send(topic, key=key, value=value)
        await producer.flush()
    finally:
        await producer.stop()


async def read_all(bootstrap: str, topic: str, *, at_least: int = 0, timeout_s: float = 5.0) -> list[ConsumerRecord]:
    """Every record of `topic` from the beginning: waits until `at_least` arrived (or the timeout), then for
    the topic to stay quiet for a second."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    records: list[ConsumerRecord] = []
    deadline = time.monotonic() + timeout_s
    quiet_since = time.monotonic()
    try:
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            fresh = [record for batch in batches.values() for record in batch]
            records.extend(fresh)
            if fresh:
                quiet_since = time.monotonic()
            elif len(records) >= at_least and time.monotonic() - quiet_since > 1.0:
                break
    finally:
        await consumer.stop()
    return records


async def readings_of(database_url: str, prefix: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        return int(
            await connection.fetchval(
                "SELECT coalesce(sum(n), 0) FROM raw_segments WHERE participant_id LIKE $1", prefix + "%"
            )
        )
    finally:
        await connection.close()


async def wait_for(
    check: Callable[[], Awaitable[bool]], *, timeout_s: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the worker exited with {process.returncode}")
        if await check():
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"not reached within {timeout_s} s")


async def wait_for_readings(
    database_url: str, prefix: str, expected: int, *, timeout_s: float, process: subprocess.Popen[bytes]
) -> None:
    async def stored() -> bool:
        return await readings_of(database_url, prefix) >= expected

    await wait_for(stored, timeout_s=timeout_s, process=process)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


async def test_hostile_stream_is_dead_lettered_with_reasons_and_every_good_reading_stored(
    settings: Settings, database: str, tmp_path: Path
) -> None:
    env = isolated(settings, database)
    await ensure_topics(env.settings.kafka)
    prefix, bootstrap = env.settings.kafka.topic_prefix, env.settings.kafka.bootstrap_servers
    generator = HostileGenerator(seed=12, now_ms=now_ms())
    kinds = [kind for kind in KINDS if kind != "huge"]  # larger than the broker's message limit: unit-tested
    messages: list[tuple[str, bytes | None, bytes]] = []
    bad: Counter[tuple[bytes, bytes]] = Counter()
    good_readings = 0
    for metric in ("heart_rate", "steps", "hrv_rmssd"):
        topic = topics.readings_topic(prefix, metric)
        for i in range(150):
            if i % 3 == 0:
                message = generator.good(metric, participant_id=f"FG{metric[:2]}{i:04d}")
                messages.append((topic, message.participant_id.encode(), message.payload))
                good_readings += message.readings
            else:
                key = f"K{metric[:2]}{i}".encode()
                message = generator.bad(metric, kinds[i % len(kinds)])
                messages.append((topic, key, message.payload))
                bad[(key, message.payload)] += 1
    await produce(bootstrap, messages)

    worker_env = {**env.env, "WEARSTREAM_PROCESSOR_DEADLETTER_MAX_RATIO": "0.99"}  # two thirds are bad by design
    worker = start_processor(worker_env, tmp_path / "worker.log")
    try:
        await wait_for_readings(database, "FG", good_readings, timeout_s=180, process=worker)
        letters = await read_all(bootstrap, topics.deadletter_topic(prefix), at_least=bad.total(), timeout_s=120)
        assert worker.poll() is None  # 0 worker exits
    finally:
        stop_processor(worker)
    assert await readings_of(database, "FG") == good_readings
    dead: Counter[tuple[bytes, bytes]] = Counter()
    for record in letters:
        headers = dict(record.headers)
        assert headers["wearstream-dlq-kind"] == b"message"
        assert headers["wearstream-dlq-reason"].strip()
        dead[(record.key, record.value)] += 1
    assert dead == bad  # each bad message once, under its own key; no good one


async def test_a_bad_zone_is_dead_lettered_once_across_restarts_and_good_data_is_stored(
    settings: Settings, database: str, tmp_path: Path
) -> None:
    env = isolated(settings, database)
    await ensure_topics(env.settings.kafka)
    prefix, bootstrap = env.settings.kafka.topic_prefix, env.settings.kafka.bootstrap_servers
    hr_topic, people = topics.readings_topic(prefix, "heart_rate"), topics.participants_topic(prefix)
    start = now_ms() - 3 * 86_400_000

    def batch(k: int, timezone: str) -> bytes:
        ts = start + k * 10 * MINUTE + np.arange(60) * 1000
        return encode_batch(
            make_batch(
                participant_id="PZ01",
                metric="heart_rate",
                device_id="charge6-1",
                sync_time=int(ts[-1]) + 1000,
                timestamps=ts,
                values=np.full(60, 70),
                timezone=timezone,
            )
        )

    def participant(pid: str, timezone: str) -> bytes:
        return encode_participant(
            Participant(participant_id=pid, enrolled_on=dt.date.today() - dt.timedelta(days=10), timezone=timezone)
        )

    await produce(
        bootstrap,
        [
            (people, b"PZ01", participant("PZ01", "Europe/Paris")),
            (people, b"PZ02", participant("PZ02", "Mars/Olympus_Mons")),
            (people, b"PZ\x0003", participant("PZ\x0003", "UTC")),
            (hr_topic, b"PZ01", batch(0, "Mars/Olympus_Mons")),
            *((hr_topic, b"PZ01", batch(k, "Europe/Paris")) for k in range(1, 6)),
        ],
    )
    deadletter = topics.deadletter_topic(prefix)
    expected = 5 * 60
    for restart in range(3):
        worker = start_processor(env.env, tmp_path / f"worker-{restart}.log")
        try:
            await wait_for_readings(database, "PZ", expected, timeout_s=120, process=worker)
            await asyncio.sleep(3)  # time to re-publish, if the dead letters' offsets had not been committed
            assert worker.poll() is None
        finally:
            stop_processor(worker)
        letters = await read_all(bootstrap, deadletter, at_least=3, timeout_s=30)
        reasons = sorted(dict(r.headers)["wearstream-dlq-reason"].decode() for r in letters)
        assert len(letters) == 3, reasons  # once each, after every restart
        assert sum("timezone 'Mars/Olympus_Mons'" in r for r in reasons) == 2
        assert sum("NUL" in r for r in reasons) == 1
        assert sorted(r.key for r in letters) == [b"PZ\x0003", b"PZ01", b"PZ02"]
        # More good data after each restart, behind the bad message in the same partition.
        await produce(bootstrap, [(hr_topic, b"PZ01", batch(10 + restart, "Europe/Paris"))])
        expected += 60
    connection = await asyncpg.connect(database)
    try:
        stored = await connection.fetch("SELECT participant_id FROM participants WHERE participant_id LIKE 'PZ%'")
    finally:
        await connection.close()
    assert [r["participant_id"] for r in stored] == ["PZ01"]


async def test_the_dead_letter_limit_pauses_only_its_topic_and_its_letters_are_not_published_again(
    settings: Settings, database: str, tmp_path: Path
) -> None:
    env = isolated(settings, database)
    await ensure_topics(env.settings.kafka)
    prefix, bootstrap = env.settings.kafka.topic_prefix, env.settings.kafka.bootstrap_servers
    steps, hr = topics.readings_topic(prefix, "steps"), topics.readings_topic(prefix, "heart_rate")
    generator = HostileGenerator(seed=3, now_ms=now_ms())
    bad = [(steps, f"S{i}".encode(), generator.bad("steps", "random_bytes").payload) for i in range(150)]
    hr_good = [generator.good("heart_rate", participant_id=f"PL{i:03d}") for i in range(20)]
    await produce(bootstrap, [*bad, *((hr, m.participant_id.encode(), m.payload) for m in hr_good)])
    port = free_port()
    worker_env = {**env.env, "WEARSTREAM_PROCESSOR_METRICS_PORT": str(port)}
    worker = start_processor(worker_env, tmp_path / "worker.log")
    steps_good = [generator.good("steps", participant_id=f"PS{i:03d}") for i in range(10)]
    try:

        async def paused() -> bool:
            try:
                status, body = await asyncio.to_thread(http_get, f"http://127.0.0.1:{port}/healthz")
            except OSError:
                return False
            return status == 503 and steps in json.loads(body)["paused_topics"]

        await wait_for(paused, timeout_s=120, process=worker)
        _, metrics = await asyncio.to_thread(http_get, f"http://127.0.0.1:{port}/metrics")
        assert f'wearstream_processor_topic_paused{{topic="{steps}"}} 1.0'.encode() in metrics
        # The other metric goes on.
        total_hr = sum(m.readings for m in hr_good)
        await wait_for_readings(database, "PL", total_hr, timeout_s=60, process=worker)
        await produce(bootstrap, [(steps, m.participant_id.encode(), m.payload) for m in steps_good])
        await asyncio.sleep(5)
        assert await readings_of(database, "PS") == 0  # paused: nothing more taken from steps
        assert worker.poll() is None
    finally:
        stop_processor(worker)
    first = await read_all(bootstrap, topics.deadletter_topic(prefix), at_least=100, timeout_s=30)
    assert 100 <= len(first) <= 150

    worker = start_processor(env.env, tmp_path / "worker-2.log")
    try:
        total_steps = sum(m.readings for m in steps_good)
        await wait_for_readings(database, "PS", total_steps, timeout_s=120, process=worker)
    finally:
        stop_processor(worker)
    letters = await read_all(bootstrap, topics.deadletter_topic(prefix), at_least=150, timeout_s=30)
    assert Counter((r.key, r.value) for r in letters) == Counter((key, value) for _, key, value in bad)


async def test_gap_events_committed_before_a_kill_9_are_published_after_the_restart_once_per_id(
    settings: Settings, database: str, tmp_path: Path
) -> None:
    env = isolated(settings, database)
    await ensure_topics(env.settings.kafka)
    prefix, bootstrap = env.settings.kafka.topic_prefix, env.settings.kafka.bootstrap_servers
    hr_topic = topics.readings_topic(prefix, "heart_rate")
    start = now_ms() - 3 * 3600_000

    def batch(first_minute: int, minutes: int) -> bytes:
        ts = start + first_minute * MINUTE + np.arange(minutes * 12) * 5000
        return encode_batch(
            make_batch(
                participant_id="PK01",
                metric="heart_rate",
                device_id="charge6-1",
                sync_time=int(ts[-1]) + 1000,
                timestamps=ts,
                values=np.full(len(ts), 64),
            )
        )

    # Three holes of 30 minutes in the heart rate: not_worn gaps.
    await produce(bootstrap, [(hr_topic, b"PK01", batch(k * 60, 30)) for k in range(4)])
    crashing = start_processor({**env.env, "WEARSTREAM_TEST_CRASH_AFTER_COMMIT": "1"}, tmp_path / "crash.log")
    try:
        assert crashing.wait(120) == -9  # SIGKILL: after the commit, before publishing
    finally:
        stop_processor(crashing)
    connection = await asyncpg.connect(database)
    try:
        gaps = await connection.fetch(
            "SELECT kind, ts_to_ms(start_time) AS start_ms FROM gaps WHERE participant_id = 'PK01' ORDER BY 2"
        )
        staged = await connection.fetchval("SELECT count(*) FROM outbox WHERE participant_id = 'PK01'")
    finally:
        await connection.close()
    assert len([g for g in gaps if g["kind"] == "not_worn"]) >= 3
    assert staged > 0
    gaps_topic = topics.gaps_topic(prefix)
    assert await read_all(bootstrap, gaps_topic, timeout_s=3) == []  # lost today: nothing was published

    worker = start_processor(env.env, tmp_path / "worker.log")
    try:

        async def drained() -> bool:
            connection = await asyncpg.connect(database)
            try:
                left = await connection.fetchval("SELECT count(*) FROM outbox WHERE participant_id = 'PK01'")
                return bool(left == 0)
            finally:
                await connection.close()

        await wait_for(drained, timeout_s=90, process=worker)
    finally:
        stop_processor(worker)
    records = await read_all(bootstrap, gaps_topic, at_least=1, timeout_s=30)
    events = [decode_gap_event(r.value) for r in records]
    assert all(e.event_id for e in events)
    published = {(e.kind, e.start_ms) for e in events if e.participant_id == "PK01"}
    assert {(g["kind"], g["start_ms"]) for g in gaps} <= published

    hub = LiveHub(env.settings.kafka, queue_size=10_000, enabled=False)
    client = hub.subscribe_events()
    for record in [*records, *records]:  # the same events delivered again: each id reaches the client once
        hub.dispatch(gaps_topic, record.value)
    seen = [json.loads(message)["event_id"] for message in client._queue]
    assert sorted(seen) == sorted({e.event_id for e in events})
