"""Query and live benchmarks through the real API (uvicorn in a subprocess) on a prepared database.

Data is laid down in the tables the pipeline writes (rollups, uploads, state) with SQL, at the sizes the
targets name — a year of one participant's heart rate; 1,000 participants × 30 days — plus one real day of raw
heart rate through the sink. Latencies are client-side, over HTTP on loopback, after a warm-up.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

import asyncpg
import httpx
import msgspec
import numpy as np
import websockets
from aiokafka import AIOKafkaProducer

from bench import query_refs
from bench.common import Environment, Measurement, environment, percentile
from core.settings import Settings
from producers.simulator import CohortSimulator
from schemas import topics
from schemas.events import LiveUpdate, MinutePoint, encode_event
from schemas.metrics import HEART_RATE, METRIC_IDS, SLEEP_STAGE
from schemas.readings import encode_batch
from stream_processors.db import create_pool
from stream_processors.envelope import Envelope
from stream_processors.sink import Sink
from stream_processors.validate import validate
from wearstream.demo import wait_for_api

HR: Final = METRIC_IDS[HEART_RATE.name]
SLEEP: Final = METRIC_IDS[SLEEP_STAGE.name]
YEAR_START: Final = dt.datetime(2025, 10, 1, tzinfo=dt.UTC)
COHORT_END: Final = dt.date(2026, 10, 1)

YEAR_OF_ROLLUPS: Final = """
INSERT INTO participants (participant_id, enrolled_on, timezone) VALUES ('PYEAR', '2025-10-01', 'UTC');
INSERT INTO rollup_1m (participant_id, metric_id, bucket, count, sum, min, max, first_time, last_time)
SELECT 'PYEAR', {hr}, t, 20, 20 * (70 + 15 * sin(n / 300.0)), 55 + (n % 7), 95 + (n % 60), t, t + interval '55 s'
FROM generate_series($1::timestamptz, $1::timestamptz + interval '365 days' - interval '1 minute', interval '1 minute')
     WITH ORDINALITY AS g (t, n);
INSERT INTO rollup_1h (participant_id, metric_id, bucket, count, sum, min, max, first_time, last_time, minutes)
SELECT participant_id, metric_id, date_trunc('hour', bucket), sum(count), sum(sum), min(min), max(max),
       min(first_time), max(last_time), count(*)
FROM rollup_1m WHERE participant_id = 'PYEAR' GROUP BY 1, 2, 3;
INSERT INTO rollup_1d (participant_id, metric_id, bucket, count, sum, min, max, first_time, last_time, minutes)
SELECT participant_id, metric_id, date_trunc('day', bucket, 'UTC'), sum(count), sum(sum), min(min), max(max),
       min(first_time), max(last_time), sum(minutes)
FROM rollup_1h WHERE participant_id = 'PYEAR' GROUP BY 1, 2, 3;
INSERT INTO participant_metric_state VALUES ('PYEAR', {hr}, $1::timestamptz, $1::timestamptz + interval '365 days',
    $1::timestamptz + interval '365 days', 1);
"""

COHORT: Final = """
INSERT INTO participants (participant_id, enrolled_on, timezone, authorisation, contact_email)
SELECT format('C%s', lpad(k::text, 5, '0')), $1::date - 40,
       (ARRAY['UTC', 'Europe/Berlin', 'America/New_York'])[1 + k % 3],
       CASE WHEN k % 50 = 0 THEN 'never' ELSE 'authorised' END, format('c%s@study.example', k)
FROM generate_series(1, $2) k;
INSERT INTO rollup_1d (participant_id, metric_id, bucket, count, sum, min, max, first_time, last_time, minutes,
                       stage_epochs)
SELECT p.participant_id, m.metric_id, (d::timestamp AT TIME ZONE p.timezone), 100, 100, 0, 3,
       (d::timestamp AT TIME ZONE p.timezone), (d::timestamp AT TIME ZONE p.timezone) + interval '23 hours',
       CASE WHEN m.metric_id = {hr} THEN 600 + (hashtext(p.participant_id || d::text) & 1023) ELSE 400 END,
       CASE WHEN m.metric_id = {sleep} THEN ARRAY[60, 500, 120, 150] END
