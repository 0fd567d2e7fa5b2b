"""Ingest benchmarks, side by side on the same data in the same run and database server.

- producer: encoding + publishing heart-rate batches to Kafka from one process (one core);
- wearstream end to end: producer → Kafka → faust worker(s) → committed in TimescaleDB;
- the common approach: one INSERT … ON CONFLICT per reading into a row-per-reading hypertable (a sample);
- row-per-reading with binary COPY, the best a row layout can do;
- the ceiling: binary COPY of wearstream's own stored form (packed segments), without Kafka or faust;
- bytes per reading on disk (table + indexes + TOAST) for the row layout and for wearstream's (compacted).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path
from typing import Final

import asyncpg
import numpy as np

from bench import storage_total
from bench.common import (
    Environment,
    Measurement,
    environment,
    stored_readings,
    summarise,
    wait_until,
)
from core.settings import Settings
from deploy.local.services import start_workers
from deploy.local.services import stop as stop_workers
from producers.publisher import BatchPublisher
from producers.replay import ReplayPlan, replay
from producers.simulator import CohortSimulator
from schemas.metrics import HEART_RATE, METRIC_IDS
from schemas.readings import ReadingBatch
from stream_processors.compaction import compact
from stream_processors.db import create_pool
from stream_processors.segments import RAW_COLUMNS, pack

START: Final = dt.date(2026, 9, 1)
SEED: Final = 7
HORIZON_WAIT_S: Final = 300
# A transaction still running that began before $1 (any role), or a visible session's snapshot older than it.
_OLDER_SNAPSHOTS: Final = """
SELECT pg_snapshot_xmin(pg_current_snapshot()) <= $1::text::xid8 OR EXISTS (
    SELECT 1 FROM pg_stat_activity
    WHERE pid <> pg_backend_pid()
      AND (age(backend_xmin) >= age(($1::text::bigint % 4294967296)::text::xid)
           OR age(backend_xid) >= age(($1::text::bigint % 4294967296)::text::xid)))
