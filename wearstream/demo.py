"""`wearstream demo` (the README's first command): the whole pipeline on one machine, end to end.

Starts the local stack, migrates, creates topics, starts a processor worker and the API in the background,
replays a small simulated cohort, waits until every reading is stored, then prints what was stored, the
gaps found, the adherence flags (asked of the running API), and the URLs to open. Leaves everything running.
With monitoring, Prometheus, Alertmanager and Zipkin start too, the replay is traced, and the URLs include the
Zipkin page of one replayed batch's trace (publish → process → store → COPY).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import msgspec

from core.settings import Settings, load_settings
from core.topics import ensure_topics
from deploy.local.monitoring import LocalMonitoring
from deploy.local.services import services
from deploy.local.stack import LocalStack
from deploy.local.zipkin import ZipkinServer
from producers.replay import ReplayPlan, ReplayReport, replay
from schemas.migrate import migrate

Log = Callable[[str], None]


class DemoSummary(msgspec.Struct, kw_only=True):
    replay: ReplayReport
    stored: dict[str, int]
    gaps: dict[str, int]
    """"<kind> <open|closed>" → count."""
    flags: dict[str, int]
    flagged_participants: int
    admin_key: str
    urls: dict[str, str]


async def _create_admin_key(database_url: str) -> str:
    from api.auth.store import create_key

    connection = await asyncpg.connect(database_url)
    try:
        return (await create_key(connection, "admin", None, "demo")).token
    finally:
        await connection.close()


async def wait_for_api(base_url: str, timeout_s: float = 60.0) -> None:
    """Returns once `<base_url>/healthz` answers 200; raises RuntimeError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"{base_url}/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    raise RuntimeError(f"the API did not answer on {base_url} in {timeout_s:.0f} s")


async def _wait_for_storage(
    database_url: str, expected: int, progress: Callable[[int], None], timeout_s: float = 600.0
) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            stored = int(await connection.fetchval("SELECT coalesce(sum(readings), 0) FROM participant_metric_state"))
            progress(stored)
            if stored >= expected:
                return
            await asyncio.sleep(0.5)
        raise RuntimeError("the processor did not store every reading in time; see its log")
    finally:
        await connection.close()


async def _start_pipeline(
    settings: Settings, log: Log, monitoring: LocalMonitoring | None
) -> tuple[Settings, str, str]:
    """Brings up the stack (with `monitoring`), migrates, creates topics, starts the worker and the API;
    returns the settings read after start-up, the API's base URL and a new admin key."""
    stack = LocalStack(settings.stack, monitoring=monitoring)
    await asyncio.to_thread(stack.up, log)
    # Read again: a stack created just now has generated its roles' passwords only now.
    settings = load_settings()
    await migrate(settings.database.url, log=log)
    await ensure_topics(settings.kafka)
    for service in services(settings.stack.state_dir):
        service.start(log)
    base_url = f"http://{settings.api.host}:{settings.api.port}"
    await wait_for_api(base_url)
    return settings, base_url, await _create_admin_key(settings.database.url)


