"""Traces in the local stack's Zipkin: monitoring started by `deploy/local/monitoring.py` (Prometheus,
Alertmanager and Zipkin, each on a port of its own), the real `wearstream replay` and `process` commands exporting
to it because it runs, and one trace found in Zipkin's API that goes from the producer's publish through the
processor's decode+validate, store and COPY to the database calls, with the semantic conventions' attributes.
The processor logs JSON lines: the line of the store carries that trace's id. Headless Chromium opens the trace
in Zipkin's UI; the screenshot goes to tests/artifacts/traces/ (and, with WEARSTREAM_README_SCREENSHOTS=1, to
docs/screenshots/, the README's).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from playwright.async_api import async_playwright

from core.settings import Settings
from core.topics import ensure_topics
from deploy.local.browser import CHROMIUM_ARGS, ensure_chromium
from deploy.local.monitoring import LocalMonitoring, ScrapeTargets
from deploy.local.zipkin import ZipkinServer
from producers.simulator import CohortSimulator
from tests.integration.pipeline import ground_truth, isolated, start_processor, stop_processor, wait_for_readings

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "traces"
README_SHOTS = ROOT / "docs" / "screenshots"
README_MAX_BYTES = 400_000
START = dt.date(2026, 9, 1)
SEED = 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def monitoring(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMonitoring]:
    state_dir = tmp_path_factory.mktemp("monitoring")
    stack = LocalMonitoring(
        state_dir=state_dir,
        prometheus_port=free_port(),
        alertmanager_port=free_port(),
        targets=ScrapeTargets(processor=[], producers=[], api=[]),
        environ={},
        zipkin=ZipkinServer(
            state_dir=state_dir, cache_dir=settings.stack.cache_dir, port=free_port(), max_spans=50_000, heap="256m"
        ),
    )
    try:
        stack.install(print)
        stack.start(print)
        yield stack
    finally:
        stack.stop(print)


class Traced(msgspec.Struct, frozen=True):
    zipkin: ZipkinServer
    trace: list[dict[str, Any]]
    topic: str
    group: str
    log_lines: list[dict[str, Any]]


def spans_named(trace: list[dict[str, Any]], service: str, name: str) -> list[dict[str, Any]]:
    return [
        s for s in trace if s.get("localEndpoint", {}).get("serviceName") == service and s.get("name") == name.lower()
    ]


def complete(trace: list[dict[str, Any]]) -> bool:
    """A trace with the producer's publish, the processor's decode+validate, store and COPY, and SQL."""
    names = {(s.get("localEndpoint", {}).get("serviceName"), s.get("name", "")) for s in trace}
    processor = {name for service, name in names if service == "wearstream-processor"}
    return (
        ("wearstream-replay", "publish heart_rate") in names
        and {"decode+validate", "copy raw_staging"} <= processor
        and any(name.startswith("store ") for name in processor)
        and any(s.get("tags", {}).get("db.system") == "postgresql" and "copy" not in s["name"] for s in trace)
    )


async def find_trace(zipkin: ZipkinServer, timeout_s: float = 90) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = await asyncio.to_thread(
            zipkin.traces, service="wearstream-processor", span_name="COPY raw_staging", limit=50
        )
        for trace in found:
            if complete(trace):
                return trace
        await asyncio.sleep(1)
    raise AssertionError(f"no complete trace in Zipkin after {timeout_s} s")


@pytest.fixture(scope="module")
async def traced(
    monitoring: LocalMonitoring, settings: Settings, database: str, tmp_path_factory: pytest.TempPathFactory
) -> Traced:
    assert monitoring.zipkin is not None
    zipkin = monitoring.zipkin
    logs = tmp_path_factory.mktemp("traced")
    env = isolated(settings, database, partitions=1)
    await ensure_topics(env.settings.kafka)
    traced_env = {
        **{k: v for k, v in env.env.items() if not k.startswith("OTEL_")},
        "WEARSTREAM_ZIPKIN_PORT": str(zipkin.port),
        "WEARSTREAM_TELEMETRY_LOG_FORMAT": "json",
        "WEARSTREAM_TELEMETRY_LOG_LEVEL": "INFO",
        "WEARSTREAM_TELEMETRY_SAMPLING_RATIO": "1",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }
    worker = start_processor(traced_env, logs / "worker.log")
    try:
        argv = ["replay", "-n", "1", "-d", "1", "--start", START.isoformat(), "--seed", str(SEED)]
        replay = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "wearstream", *argv, "--metrics-port", "0"],
            env=traced_env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert replay.returncode == 0, replay.stderr[-2000:]
        truth = ground_truth(CohortSimulator(seed=SEED, start=START), 1, 1)
        await wait_for_readings(database, truth.total, timeout_s=180, process=worker)
        trace = await find_trace(zipkin)
    finally:
        stop_processor(worker)
    lines = []
    for line in (logs / "worker.log").read_text().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return Traced(
        zipkin=zipkin,
        trace=trace,
        topic=f"{env.settings.kafka.topic_prefix}.readings.heart_rate",
        group=env.settings.processor.group_id,
        log_lines=lines,
    )


async def test_one_trace_in_zipkin_holds_the_producer_the_processor_and_the_database(traced: Traced) -> None:
    trace = traced.trace
    assert len({s["traceId"] for s in trace}) == 1
    by_id = {s["id"]: s for s in trace}
    (publish,) = spans_named(trace, "wearstream-replay", "publish heart_rate")
    assert "parentId" not in publish, "the batch's publish is the trace's root"

    (process,) = spans_named(trace, "wearstream-processor", f"process {traced.topic}")
    assert process["kind"] == "CONSUMER"
    tags = process["tags"]
    assert tags["messaging.system"] == "kafka"
    assert tags["messaging.destination.name"] == traced.topic
    assert tags["messaging.operation.name"] == "process"
    assert tags["messaging.operation.type"] == "process"
    assert tags["messaging.consumer.group.name"] == traced.group
    assert int(tags["messaging.batch.message_count"]) >= 1
    send = by_id[process["parentId"]]
    assert send["kind"] == "PRODUCER", "process continues the send"
    assert send["parentId"] == publish["id"]

    validations = spans_named(trace, "wearstream-processor", "decode+validate")
    assert validations
    for validate in validations:
        assert validate["tags"]["messaging.destination.name"] == traced.topic
        assert validate["tags"]["messaging.system"] == "kafka"
        assert "messaging.kafka.offset" in validate["tags"]
    (store,) = spans_named(trace, "wearstream-processor", "store heart_rate")
    assert store["parentId"] == process["id"]
    (copy,) = spans_named(trace, "wearstream-processor", "COPY raw_staging")
    assert copy["parentId"] == store["id"]
    assert copy["kind"] == "CLIENT"
    assert copy["tags"]["db.system.name"] == "postgresql"
    assert copy["tags"]["db.operation.name"] == "COPY"
    assert copy["tags"]["db.collection.name"] == "raw_staging"
    assert copy["tags"]["db.query.text"].startswith("COPY raw_staging (")
    queries = [s for s in trace if s.get("tags", {}).get("db.system") == "postgresql" and s["id"] != copy["id"]]
    assert any(q.get("parentId") == store["id"] for q in queries), "the transaction's SQL under store"


async def test_the_processor_logs_the_store_as_json_with_the_trace_id(traced: Traced) -> None:
    assert traced.log_lines, "the processor writes JSON lines"
    for line in traced.log_lines:
        assert {"time", "level", "logger", "message"} <= set(line), line
        assert "wsk_" not in json.dumps(line)
    trace_id = traced.trace[0]["traceId"]
    stored = [line for line in traced.log_lines if line["message"].startswith("stored ")]
    assert any(line.get("trace_id") == trace_id for line in stored), stored[:5]
    (store,) = spans_named(traced.trace, "wearstream-processor", "store heart_rate")
    assert any(line.get("span_id") == store["id"] for line in stored if line.get("trace_id") == trace_id)


@pytest.fixture(scope="module")
def chromium() -> Path:
    return ensure_chromium(print)


async def test_zipkin_ui_shows_the_trace(traced: Traced, chromium: Path) -> None:
    trace_id = traced.trace[0]["traceId"]
    profile = tempfile.mkdtemp(prefix="wearstream-chromium-")
    try:
        async with async_playwright() as playwright:
            context = await playwright.chromium.launch_persistent_context(
                profile,
                executable_path=str(chromium),
                headless=True,
                args=list(CHROMIUM_ARGS),
                viewport={"width": 1400, "height": 900},
                locale="en-GB",
                timezone_id="UTC",
            )
            try:
                tab = await context.new_page()
                await tab.goto(traced.zipkin.trace_url(trace_id), wait_until="networkidle")
                for service in ("wearstream-replay", "wearstream-processor"):
                    await tab.get_by_text(service).first.wait_for(timeout=30_000)
                await tab.get_by_text("copy raw_staging").first.wait_for(timeout=30_000)
                assert trace_id in await tab.content()
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                shot = ARTIFACTS / "zipkin-trace.png"
                await tab.screenshot(path=str(shot))
            finally:
                await context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("WEARSTREAM_README_SCREENSHOTS") == "1":
        assert shot.stat().st_size < README_MAX_BYTES, "zipkin-trace.png is too large for the README"
        README_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, README_SHOTS / "zipkin-trace.png")


async def test_the_demo_finds_a_replayed_batchs_trace_url(traced: Traced, monitoring: LocalMonitoring) -> None:
    """What `wearstream demo --with-monitoring` prints: Zipkin's UI and the page of a trace the processor stored."""
    from wearstream.demo import monitoring_urls

    urls = await monitoring_urls(monitoring, timeout_s=10)
    assert urls["Zipkin"] == f"{traced.zipkin.url}/zipkin/"
    assert urls["Prometheus"] == f"http://{monitoring.prometheus.address}"
    prefix = f"{traced.zipkin.url}/zipkin/traces/"
    assert urls["trace of a replayed batch"].startswith(prefix)
    trace_id = urls["trace of a replayed batch"].removeprefix(prefix)
    (trace,) = [
        t for t in traced.zipkin.traces(service="wearstream-processor", limit=100) if t[0]["traceId"] == trace_id
    ]
    assert any(s["name"] == "copy raw_staging" for s in trace)
