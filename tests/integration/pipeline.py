"""Helpers for end-to-end tests: an isolated pipeline (own topics, group, database) and its ground truth."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import time
import uuid
from collections import defaultdict
from pathlib import Path

import asyncpg
import msgspec
import numpy as np
import numpy.typing as npt

from core.settings import Settings
from deploy.local.services import WORKER_ARGS, spawn
from deploy.local.services import stop as stop_workers
from producers.simulator import CohortSimulator
from schemas.metrics import HEART_RATE, METRIC_IDS
from schemas.readings import exact_float64
from stream_processors.gaps import Hole, holes_between_instants, trailing_hole
from stream_processors.rollups import aggregate, fixed_buckets, local_day_buckets
from tests.integration.cleanup import created_prefixes

NOT_SYNCED_S = 6 * 3600


class Isolated(msgspec.Struct, frozen=True):
    settings: Settings
    env: dict[str, str]


def isolated(settings: Settings, database_url: str, partitions: int = 3) -> Isolated:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    group = f"g{uuid.uuid4().hex[:10]}"
    created_prefixes.update({f"{prefix}.", group})
    kafka = settings.kafka.model_copy(update={"topic_prefix": prefix, "partitions": partitions})
    database = settings.database.model_copy(update={"url": database_url})
    processor = settings.processor.model_copy(update={"group_id": group})
    env = {
        **os.environ,
        "WEARSTREAM_KAFKA_TOPIC_PREFIX": prefix,
        "WEARSTREAM_KAFKA_PARTITIONS": str(partitions),
        "WEARSTREAM_DATABASE_URL": database_url,
        "WEARSTREAM_PROCESSOR_GROUP_ID": group,
        "WEARSTREAM_PROCESSOR_METRICS_PORT": "0",
        "WEARSTREAM_PROCESSOR_GAP_CHECK_INTERVAL_S": "2",
        "WEARSTREAM_PROCESSOR_SESSION_TIMEOUT_S": "10",
        "WEARSTREAM_PROCESSOR_NOT_SYNCED_AFTER_S": str(NOT_SYNCED_S),
    }
    return Isolated(
        settings=settings.model_copy(update={"kafka": kafka, "database": database, "processor": processor}), env=env
    )


def start_processor(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return spawn(WORKER_ARGS, log, env=env)


def stop_processor(process: subprocess.Popen[bytes]) -> None:
    stop_workers([process])


async def stored_readings(database_url: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        return int(await connection.fetchval("SELECT coalesce(sum(n), 0) FROM raw_segments"))
    finally:
        await connection.close()


async def wait_for_readings(
    database_url: str, expected: int, *, timeout_s: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    stored = 0
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the processor exited with {process.returncode}")
        stored = await stored_readings(database_url)
        if stored >= expected:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{stored} of {expected} readings stored after {timeout_s} s")


Readings = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]


class Truth(msgspec.Struct):
    """What the simulator generated for participants 1…n over the days, per participant and metric."""

    readings: dict[tuple[str, str], Readings]
    uploads: dict[str, npt.NDArray[np.int64]]
    timezones: dict[str, str]

    @property
    def total(self) -> int:
        return sum(len(ts) for ts, _ in self.readings.values())


def ground_truth(simulator: CohortSimulator, participants: int, days: int) -> Truth:
    parts: dict[tuple[str, str], list[Readings]] = defaultdict(list)
    uploads: dict[str, set[int]] = defaultdict(set)
    timezones = {}
    for k in range(1, participants + 1):
        traits = simulator.traits(k)
        timezones[traits.participant_id] = traits.timezone
        for day in range(days):
            simulated = simulator.simulate_day(k, day)
            for metric, readings in simulated.readings.items():
                if len(readings):
                    parts[(traits.participant_id, metric)].append(
                        # float32 columns stand for their shortest decimal, as on the wire.
                        (readings.timestamps, exact_float64(readings.values))
                    )
            uploads[traits.participant_id].update(b.sync_time for b in simulated.batches)
    merged = {
        key: (np.concatenate([p[0] for p in chunks]), np.concatenate([p[1] for p in chunks]))
        for key, chunks in parts.items()
    }
    return Truth(
        readings=merged,
        uploads={pid: np.array(sorted(times), dtype=np.int64) for pid, times in uploads.items() if times},
        timezones=timezones,
    )


def expected_not_worn(truth: Truth) -> dict[str, list[Hole]]:
    """not_worn by its definition, computed from the generated readings of the whole replay."""
    threshold = (HEART_RATE.gap_threshold_s or 0) * 1000
    expected: dict[str, list[Hole]] = {}
    for pid in truth.timezones:
        own = [ts for (p, _), (ts, _) in truth.readings.items() if p == pid]
        if not own:
            continue
        first_any = int(min(ts[0] for ts in own))
        last_any = int(max(ts[-1] for ts in own))
        hr = truth.readings.get((pid, HEART_RATE.name))
        holes: list[Hole] = []
        if hr is None:
            never = trailing_hole(first_any, last_any, threshold)
            holes = [never] if never else []
        else:
            ts = hr[0]
            if ts[0] - first_any >= threshold:
                holes.append(Hole(first_any, int(ts[0])))
            holes.extend(holes_between_instants(ts, threshold))
            trailing = trailing_hole(int(ts[-1]), last_any, threshold)
            holes.extend([trailing] if trailing else [])
        expected[pid] = sorted(holes)
    return expected


def expected_not_synced(truth: Truth) -> dict[str, list[Hole]]:
    """Closed not_synced gaps between uploads, and the open one after the last upload (the clock is now)."""
    expected = {}
    for pid, uploads in truth.uploads.items():
        holes = holes_between_instants(uploads, NOT_SYNCED_S * 1000)
        expected[pid] = sorted([*holes, Hole(int(uploads[-1]), None)])
    return expected


async def assert_database_matches(database_url: str, truth: Truth, *, check_gaps: bool = True) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        # Raw: counts and checksums per participant × metric, through the unpacking SQL function.
        for (pid, metric), (ts, values) in truth.readings.items():
            row = await connection.fetchrow(
                "SELECT count(*) AS n, sum(ts_to_ms(time)) AS ts, sum(value) AS v"
                " FROM raw_readings($1, $2, ms_to_ts($3), ms_to_ts($4))",
                pid,
                metric,
                int(ts[0]),
                int(ts[-1]) + 1,
            )
            assert row["n"] == len(ts), (pid, metric)
            assert int(row["ts"]) == int(ts.sum()), (pid, metric)
            # Stored values are exact: only the order of the SQL sum differs from numpy's.
            assert abs(float(row["v"]) - values.sum()) <= 1e-9 * max(1.0, abs(values.sum())), (pid, metric)
        # Rollups: equal to numpy over the generated readings.
        for table in ("rollup_1m", "rollup_1h", "rollup_1d"):
            rows = await connection.fetch(
                f"SELECT participant_id, metric_id, ts_to_ms(bucket) AS b, count, sum, min, max, minutes FROM {table}"
            )
            stored = {(r["participant_id"], r["metric_id"], r["b"]): r for r in rows}
            expected_keys = set()
            for (pid, metric), (ts, values) in truth.readings.items():
                if table == "rollup_1d":
                    buckets = local_day_buckets(ts, truth.timezones[pid])
                else:
                    buckets = fixed_buckets(ts, 60_000 if table == "rollup_1m" else 3_600_000)
                rollup = aggregate(buckets, ts, values)
                minutes = fixed_buckets(ts, 60_000)
                for i, bucket in enumerate(rollup.bucket_ms.tolist()):
                    key = (pid, METRIC_IDS[metric], bucket)
                    expected_keys.add(key)
                    row = stored.get(key)
                    assert row is not None, (table, key)
                    assert row["count"] == rollup.count[i], (table, key)
                    assert abs(row["sum"] - rollup.sum[i]) <= 1e-6 * max(1.0, abs(rollup.sum[i])), (table, key)
                    assert row["min"] == rollup.min[i], (table, key)
                    assert row["max"] == rollup.max[i], (table, key)
                    if table != "rollup_1m":
                        assert row["minutes"] == len(np.unique(minutes[buckets == bucket])), (table, key)
            assert set(stored) == expected_keys, table
        if check_gaps:
            await assert_gaps(connection, truth)
    finally:
        await connection.close()


async def assert_gaps(connection: asyncpg.Connection, truth: Truth) -> None:
    rows = await connection.fetch(
        "SELECT participant_id, kind, ts_to_ms(start_time) AS s, ts_to_ms(end_time) AS e FROM gaps"
        " ORDER BY participant_id, kind, start_time"
    )
    found: dict[tuple[str, str], list[Hole]] = defaultdict(list)
    for row in rows:
        found[(row["participant_id"], row["kind"])].append(Hole(row["s"], row["e"]))
    for pid, holes in expected_not_worn(truth).items():
        assert found.get((pid, "not_worn"), []) == holes, (pid, "not_worn", found.get((pid, "not_worn")), holes)
    for pid, holes in expected_not_synced(truth).items():
        assert found.get((pid, "not_synced"), []) == holes, (pid, "not_synced", found.get((pid, "not_synced")), holes)
    participants_with_data = {pid for pid, _ in truth.readings}
    assert {pid for pid, _ in found} <= participants_with_data


def utc_ms(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp() * 1000)
