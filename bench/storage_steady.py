"""Bytes on disk per reading in steady operation: the same total as `bench.storage_total` (raw segments + 1-minute,
1-hour and 1-day rollups, each with its indexes and TOAST), but with the data arriving as it does in a study —
upload after upload, in sync-time order — and the worker's default compaction (periods settled for 2 h) and a
plain VACUUM (what autovacuum does) after every step of a few hours, instead of all of it at once.

`storage_total` on a two-day replay counts every superseded small segment that compaction freed at once, which
nothing reuses. Here the space compaction frees is reused by the uploads that follow into the same chunk, so
what is left is the free space of the last steps. No VACUUM FULL anywhere.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Final

from bench.common import Measurement, fresh_database
from bench.ingest import SEED, START
from bench.storage_total import total_bytes
from core.settings import Settings
from producers.simulator import CohortSimulator
from schemas.readings import ReadingBatch, encode_batch
from stream_processors.compaction import compact
from stream_processors.db import create_pool
from stream_processors.envelope import Envelope
from stream_processors.sink import Sink
from stream_processors.validate import validate

HOUR_MS: Final = 3_600_000
TABLES: Final = ("raw_segments", "rollup_1m", "rollup_1h", "rollup_1d")


def cohort_by_sync(participants: int, days: int) -> list[ReadingBatch]:
    simulator = CohortSimulator(seed=SEED, start=START)
    batches = [
        batch
        for k in range(1, participants + 1)
        for day in range(days)
        for batch in simulator.simulate_day(k, day).batches
    ]
    return sorted(batches, key=lambda b: b.sync_time)


async def steady_bytes(settings: Settings, *, participants: int, days: int, step_hours: int = 6) -> list[Measurement]:
    batches = cohort_by_sync(participants, days)
    readings = sum(len(b) for b in batches)
    first = batches[0].sync_time
    now_ms = batches[-1].sync_time + 24 * HOUR_MS
    started = time.monotonic()
    async with fresh_database(settings) as url:
        pool = await create_pool(url, size=2)
        try:
            sink = Sink(pool, not_synced_after_s=6 * 3600)
            step_end = first + step_hours * HOUR_MS
            i = steps = 0
            while i < len(batches):
                j = i
                while j < len(batches) and batches[j].sync_time < step_end:
                    j += 1
                for k in range(i, j, 50):
                    await sink.apply(
                        [
                            validate(
                                Envelope(topic="t", partition=0, offset=n, payload=encode_batch(batches[n])),
                                expected_metric=None,
                                now_ms=now_ms,
                            )
                            for n in range(k, min(k + 50, j))
                        ]
                    )
                while (await compact(pool, now_ms=step_end)).periods:
                    pass
                async with pool.acquire() as connection:
                    for table in TABLES:
                        await connection.execute(f"VACUUM ANALYZE {table}")
                i, step_end, steps = j, step_end + step_hours * HOUR_MS, steps + 1
                if steps % 4 == 0:
                    print(f"    storage_steady: {i:,}/{len(batches):,} batches, {time.monotonic() - started:.0f} s")
        finally:
            await pool.close()
        label = (
            f"{participants} participants × {days} days, all metrics, {readings:,} readings in {len(batches):,}"
            f" uploads, arriving in sync-time order in {step_hours}-hour steps"
        )
        found = await total_bytes(url, data=label)
    when = dt.datetime.fromtimestamp(first / 1000, dt.UTC).date()
    for m in found:
        m.name = m.name.replace("storage.total.", "storage.steady.")
        m.note = (
            f"from {when}: after each step, compaction (2 h settle) and a plain VACUUM; " + m.note.split(": ", 1)[1]
        )
    return found
