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

from core.settings import Settings
from core.topics import ensure_topics
from producers.simulator import CohortSimulator
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