FROM participants p
CROSS JOIN generate_series($1::date - 35, $1::date - 1, interval '1 day') d
CROSS JOIN (VALUES ({hr}), ({sleep})) m (metric_id)
WHERE p.participant_id LIKE 'C%' AND p.authorisation = 'authorised' AND (hashtext(p.participant_id) & 15) <> 0;
INSERT INTO uploads (participant_id, sync_time)
SELECT p.participant_id, t FROM participants p
CROSS JOIN generate_series(($1::date - 35)::timestamptz, $1::date - interval '15 minutes', interval '15 minutes') t
WHERE p.participant_id LIKE 'C%' AND p.authorisation = 'authorised' AND (hashtext(p.participant_id) & 15) <> 0;
INSERT INTO participant_metric_state
SELECT participant_id, {hr}, min(sync_time), max(sync_time), max(sync_time), 1000 FROM uploads
WHERE participant_id LIKE 'C%' GROUP BY 1;
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def prepare(env: Environment, *, cohort: int) -> str:
    """Lays down the data; returns an admin API key."""
    from api.auth.store import create_key

    connection = await asyncpg.connect(env.database_url)
    try:
        for statement in filter(str.strip, YEAR_OF_ROLLUPS.format(hr=HR).split(";")):
            await connection.execute(statement, *([YEAR_START] if "$1" in statement else []))
        for statement in filter(str.strip, COHORT.format(hr=HR, sleep=SLEEP).split(";")):
            values = [COHORT_END, cohort]
            await connection.execute(statement, *values[: sum(f"${i}" in statement for i in (1, 2))])
        await connection.execute("ANALYZE")
        key = (await create_key(connection, "admin", None, "bench")).token
    finally:
        await connection.close()
    # One real day of raw heart rate, through the sink.
    simulator = CohortSimulator(seed=3, start=dt.date(2026, 9, 1))
    day = simulator.simulate_day(1, 1)
    pool = await create_pool(env.database_url, size=2)
    try:
        now_ms = int(time.time() * 1000)
        valid = [
            validate(
                Envelope(topic="t", partition=0, offset=i, payload=encode_batch(b)),
                expected_metric=b.metric,
                now_ms=now_ms,
            )
            for i, b in enumerate(day.batches)
        ]
        await Sink(pool, not_synced_after_s=21600).apply(valid)
    finally:
        await pool.close()
    return key


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_api(env: Environment, port: int, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "wearstream", "api", "--port", str(port), "--log-level", "warning"],
        env={**env.env, "WEARSTREAM_API_RATE_LIMIT_PER_MINUTE": "1000000"},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


async def latencies(client: httpx.AsyncClient, url: str, params: dict[str, str | int], n: int) -> list[float]:
    for _ in range(3):
        (await client.get(url, params=params)).raise_for_status()
    found = []
    for _ in range(n):
        started = time.perf_counter()
        response = await client.get(url, params=params)
        found.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return found


async def export_seconds(client: httpx.AsyncClient, url: str, params: dict[str, str | int]) -> list[float]:
    """Seconds to download the whole export, after a warm-up, five times."""
    found = []
    for k in range(6):
        started = time.perf_counter()
        async with client.stream("GET", url, params=params) as response:
            response.raise_for_status()
            async for _ in response.aiter_bytes():
                pass
        if k:
            found.append(time.perf_counter() - started)
    return found


