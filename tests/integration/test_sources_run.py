"""`wearstream sources run` as a long-running service: passes on its schedule, Prometheus /metrics, and a clean
stop on SIGTERM, on the real Kafka and TimescaleDB."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import asyncpg

from core.settings import Settings
from core.topics import ensure_topics
from producers.simulator import CohortSimulator
from producers.sources import cursors
from producers.sources.cursors import Cursor
from producers.sources.schedule import DailyAt
from producers.sources.sync import due_participants
from schemas.participants import Participant
from stream_processors import participant_records as records
from tests.integration.pipeline import isolated
from tests.integration.sources_helpers import enrol, saved_cursors, steady_participants

SEED = 31
START = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return {
        m.group(1): float(m.group(2))
        for m in re.finditer(r'^(wearstream_sources_[a-z_]+\{[^}]*source="simulator"[^}]*\}) (\S+)$', text, re.M)
    }


def start_runner(env: dict[str, str], args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "wearstream", "sources", "run", *args],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


async def test_the_runner_pulls_on_its_schedule_serves_metrics_and_stops_cleanly(
    settings: Settings, database: str, tmp_path: Path
) -> None:
    env = isolated(settings, database)
    await ensure_topics(env.settings.kafka)
    simulator = CohortSimulator(seed=SEED, start=START)
    ks = steady_participants(simulator, 1)
    participant_id = simulator.traits(ks[0]).participant_id
    await enrol(database, simulator, ks, START)
    port = free_port()
    args = ["--every", "2s", "--seed", str(SEED), "--start", START.isoformat(), "--participants", participant_id]
    runner = start_runner(env.env, [*args, "--metrics-port", str(port)], tmp_path / "run.log")
    try:
        ok = 'wearstream_sources_cursor_results_total{source="simulator",status="ok"}'
        deadline = time.monotonic() + 120
        metrics: dict[str, float] = {}
        while time.monotonic() < deadline:
            assert runner.poll() is None, (tmp_path / "run.log").read_text()
            try:
                metrics = scrape(port)
            except OSError:
                metrics = {}
            if metrics.get(ok, 0) >= 3 * 7:  # three passes over the participant's 7 metrics
                break
            await asyncio.sleep(0.5)
        else:
            raise AssertionError(f"three passes not seen: {metrics}\n{(tmp_path / 'run.log').read_text()}")
        assert metrics['wearstream_sources_pages_acknowledged_total{source="simulator"}'] > 0
        assert metrics['wearstream_sources_last_pass_timestamp_seconds{source="simulator"}'] > time.time() - 60
        assert metrics['wearstream_sources_failed_cursors{source="simulator"}'] == 0
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(timeout=30) == 0
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    saved = await saved_cursors(database, "simulator")
    assert len(saved) == 7
    now_ms = time.time() * 1000
    for cursor in saved.values():
        assert cursor.status == "ok"
        assert cursor.fetched_through_ms is not None
        assert now_ms - cursor.fetched_through_ms < 60_000  # pulled up to now, pass after pass
        assert cursor.last_success_ms is not None
        assert cursor.last_run_start_ms is not None
    assert "pulling every 2 s" in (tmp_path / "run.log").read_text()


async def test_daily_at_makes_each_participant_due_at_their_own_local_time(database: str) -> None:
    pool = await asyncpg.create_pool(database, min_size=1, max_size=2)
    try:
        async with pool.acquire() as connection:
            for pid, zone in (("D-TOKYO", "Asia/Tokyo"), ("D-NY", "America/New_York"), ("D-NEW", "Europe/Paris")):
                await records.create(
                    connection,
                    Participant(participant_id=pid, enrolled_on=dt.date(2026, 6, 1), timezone=zone),
                    actor="test",
                )
        pulled = int(dt.datetime(2026, 6, 9, 17, 0, tzinfo=dt.UTC).timestamp() * 1000)  # 02:00 Tokyo, 13:00 NY
        for pid in ("D-TOKYO", "D-NY"):
            for metric in ("heart_rate", "steps"):
                await cursors.save(pool, Cursor("daily", pid, metric, pulled, last_run_start_ms=pulled, status="ok"))
        source = SimpleNamespace(name="daily")
        only = ["D-TOKYO", "D-NY", "D-NEW"]
        schedule = DailyAt(dt.time(1, 0))

        async def due_at(hour: int, minute: int = 0) -> tuple[list[str], dt.datetime]:
            now = dt.datetime(2026, 6, 10, hour, minute, tzinfo=dt.UTC)
            due, wake = await due_participants(pool, source, schedule, now, only)
            return [p.participant_id for p in due], wake

        # 04:00 UTC: 13:00 in Tokyo (its 01:00 came before the last pull), midnight in New York. Only the
        # participant never pulled is due; the loop looks again within its idle minute.
        assert await due_at(4) == (["D-NEW"], dt.datetime(2026, 6, 10, 4, 1, tzinfo=dt.UTC))
        # 05:00 UTC is 01:00 EDT: New York is due; Tokyo's next 01:00 is 16:00 UTC.
        assert (await due_at(5))[0] == ["D-NEW", "D-NY"]
        assert (await due_at(15, 59))[0] == ["D-NEW", "D-NY"]
        assert (await due_at(16))[0] == ["D-NEW", "D-NY", "D-TOKYO"]
    finally:
        await pool.close()
