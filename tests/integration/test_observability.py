"""Metrics end to end: a processor worker, a replay and the API, each serving /metrics on its --metrics-port
(or its own port), scraped live; every metric that an alert rule or a dashboard's PromQL names must be one of
them; the docs table lists exactly the declared metrics; and the local stack's Prometheus (Debian package,
started by `deploy/local/monitoring.py`) scrapes all three and evaluates every rule and dashboard expression.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

import api.metric_defs
import producers.metric_defs
import producers.sources.metric_defs
import stream_processors.metric_defs
from api.auth.store import create_key
from core.settings import Settings
from core.topics import ensure_topics
from deploy.local.monitoring import RULES_DIR, LocalMonitoring, ScrapeTargets
from tests.integration.pipeline import isolated, start_processor, stop_processor

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))
DOCS = ROOT / "docs" / "observability.md"

# Metrics that Prometheus makes itself, and those of the third-party exporters in compose.yaml (no such
# exporter runs on this machine; their names are these exporters' documented ones).
PROMETHEUS_SYNTHETIC = {"up", "ALERTS"}
EXTERNAL_EXPORTERS = {
    "node_cpu_seconds_total": "node-exporter",
    "node_memory_MemAvailable_bytes": "node-exporter",
    "node_memory_MemTotal_bytes": "node-exporter",
    "container_cpu_usage_seconds_total": "cadvisor",
    "container_memory_working_set_bytes": "cadvisor",
}
# Litestar's Prometheus plugin (api/app.py: prefix wearstream_api) declares these on the first request.
LITESTAR_PLUGIN = {
    "wearstream_api_requests": "counter",
    "wearstream_api_request_duration_seconds": "histogram",
    "wearstream_api_requests_in_progress": "gauge",
    "wearstream_api_requests_error": "counter",
}


# ---------------------------------------------------------------------------------------------------- PromQL
PROMQL_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
PROMQL_KEYWORDS |= {"offset", "bool", "inf", "nan"}


def promql_metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords, labels and strings left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        before = text[match.start() - 1] if match.start() else " "
        after = text[match.end() :].lstrip()
        if before.isdigit() or before == "." or after.startswith("("):
            continue  # part of a number, or a function / aggregation
        if match.group(0).lower() in PROMQL_KEYWORDS:
            continue
        names.add(match.group(0))
    return names


def rule_expressions() -> list[str]:
    return [
        rule["expr"]
        for path in sorted(RULES_DIR.glob("*.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def dashboard_expressions() -> list[str]:
    expressions = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                if target["datasource"]["type"] == "prometheus":
                    expressions.append(target["expr"])
    return expressions


def test_the_promql_name_extraction() -> None:
    expr = (
        'label_replace(up{job!="x"} == 0, "service", "$1", "job", "(.*)") or sum by (le, path) '
        '(rate(a_bucket{method!="websocket"}[$__rate_interval])) / ignoring(x) b_total offset 5m > 48 * 3600 '
        "and on () (sum(increase(c_count[10m])) or on () vector(0)) == 1e3"
    )
    assert promql_metric_names(expr) == {"up", "a_bucket", "b_total", "c_count"}


# ---------------------------------------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int, path: str = "/metrics") -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return str(response.read().decode())


def sample_value(text: str, name: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                total += sample.value
    return total


def exported_names(text: str) -> set[str]:
    """Every series name a /metrics page can produce, including families that have no samples yet."""
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_count", "_sum", "_created"),
        "summary": ("", "_count", "_sum", "_created"),
        "gauge": ("",),
        "info": ("_info",),
    }
    names = set()
    for family in text_string_to_metric_families(text):
        names |= {sample.name for sample in family.samples}
        names |= {family.name + suffix for suffix in suffixes.get(family.type, ("",))}
    return names


class Running(msgspec.Struct):
    scrapes: dict[str, str]
    """component → its /metrics page."""
    prometheus: str
    """Base URL of the local Prometheus scraping them."""


def start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "wearstream", *argv],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


async def wait_until(
    check: Any, what: str, processes: Iterable[subprocess.Popen[bytes]], timeout_s: float = 90
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for process in processes:
            assert process.poll() is None, f"{process.args!r} exited with {process.returncode}"
        try:
            if check():
                return
        except OSError:
            pass
        await asyncio.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout_s} s")


@pytest.fixture(scope="module")
async def running(
    settings: Settings, database: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Running]:
    logs = tmp_path_factory.mktemp("observability")
    env = isolated(settings, database, partitions=2)
    await ensure_topics(env.settings.kafka)
    ports = {"processor": free_port(), "replay": free_port(), "api": free_port()}
    processor_env = {**env.env, "WEARSTREAM_PROCESSOR_METRICS_PORT": str(ports["processor"])}
    connection = await asyncpg.connect(database)
    try:
        token = (await create_key(connection, "researcher", None)).token
    finally:
        await connection.close()

    processes: list[subprocess.Popen[bytes]] = []
    monitoring = LocalMonitoring(
        state_dir=logs,
        prometheus_port=free_port(),
        alertmanager_port=free_port(),
        targets=ScrapeTargets(
            processor=[f"127.0.0.1:{ports['processor']}"],
            producers=[f"127.0.0.1:{ports['replay']}"],
            api=[f"127.0.0.1:{ports['api']}"],
        ),
        environ={},
        scrape_interval="1s",
    )
    try:
        processes.append(start_processor(processor_env, logs / "processor.log"))
        replay = ["replay", "-n", "2", "-d", "2", "--start", "2026-09-01", "--seed", "7", "--speed", "3000"]
        processes.append(start([*replay, "--metrics-port", str(ports["replay"])], env.env, logs / "replay.log"))
        api_env = {**env.env, "WEARSTREAM_API_LIVE_ENABLED": "false"}
        processes.append(
            start(["api", "--port", str(ports["api"]), "--log-level", "warning"], api_env, logs / "api.log")
        )

        await wait_until(
            lambda: sample_value(scrape(ports["replay"]), "wearstream_producer_batches_total") > 0,
            "replay publishes",
            processes,
        )
        await wait_until(
            lambda: all(
                name in scrape(ports["processor"])
                for name in (
                    "wearstream_processor_batches_total{",
                    "wearstream_processor_consumer_lag{",
                    "wearstream_processor_participant_last_upload_timestamp_seconds{",
                )
            ),
            "the processor stores and reports its health",
            processes,
        )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports['api']}", timeout=10) as client:
            await wait_until(lambda: scrape(ports["api"], "/healthz") is not None, "the API starts", processes)
            assert (await client.get("/v1/participants")).status_code == 401
            response = await client.get("/v1/participants", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200
        await asyncio.to_thread(monitoring.install, print)
        await asyncio.to_thread(monitoring.start, print)
        prometheus = f"http://{monitoring.prometheus.address}"

        def all_up() -> bool:
            result = query(prometheus, "up")
            return {(r["metric"]["job"], r["value"][1]) for r in result} >= {
                ("wearstream-processor", "1"),
                ("wearstream-producer", "1"),
                ("wearstream-api", "1"),
            }

        await wait_until(all_up, "the local Prometheus scrapes every process", processes, timeout_s=30)
        scrapes = {name: scrape(port) for name, port in ports.items()}
        yield Running(scrapes=scrapes, prometheus=prometheus)
    finally:
        monitoring.stop(print)
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in processes:
            stop_processor(process)


def query(prometheus: str, expr: str, at: dt.datetime | None = None) -> list[dict[str, Any]]:
    params = {"query": expr}
    if at is not None:
        params["time"] = str(at.timestamp())
    url = f"{prometheus}/api/v1/query?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]["result"]  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------------- tests
def test_every_process_serves_its_component_metrics(running: Running) -> None:
    for component, prefix in (("processor", "processor"), ("replay", "producer"), ("api", "api")):
        names = exported_names(running.scrapes[component])
        own = {name for name in names if name.startswith("wearstream_")}
        assert own, component
        assert all(name.startswith(f"wearstream_{prefix}_") for name in own), (component, own)
        assert "process_cpu_seconds_total" in names  # CPU and memory of each service
        assert "process_resident_memory_bytes" in names
    replay = running.scrapes["replay"]
    assert 'source="replay"' in replay
    assert sample_value(running.scrapes["processor"], "wearstream_processor_database_up") == 1
    assert sample_value(running.scrapes["api"], "wearstream_api_requests_total") >= 2


def test_every_metric_in_rules_and_dashboards_is_really_exported(running: Running) -> None:
    exported = set().union(*(exported_names(text) for text in running.scrapes.values()))
    expressions = rule_expressions() + dashboard_expressions()
    used = set().union(*(promql_metric_names(expr) for expr in expressions))
    assert used, "expressions found"
    missing = used - exported - PROMETHEUS_SYNTHETIC - set(EXTERNAL_EXPORTERS)
    assert not missing, f"named in rules or dashboards but exported by no process: {sorted(missing)}"
    assert {name for name in used if name.startswith("wearstream_")} <= exported


def test_the_local_prometheus_evaluates_every_rule_and_dashboard_expression(running: Running) -> None:
    with urllib.request.urlopen(f"{running.prometheus}/api/v1/rules", timeout=10) as response:
        groups = json.load(response)["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) == len(rule_expressions())
    deadline = time.monotonic() + 20
    while any(rule.get("health") != "ok" for rule in rules) and time.monotonic() < deadline:
        time.sleep(0.5)
        with urllib.request.urlopen(f"{running.prometheus}/api/v1/rules", timeout=10) as response:
            rules = [rule for group in json.load(response)["data"]["groups"] for rule in group["rules"]]
    assert all(rule["health"] == "ok" for rule in rules), [(r["name"], r.get("lastError")) for r in rules]
    for expr in dashboard_expressions():
        query(running.prometheus, expr.replace("$__rate_interval", "1m"))
    assert query(running.prometheus, "sum(wearstream_processor_readings_total)")
    assert query(running.prometheus, "wearstream_processor_participant_last_upload_timestamp_seconds")


def declared_metrics() -> dict[str, str]:
    """name (as documented: counters with _total) → kind, from each component's metric_defs module."""
    declared = {}
    for module in (
        producers.metric_defs,
        producers.sources.metric_defs,
        stream_processors.metric_defs,
        api.metric_defs,
    ):
        for value in vars(module).values():
            if isinstance(value, MetricWrapperBase):
                kind = value._type
                declared[value._name + ("_total" if kind == "counter" else "")] = str(kind)
    for name, kind in LITESTAR_PLUGIN.items():
        declared[name + ("_total" if kind == "counter" else "")] = kind
    return declared