async def query_benchmarks(settings: Settings, *, cohort: int, repeats: int, log_dir: Path) -> list[Measurement]:
    await asyncio.to_thread(log_dir.mkdir, parents=True, exist_ok=True)
    async with environment(settings) as env:
        key = await prepare(env, cohort=cohort)
        port = free_port()
        api = start_api(env, port, log_dir / "api.log")
        base = f"http://127.0.0.1:{port}"
        try:
            await wait_for_api(base)
            async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
                year: dict[str, str | int] = {
                    "start": YEAR_START.isoformat(),
                    "end": (YEAR_START + dt.timedelta(days=365)).isoformat(),
                    "resolution": "auto",
                    "max_points": 1000,
                }
                chart = await latencies(c, "/v1/participants/PYEAR/series/heart_rate", year, repeats)
                window: dict[str, str | int] = {
                    "start": str(COHORT_END - dt.timedelta(days=30)),
                    "end": str(COHORT_END),
                    "as_of": f"{COHORT_END}T00:00:00Z",
                }
                adherence = await latencies(c, "/v1/adherence", window, max(10, repeats // 2))
                flags_only = await latencies(c, "/v1/adherence", {**window, "daily": "false"}, max(10, repeats // 2))
                raw_day: dict[str, str | int] = {
                    "start": "2026-09-02",
                    "end": "2026-09-03",
                    "resolution": "raw",
                    "max_points": 100_000,
                }
                raw = await latencies(c, "/v1/participants/P0001/series/heart_rate", raw_day, max(10, repeats // 5))
                readings = len(
                    (await c.get("/v1/participants/P0001/series/heart_rate", params=raw_day)).json()["points"]
                )
                raw_arrow_day = {**raw_day, "format": "arrow"}
                raw_arrow = await latencies(
                    c, "/v1/participants/P0001/series/heart_rate", raw_arrow_day, max(10, repeats // 5)
                )
                raw_exports = {
                    fmt: await export_seconds(c, "/v1/participants/P0001/series/heart_rate", {**raw_day, "format": fmt})
                    for fmt in ("csv", "parquet")
                }
                started = time.perf_counter()
                exported = 0
                async with c.stream(
                    "GET",
                    "/v1/participants/PYEAR/series/heart_rate",
                    params={**year, "resolution": "1m", "format": "csv"},
                ) as response:
                    async for chunk in response.aiter_bytes():
                        exported += chunk.count(b"\n")
                export_rate = exported / (time.perf_counter() - started)
            refs = await query_refs.references(
                env.database_url,
                year_start=YEAR_START,
                raw_day=dt.datetime(2026, 9, 2, tzinfo=dt.UTC),
                cohort_end=COHORT_END,
                repeats=repeats,
            )
        finally:
            stop(api)
    label_year = "1 participant × 365 days of heart rate rollups, auto resolution, max_points 1,000"
    label_cohort = f"{cohort:,} participants × 30 days (rollups, uploads every 15 min)"
    return [
        Measurement(name="query.chart_1y.p95", value=percentile(chart, 95), unit="ms", repeats=chart, data=label_year),
        Measurement(name="query.chart_1y.p50", value=percentile(chart, 50), unit="ms", data=label_year),
        Measurement(
            name="query.adherence.p95",
            value=percentile(adherence, 95),
            unit="ms",
            repeats=adherence,
            data=label_cohort,
            note="with the per-day breakdown (30,000 participant-days)",
        ),
        Measurement(
            name="query.adherence_summary.p95",
            value=percentile(flags_only, 95),
            unit="ms",
            repeats=flags_only,
            data=label_cohort,
            note="daily=false: flags and totals per participant",
        ),
        Measurement(
            name="query.raw_day.p95",
            value=percentile(raw, 95),
            unit="ms",
            repeats=raw,
            data=f"1 participant × 1 day of raw heart rate ({readings:,} readings)",
        ),
        Measurement(
            name="query.raw_day_arrow.p95",
            value=percentile(raw_arrow, 95),
            unit="ms",
            repeats=raw_arrow,
            data=f"1 participant × 1 day of raw heart rate ({readings:,} readings)",
            note="format=arrow: the columns built from the decoded arrays",
        ),
        Measurement(name="export.csv_1m_rows", value=export_rate, unit="rows/s", data="1 year of 1-minute rollups"),
        *query_refs.ratio_measurements(
            {"chart": chart, "raw_day": raw, "raw_day_arrow": raw_arrow, "adherence": adherence},
            refs,
            {
                "chart_1y": label_year,
                "raw_day": f"1 participant × 1 day of raw heart rate ({readings:,} readings)",
                "adherence": label_cohort,
            },
        ),
        *query_refs.export_measurements(raw_exports, refs["raw_day"], readings),
    ]


async def websocket_latency(settings: Settings, *, clients: int, messages: int, log_dir: Path) -> list[Measurement]:
    """`clients` websockets on one API process, each subscribed to one of 50 participants; LiveUpdates are
    published to Kafka as the processor does; latency = client receive time − the update's emit time."""
    await asyncio.to_thread(log_dir.mkdir, parents=True, exist_ok=True)
    async with environment(settings) as env:
        key = await prepare(env, cohort=50)
        port = free_port()
        api = start_api(env, port, log_dir / "api-ws.log")
        received: list[float] = []
        try:
            await wait_for_api(f"http://127.0.0.1:{port}")
            participants = [f"C{k:05d}" for k in range(1, 51) if k % 50 != 0]
            done = asyncio.Event()

            async def client(index: int) -> None:
                pid = participants[index % len(participants)]
                url = f"ws://127.0.0.1:{port}/v1/live?participants={pid}&metrics=heart_rate&token={key}"
                async with websockets.connect(url, max_queue=None) as ws:
                    ready.release()
                    while not done.is_set():
                        try:
                            frame = await asyncio.wait_for(ws.recv(), timeout=1)
                        except TimeoutError:
                            continue
                        message = msgspec.json.decode(frame)
                        if message.get("type") == "live":
                            received.append(time.time() * 1000 - message["emitted_ms"])

            ready = asyncio.Semaphore(0)
            tasks = [asyncio.create_task(client(i)) for i in range(clients)]
            for _ in range(clients):
                await asyncio.wait_for(ready.acquire(), timeout=120)
            await asyncio.sleep(2)
            producer = AIOKafkaProducer(bootstrap_servers=env.settings.kafka.bootstrap_servers, linger_ms=0)
            await producer.start()
            topic = topics.live_topic(env.settings.kafka.topic_prefix)
            for i in range(messages):
                pid = participants[i % len(participants)]
                now = int(time.time() * 1000)
                update = LiveUpdate(
                    participant_id=pid,
                    metric=HEART_RATE.name,
                    minutes=[MinutePoint(now // 60000 * 60000, 12, 70.0, 60.0, 80.0, 840.0)],
                    timestamps=[now],
                    values=[70.0],
                    emitted_ms=now,
                )
                await producer.send(topic, key=pid.encode(), value=encode_event(update))
                await asyncio.sleep(0.01)
            await producer.stop()
            await asyncio.sleep(3)
            done.set()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            stop(api)
    expected = messages * clients // len(participants)
    label = (
        f"{clients:,} websocket clients on one API process, {messages:,} updates at 100/s (~{expected:,} deliveries)"
    )
    lat = np.asarray(received) if received else np.asarray([float("nan")])
    return [
        Measurement(name="live.latency.p50", value=float(np.percentile(lat, 50)), unit="ms", data=label),
        Measurement(
            name="live.latency.p99",
            value=float(np.percentile(lat, 99)),
            unit="ms",
            data=label,
            note=f"{len(received):,} deliveries received",
        ),
    ]