"""
HR_ID: Final = METRIC_IDS[HEART_RATE.name]

ROW_TABLE: Final = """
CREATE TABLE readings_rows (
    participant_id text NOT NULL,
    metric_id smallint NOT NULL,
    time timestamptz NOT NULL,
    value double precision NOT NULL,
    PRIMARY KEY (participant_id, metric_id, time)
);
SELECT create_hypertable('readings_rows', by_range('time', INTERVAL '7 days'));
"""


def heart_rate_batches(participants: int, days: int) -> list[ReadingBatch]:
    simulator = CohortSimulator(seed=SEED, start=START)
    return [
        batch
        for k in range(1, participants + 1)
        for day in range(days)
        for batch in simulator.simulate_day(k, day).batches
        if batch.metric == HEART_RATE.name
    ]


def data_label(participants: int, days: int, metrics: str) -> str:
    return f"{participants} participants × {days} days, {metrics}"


async def producer_throughput(settings: Settings, *, participants: int, days: int, repeats: int) -> list[Measurement]:
    batches = heart_rate_batches(participants, days)
    readings = sum(len(b) for b in batches)
    rates: list[float] = []
    encoded: list[float] = []
    for _ in range(repeats):
        async with environment(settings) as env:
            publisher = BatchPublisher(env.settings.kafka, client_id="bench-producer")
            await publisher.start()
            started = time.perf_counter()
            for batch in batches:
                await publisher.send(batch)
            await publisher.flush()
            rates.append(readings / (time.perf_counter() - started))
            encoded.append(publisher.encoded_bytes / readings)
            await publisher.stop()
    label = data_label(participants, days, f"heart rate, {readings:,} readings in {len(batches):,} batches")
    return [
        summarise("producer.heart_rate", rates, "readings/s", data=label, note="encode + publish, acks=all, lz4"),
        summarise("producer.encoded_bytes_per_reading", encoded, "B/reading", data=label, note="msgpack, before lz4"),
    ]


async def _run_pipeline(env: Environment, plan: ReplayPlan, workers: int, log_dir: Path) -> tuple[float, int]:
    """Workers first (idle, joined), then the replay; returns (readings/s producer→committed, readings)."""
    processes = start_workers(env.env, workers, log_dir)
    connection = await asyncpg.connect(env.database_url)
    try:
        await asyncio.sleep(8)  # workers start and join the group
        started = time.monotonic()
        report = await replay(env.settings.kafka, plan)

        async def done() -> bool:
            if any(p.poll() is not None for p in processes):
                raise RuntimeError(f"a worker exited; see {log_dir}")
            return await stored_readings(connection) >= report.total_readings

        finished = await wait_until(done, timeout_s=900)
        return report.total_readings / (finished - started), report.total_readings
    finally:
        await connection.close()
        stop_workers(processes)


async def raw_bytes_per_reading(database_url: str) -> float:
    pool = await create_pool(database_url, size=2)
    try:
        while (await compact(pool, settle_s=0)).periods:
            pass
        async with pool.acquire() as connection:
            readings = await connection.fetchval("SELECT sum(n) FROM raw_segments")
            # VACUUM FULL keeps the dead row versions that an older snapshot anywhere on the server may still
            # see, so compaction's superseded rows stay while other work runs. Wait (up to 5 min) until every
            # transaction has moved past this moment, then measure the live rows alone.
            now = await connection.fetchval("SELECT pg_current_xact_id()::text")
            for _ in range(HORIZON_WAIT_S):
                if not await connection.fetchval(_OLDER_SNAPSHOTS, now):
                    break
                await asyncio.sleep(1)
            await connection.execute("VACUUM FULL ANALYZE raw_segments")
            for chunk in await connection.fetch("SELECT show_chunks('raw_segments') AS c"):
                await connection.execute(f"VACUUM FULL {chunk['c']}")
            size = await connection.fetchval("SELECT hypertable_size('raw_segments')")
        return float(size) / float(readings)
    finally:
        await pool.close()


async def end_to_end(
    settings: Settings,
    *,
    participants: int,
    days: int,
    metrics: tuple[str, ...] | None,
    workers: int,
    partitions: int,
    repeats: int,
    log_dir: Path,
    measure_storage: bool = False,
    measure_total: bool = False,
) -> list[Measurement]:
    rates: list[float] = []
    sizes: list[float] = []
    totals: list[Measurement] = []
    total = 0
    what = "heart rate" if metrics == (HEART_RATE.name,) else "all metrics"
    name = "heart_rate" if metrics == (HEART_RATE.name,) else "mix"
    for _ in range(repeats):
        async with environment(settings, partitions=partitions) as env:
            plan = ReplayPlan(participants=participants, days=days, seed=SEED, start=START, metrics=metrics)
            rate, total = await _run_pipeline(env, plan, workers, log_dir)
            rates.append(rate)
            if measure_total and not totals:  # bytes are stable: the first repeat's
                stored = data_label(participants, days, f"{what}, {total:,} readings; {workers} worker(s)")
                totals = await storage_total.total_bytes(env.database_url, data=stored)
            if measure_storage:
                sizes.append(await raw_bytes_per_reading(env.database_url))
    label = data_label(participants, days, f"{what}, {total:,} readings; {workers} worker(s), {partitions} partitions")
    results = [summarise(f"end_to_end.{name}.w{workers}.p{partitions}", rates, "readings/s", data=label), *totals]
    if sizes:
        results.append(
            summarise(
                "storage.wearstream.heart_rate",
                sizes,
                "B/reading",
                data=label,
                note="raw_segments after compaction: table + indexes + TOAST",
            )
        )
    return results


async def side_by_side(settings: Settings, *, participants: int, days: int, sample: int) -> list[Measurement]:
    """The common row-per-reading approaches and wearstream's ceiling, on the same heart-rate data."""
    batches = heart_rate_batches(participants, days)
    rows = [
        (b.participant_id, HR_ID, ts, float(v))
        for b in batches
        for ts, v in zip(b.timestamps_array().tolist(), b.values_array().tolist(), strict=True)
    ]
    label = data_label(participants, days, f"heart rate, {len(rows):,} readings")
    async with environment(settings) as env:
        connection = await asyncpg.connect(env.database_url)
        try:
            await connection.execute(ROW_TABLE)
            as_rows = [(p, m, dt.datetime.fromtimestamp(t / 1000, tz=dt.UTC), v) for p, m, t, v in rows]

            # The common approach: one statement (and commit) per reading, as typical ingesters do.
            started = time.perf_counter()
            for record in as_rows[:sample]:
                await connection.execute(
                    "INSERT INTO readings_rows VALUES ($1, $2, $3, $4)"
                    " ON CONFLICT (participant_id, metric_id, time) DO UPDATE SET value = EXCLUDED.value",
                    *record,
                )
            insert_rate = sample / (time.perf_counter() - started)
            await connection.execute("TRUNCATE readings_rows")

            started = time.perf_counter()
            await connection.copy_records_to_table("readings_rows", records=as_rows)
            copy_rate = len(as_rows) / (time.perf_counter() - started)
            await connection.execute("VACUUM ANALYZE readings_rows")
            row_bytes = float(await connection.fetchval("SELECT hypertable_size('readings_rows')")) / len(as_rows)

            # Ceiling: wearstream's stored form straight into the table (pack with numpy + binary COPY).
            started = time.perf_counter()
            segments = [
                s.record()
                for b in batches
                for s in pack(
                    participant_id=b.participant_id,
                    metric_id=HR_ID,
                    batch_id=b.batch_id,
                    scale=1,
                    timestamps=b.timestamps_array(),
                    values=b.values_array().astype(np.float64),
                    extra=[],
                )
            ]
            await connection.copy_records_to_table("raw_segments", records=segments, columns=RAW_COLUMNS)
            ceiling_rate = len(rows) / (time.perf_counter() - started)
        finally:
            await connection.close()
    return [
        Measurement(
            name="common.insert_per_reading",
            value=insert_rate,
            unit="readings/s",
            data=f"{sample:,} of: {label}",
            note="INSERT … ON CONFLICT, one per reading, autocommit",
        ),
        Measurement(
            name="common.copy_rows",
            value=copy_rate,
            unit="readings/s",
            data=label,
            note="binary COPY into a row-per-reading hypertable",
        ),
        Measurement(
            name="storage.rows.heart_rate",
            value=row_bytes,
            unit="B/reading",
            data=label,
            note="row-per-reading hypertable with its primary key",
        ),
        Measurement(
            name="ceiling.copy_segments",
            value=ceiling_rate,
            unit="readings/s",
            data=label,
            note="pack into wearstream's segments + binary COPY, no Kafka, no faust",
        ),
    ]