def test_the_docs_table_lists_exactly_the_declared_metrics() -> None:
    rows = re.findall(r"^\| `(wearstream_[a-z_]+)` \| (\w+) \|", DOCS.read_text(), flags=re.MULTILINE)
    documented = dict(rows)
    declared = declared_metrics()
    assert set(documented) == set(declared), (set(declared) - set(documented), set(documented) - set(declared))
    for name, kind in declared.items():
        assert documented[name] == kind, name
    for module, prefix in (
        (producers.metric_defs, "wearstream_producer_"),
        (producers.sources.metric_defs, "wearstream_sources_"),
        (stream_processors.metric_defs, "wearstream_processor_"),
        (api.metric_defs, "wearstream_api_"),
    ):
        for value in vars(module).values():
            if isinstance(value, MetricWrapperBase):
                assert value._name.startswith(prefix), value._name


def test_stack_status_with_monitoring_lists_prometheus_alertmanager_and_zipkin(
    settings: Settings, stack: object
) -> None:
    env = {
        **os.environ,
        "WEARSTREAM_PROMETHEUS_PORT": str(free_port()),
        "WEARSTREAM_ALERTMANAGER_PORT": str(free_port()),
        "WEARSTREAM_ZIPKIN_PORT": str(free_port()),
    }
    result = subprocess.run(
        [sys.executable, "-m", "wearstream", "stack", "status", "--with-monitoring"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["kafka", "timescaledb", "prometheus", "alertmanager", "zipkin"]
    assert lines[4] == f"zipkin 127.0.0.1:{env['WEARSTREAM_ZIPKIN_PORT']} unknown DOWN"
    assert lines[2].startswith(f"prometheus 127.0.0.1:{env['WEARSTREAM_PROMETHEUS_PORT']} 2.")
    assert lines[2].endswith("DOWN"), "nothing listens on that port"
    assert result.returncode == 1
    without = subprocess.run(
        [sys.executable, "-m", "wearstream", "stack", "status"], capture_output=True, text=True, timeout=60, check=False
    )
    assert [line.split()[0] for line in without.stdout.splitlines()] == ["kafka", "timescaledb"]