async def _stored_readings(database_url: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        return int(await connection.fetchval("SELECT coalesce(sum(readings), 0) FROM participant_metric_state"))
    finally:
        await connection.close()


async def _stored_and_gaps(database_url: str) -> tuple[dict[str, int], dict[str, int]]:
    """Readings stored per metric, and gaps counted by "<kind> <open|closed>"."""
    connection = await asyncpg.connect(database_url)
    try:
        stored_rows = await connection.fetch(
            "SELECT m.name, sum(s.readings) AS n FROM participant_metric_state s JOIN metrics m USING (metric_id)"
            " GROUP BY m.name ORDER BY m.name"
        )
        gap_rows = await connection.fetch(
            "SELECT kind, end_time IS NULL AS open, count(*) AS n FROM gaps GROUP BY 1, 2 ORDER BY 1, 2"
        )
    finally:
        await connection.close()
    return (
        {r["name"]: int(r["n"]) for r in stored_rows},
        {f"{r['kind']} {'open' if r['open'] else 'closed'}": int(r["n"]) for r in gap_rows},
    )


async def _adherence_items(base_url: str, admin_key: str, start: dt.date, days: int) -> list[dict[str, Any]]:
    """The running API's adherence items over the replayed days."""
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {admin_key}"}, timeout=30) as client:
        # Adherence over the replayed days (its default window is the last 30 days up to today).
        window = {"start": str(start), "end": str(start + dt.timedelta(days=days))}
        adherence = (await client.get(f"{base_url}/v1/adherence", params=window)).json()
    items: list[dict[str, Any]] = adherence.get("items", [])
    return items


async def run_demo(
    settings: Settings,
    *,
    participants: int,
    days: int,
    log: Log,
    replay_progress: Callable[[int, int], None],
    store_progress: Callable[[int], None],
    with_monitoring: bool = False,
) -> DemoSummary:
    """Starts the pipeline, replays `participants` × `days` simulated days, waits until they are stored and
    summarises what the pipeline made of them."""
    monitoring = LocalMonitoring.from_settings(settings) if with_monitoring else None
    settings, base_url, admin_key = await _start_pipeline(settings, log, monitoring)
    if monitoring is not None:
        from core.telemetry import setup_telemetry, zipkin_url_of

        setup_telemetry(
            settings.telemetry, component="replay", instrument=("aiokafka",), zipkin_url=zipkin_url_of(settings)
        )
    # An earlier demo's readings stay; a re-run publishes only what is new (delta-load).
    stored_before = await _stored_readings(settings.database.url)
    # No start given: an earlier demo's start is reused (delta-load), else the days up to yesterday.
    plan = ReplayPlan(participants=participants, days=days, seed=1)
    report = await replay(settings.kafka, plan, progress=replay_progress)
    await _wait_for_storage(settings.database.url, stored_before + report.total_readings, store_progress)
    await asyncio.sleep(6)  # the processor's first not-synced check runs 5 s after it starts

    stored, gaps = await _stored_and_gaps(settings.database.url)
    items = await _adherence_items(base_url, admin_key, report.start, days)
    extra_urls = {} if monitoring is None else await monitoring_urls(monitoring)
    flags = Counter(flag for item in items for flag in item.get("flags", []))
    return DemoSummary(
        replay=report,
        stored=stored,
        gaps=gaps,
        flags=dict(flags),
        flagged_participants=sum(1 for item in items if item.get("flags")),
        admin_key=admin_key,
        urls={
            "pages": f"{base_url}/",
            "API docs (OpenAPI)": f"{base_url}/schema",
            "API metrics": f"{base_url}/metrics",
            "processor metrics": f"http://127.0.0.1:{settings.processor.metrics_port}/metrics",
            **extra_urls,
        },
    )


async def monitoring_urls(monitoring: LocalMonitoring, timeout_s: float = 30.0) -> dict[str, str]:
    """Prometheus, Zipkin, and the Zipkin page of one replayed batch's trace (one the processor stored, when it
    exported to this Zipkin; else the replay's own)."""
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    if hasattr(provider, "force_flush"):
        provider.force_flush()
    urls = {"Prometheus": f"http://{monitoring.prometheus.address}"}
    zipkin: ZipkinServer | None = monitoring.zipkin
    if zipkin is None:
        return urls
    urls["Zipkin"] = f"{zipkin.url}/zipkin/"
    deadline = time.monotonic() + timeout_s
    found: list[list[dict[str, Any]]] = []
    while not found and time.monotonic() < deadline:
        found = await asyncio.to_thread(zipkin.traces, service="wearstream-processor", span_name="COPY raw_staging")
        if not found:
            await asyncio.sleep(1)
    found = found or await asyncio.to_thread(zipkin.traces, service="wearstream-replay")
    if found and found[0]:
        urls["trace of a replayed batch"] = zipkin.trace_url(found[0][0]["traceId"])
    return urls
