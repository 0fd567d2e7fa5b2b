"""`wearstream sources sync --once` killed mid-window and run again, against the Google Health contract server,
with the processor storing what reaches Kafka: the second run resumes at the saved page token, and the store
holds exactly the service's data — the page Kafka acknowledged but the killed run never recorded is delivered
twice and stored once."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Final
from urllib.parse import parse_qs

import asyncpg

from core.settings import Settings
from core.topics import ensure_topics
from producers.simulator import CohortSimulator
from producers.sources.google_health.mapping import DATA_TYPES
from producers.sources.google_health.tokens import SOURCE
from schemas import topics
from schemas.readings import decode_batch
from tests.integration.google_health import Harness, harness, readings_of
from tests.integration.pipeline import isolated, start_processor, stop_processor
from tests.integration.sources_helpers import saved_cursors, stored_counts, stored_raw, wait_until_consumed
from tests.integration.test_faults import read_all

START: Final = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=3)
SIMULATOR: Final = CohortSimulator(seed=11, start=START)
PARTICIPANTS: Final = {"K0001": 1, "K0013": 13}
"""Participant → the simulator's participant number whose first day the service holds (23,000–24,000 heart-rate
readings each: 47–49 pages of PAGE)."""
PAGE: Final = 500
METRICS: Final = tuple(DATA_TYPES)


def account(participant_id: str) -> str:
    return f"{participant_id.lower()}@example.com"


async def enrol(h: Harness, now_ms: int) -> dict[tuple[str, str], list[tuple[int, float]]]:
    """The participants enrolled on START and consented; returns what the service holds for them by metric."""
    held = {}
    for participant_id, k in PARTICIPANTS.items():
        uploads = [b for b in SIMULATOR.simulate_day(k, 0).batches if b.sync_time < now_ms]
        await h.participant(participant_id, account(participant_id), uploads, enrolled_on=START)
        await h.consent(participant_id, account(participant_id))
        for metric in METRICS:
            held[(participant_id, metric)] = readings_of(b for b in uploads if b.metric == metric)
    return held


def text(log: Path) -> str:
    return log.read_text()


def sync(environment: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "wearstream", "sources", "sync", "--once", "--source", SOURCE],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


async def kill_between_acknowledgement_and_cursor(database: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Once every participant's heart-rate window has a few pages recorded, holds the cursors table so the next
    save of each waits — its page already acknowledged by Kafka — then SIGKILLs the run. The waiting saves are
    ended with their process (the server would otherwise complete them for a dead client)."""
    connection = await asyncpg.connect(database)
    blocker = await asyncpg.connect(database)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, text(log)
            assert time.monotonic() < deadline, text(log)
            partial = await connection.fetchval(
                "SELECT count(*) FROM source_cursors WHERE metric = 'heart_rate' AND page_token IS NOT NULL"
                " AND readings >= $1",
                3 * PAGE,
            )
            if partial == len(PARTICIPANTS):
                break
            await asyncio.sleep(0.02)
        held = blocker.transaction()
        await held.start()
        await blocker.execute("LOCK TABLE source_cursors IN EXCLUSIVE MODE")
        waiting: list[int] = []
        while len(waiting) < len(PARTICIPANTS):
            assert time.monotonic() < deadline, f"{len(waiting)} saves waiting\n{text(log)}"
            waiting = [
                r["pid"]
                for r in await connection.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    " AND query LIKE 'INSERT INTO source_cursors%'"
                )
            ]
            await asyncio.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
        for pid in waiting:
            await connection.execute("SELECT pg_terminate_backend($1)", pid)
        await held.rollback()
    finally:
        await blocker.close()
        await connection.close()


async def published_heart_rate(settings: Settings) -> Counter[str]:
    """Heart-rate readings on Kafka by participant, every delivery counted."""
    topic = topics.readings_topic(settings.kafka.topic_prefix, "heart_rate")
    found: Counter[str] = Counter()
    for record in await read_all(settings.kafka.bootstrap_servers, topic):
        batch = decode_batch(record.value)
        found[batch.participant_id] += len(batch)
    return found


def heart_rate_requests(h: Harness, since: int, participant_id: str) -> list[dict[str, list[str]]]:
    """The queries of the participant's heart-rate pages served (HTTP 200) after log entry `since`."""
    return [
        parse_qs(e.query)
        for e in h.state.log[since:]
        if e.account == account(participant_id) and e.path.endswith("/heart-rate/dataPoints") and e.status == 200
    ]


async def test_a_sync_killed_mid_window_resumes_at_its_cursor_and_stores_the_source_exactly(
    settings: Settings, database: str, tmp_path: Path
) -> None:
    env = isolated(settings, database)
    await ensure_topics(env.settings.kafka)
    worker = start_processor(env.env, tmp_path / "worker.log")
    try:
        async with harness(database) as h:
            held = await enrol(h, int(time.time() * 1000))
            environment = env.env | h.environment(page_size=str(PAGE))
            first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
            await kill_between_acknowledgement_and_cursor(database, sync(environment, first_log), first_log)
            at_kill = await saved_cursors(database, SOURCE)
            on_kafka = await published_heart_rate(env.settings)
            since = len(h.state.log)
            second = sync(environment, second_log)
            assert second.wait(timeout=180) == 0, second_log.read_text()
            requests = {p: heart_rate_requests(h, since, p) for p in PARTICIPANTS}
        await wait_until_consumed(env.settings, env.settings.processor.group_id, METRICS)
        stored = {key: await stored_raw(database, *key) for key in held}
        counts = await stored_counts(database, list(PARTICIPANTS))
        after = await saved_cursors(database, SOURCE)
        on_kafka_after = await published_heart_rate(env.settings)
    finally:
        stop_processor(worker)
    for participant_id in PARTICIPANTS:
        n = len(held[(participant_id, "heart_rate")])
        assert n > 40 * PAGE
        cursor = at_kill[(participant_id, "heart_rate")]
        assert cursor.status == "partial"
        assert cursor.page_token is not None
        assert 3 * PAGE <= cursor.readings < n
        assert cursor.readings % PAGE == 0
        # Killed after Kafka acknowledged the next page, before its cursor recorded it.
        assert on_kafka[participant_id] == cursor.readings + min(PAGE, n - cursor.readings)
        # The second run starts at the saved page (that unrecorded page again), then the rest of the window and
        # the short window from the first run's end to now: fewer pages than a fresh run's.
        asked = requests[participant_id]
        assert asked[0]["pageToken"] == [cursor.page_token]
        assert len(asked) == -(-(n - cursor.readings) // PAGE) + 1 < -(-n // PAGE)
        assert on_kafka_after[participant_id] == n + min(PAGE, n - cursor.readings)  # one page twice
    assert {(c.status, c.page_token) for c in after.values()} == {("ok", None)}
    assert len(after) == len(PARTICIPANTS) * len(METRICS)
    for key, readings in held.items():
        assert after[key].readings == len(readings), key  # every reading published once, as recorded
        assert stored[key] == readings, key  # nothing lost, nothing stored twice, values as the service sent them
    for (participant_id, metric), (raw, rolled) in counts.items():
        assert raw == len(held[(participant_id, metric)]), (participant_id, metric)
        if metric in ("heart_rate", "steps", "spo2"):
            assert rolled == raw, (participant_id, metric)  # the rollups count each reading once
