"""`wearstream estimate`: readings, bytes and Kafka retention for a study of N participants over Y years.

Readings per participant-day come from simulating a sample of participant-days (the same simulator that the
tests and benchmarks use). Bytes per reading come from the user's own database when it holds data, else from
the latest benchmark results, else from a documented default — and the output says which.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Final

import asyncpg
import msgspec

from producers.simulator import CohortSimulator
from schemas.metrics import METRIC_IDS, METRICS

DEFAULT_STORED_BYTES: Final = 2.0
"""B/reading when nothing was measured: the design target for compacted raw storage."""
DEFAULT_ROLLUP_ROW_BYTES: Final = 110.0
DEFAULT_WIRE_BYTES: Final = 10.6
"""Encoded msgpack bytes per heart-rate reading (int64 time + int16 value + framing), before compression."""
RESULTS: Final = Path(__file__).parent.parent / "bench" / "results"


class Sources(msgspec.Struct, frozen=True, kw_only=True):
    stored_bytes: dict[str, float]
    stored_from: str
    rollup_row_bytes: float
    wire_bytes: float
    wire_from: str


class Estimate(msgspec.Struct, frozen=True, kw_only=True):
    participants: int
    years: float
    metrics: list[str]
    readings_per_day: dict[str, float]
    """Per participant and metric (simulated average)."""
    readings: float
    raw_bytes: float
    """As devices produce them: 8-byte time + 8-byte value per reading."""
    stored_bytes: float
    rollup_rows: float
    rollup_bytes: float
    kafka_retention_days: float
    kafka_bytes: float
    sources: Sources


class KafkaFootprint(msgspec.Struct, frozen=True, kw_only=True):
    """What the readings cost a Kafka cluster of `brokers` keeping `replicas` copies of every partition."""

    brokers: int
    replicas: int
    min_insync: int
    """Replicas that must hold a write before `acks=all` producers get their acknowledgement."""
    produced_per_day: float
    """Bytes producers send a day (one copy, as encoded)."""
    disk_total: float
    """The retention's readings times the replicas, over all brokers."""
    disk_per_broker: float
    replication_per_day: float
    """Bytes leaders send followers a day: (replicas − 1) copies."""
    consumed_per_day: float
    """Bytes the processor group fetches a day (one copy; each further consumer group another)."""
    broker_losses_tolerated: int
    """Brokers that may be down while every partition still accepts `acks=all` writes."""


class DailyProfile(msgspec.Struct, frozen=True):
    """Per metric, for an average participant-day that delivered data."""

    readings: dict[str, float]
    minutes: dict[str, float]
    """1-minute buckets with data: the rows of the 1-minute rollup."""


def daily_profile(sample_participants: int = 20, days: int = 3, seed: int = 1) -> DailyProfile:
    """Averages over simulated participant-days that delivered data."""
    import numpy as np

    simulator = CohortSimulator(seed=seed, start=dt.date(2026, 1, 5))
    readings = dict.fromkeys(METRICS, 0.0)
    minutes = dict.fromkeys(METRICS, 0.0)
    delivered = 0
    for k in range(1, sample_participants + 1):
        for day in range(days):
            simulated = simulator.simulate_day(k, day)
            if not len(simulated.readings["steps"]):
                continue
            delivered += 1
            for metric, metric_readings in simulated.readings.items():
                readings[metric] += len(metric_readings)
                minutes[metric] += len(np.unique(metric_readings.timestamps // 60_000))
    scale = 1 / max(delivered, 1)
    return DailyProfile(
        readings={m: v * scale for m, v in readings.items()}, minutes={m: v * scale for m, v in minutes.items()}
    )


def rollup_row_count(minutes_per_day: float, days: float, rollup_1m_retention_days: float) -> float:
    """Rollup rows over `days`: one per minute with data at 1 min (kept for its retention, 0 = for ever), plus
    hours and days (at most 1/60 and 1/1440 of the minutes, kept for ever)."""
    kept_days = min(days, rollup_1m_retention_days) if rollup_1m_retention_days else days
    return minutes_per_day * (kept_days + days * (1 / 60 + 1 / 1440))


def compute(
    *,
    participants: int,
    years: float,
    metrics: list[str],
    profile: DailyProfile,
    sources: Sources,
    kafka_retention_days: float,
    rollup_1m_retention_days: float = 0,
) -> Estimate:
    days = years * 365.25
    per_day = profile.readings
    readings = {m: per_day[m] * participants * days for m in metrics}
    total = sum(readings.values())
    stored = sum(readings[m] * sources.stored_bytes.get(m, sources.stored_bytes["heart_rate"]) for m in metrics)
    minutes_per_day = sum(profile.minutes[m] for m in metrics) * participants
    rollup_rows = rollup_row_count(minutes_per_day, days, rollup_1m_retention_days)
    daily_readings = sum(per_day[m] for m in metrics) * participants
    return Estimate(
        participants=participants,
        years=years,
        metrics=metrics,
        readings_per_day={m: per_day[m] for m in metrics},
        readings=total,
        raw_bytes=total * 16,
        stored_bytes=stored,
        rollup_rows=rollup_rows,
        rollup_bytes=rollup_rows * sources.rollup_row_bytes,
        kafka_retention_days=kafka_retention_days,
        kafka_bytes=daily_readings * kafka_retention_days * sources.wire_bytes,
        sources=sources,
    )


def kafka_footprint(estimate: Estimate, *, brokers: int, replicas: int | None = None) -> KafkaFootprint:
    """The Kafka side of `estimate` on `brokers` brokers; `replicas` None: as wearstream creates topics (as many
    as brokers, at most 3), with min.insync.replicas 2 from 3 replicas on."""
    copies = replicas or min(3, brokers)
    if not 1 <= copies <= brokers:
        raise ValueError(f"{copies} replicas need at least as many brokers (have {brokers})")
    min_insync = 2 if copies >= 3 else 1
    per_day = estimate.kafka_bytes / estimate.kafka_retention_days if estimate.kafka_retention_days else 0.0
    total = estimate.kafka_bytes * copies
    return KafkaFootprint(
        brokers=brokers,
        replicas=copies,
        min_insync=min_insync,
        produced_per_day=per_day,
        disk_total=total,
        disk_per_broker=total / brokers,
        replication_per_day=per_day * (copies - 1),
        consumed_per_day=per_day,
        # A partition keeps accepting writes while min_insync of its replicas live; any partition may have a
        # replica on each lost broker.
        broker_losses_tolerated=copies - min_insync,
    )


async def measured_sources(database_url: str | None) -> Sources:
    """Bytes per reading measured in the user's database if it holds compacted data, else from bench results."""
    bench = latest_bench()
    wire = bench.get("producer.encoded_bytes_per_reading")
    wire_bytes, wire_from = (wire, "the latest benchmark") if wire else (DEFAULT_WIRE_BYTES, "the default")
    if database_url:
        try:
            connection = await asyncpg.connect(database_url, timeout=5)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            connection = None
        if connection is not None:
            try:
                measured = await _measure(connection)
            finally:
                await connection.close()
            if measured is not None:
                stored, rollup_row = measured
                return Sources(
                    stored_bytes=stored,
                    stored_from=f"your database ({database_url.rsplit('@', 1)[-1]})",
                    rollup_row_bytes=rollup_row,
                    wire_bytes=wire_bytes,
                    wire_from=wire_from,
                )
    # Per metric where the storage benchmark measured it (compacted, after VACUUM FULL); heart rate from the
    # end-to-end run; a metric without its own figure takes heart rate's.
    stored = {m: bench[f"storage.bytes_per_reading.{m}"] for m in METRICS if f"storage.bytes_per_reading.{m}" in bench}
    hr = bench.get("storage.wearstream.heart_rate")
    if hr:
        return Sources(
            stored_bytes={**stored, "heart_rate": hr},
            stored_from=f"the latest benchmarks ({'per metric' if len(stored) > 1 else 'heart rate'})",
            rollup_row_bytes=DEFAULT_ROLLUP_ROW_BYTES,
            wire_bytes=wire_bytes,
            wire_from=wire_from,
        )
    return Sources(
        stored_bytes={"heart_rate": DEFAULT_STORED_BYTES},
        stored_from="the default (no measurement found)",
        rollup_row_bytes=DEFAULT_ROLLUP_ROW_BYTES,
        wire_bytes=wire_bytes,
        wire_from=wire_from,
    )


async def _measure(connection: asyncpg.Connection) -> tuple[dict[str, float], float] | None:
    """Bytes per reading of compacted raw rows (their share of the table's pages, indexes and TOAST) per
    metric, and bytes per 1-minute rollup row; None when the database holds no compacted data yet."""
    if await connection.fetchval("SELECT to_regclass('raw_segments') IS NULL"):
        return None
    rows = await connection.fetch(
        "SELECT metric_id, sum(n) AS readings, sum(pg_column_size(s.*)) AS bytes FROM raw_segments s"
        " WHERE batch_ids IS NOT NULL GROUP BY 1"
    )
    if not rows:
        return None
    everything = await connection.fetchval("SELECT sum(pg_column_size(s.*)) FROM raw_segments s")
    total = await connection.fetchval("SELECT hypertable_size('raw_segments')")
    # Spread the table's overhead (pages, indexes, TOAST) over rows in proportion to their bytes.
    factor = float(total) / float(everything)
    names = {i: name for name, i in METRIC_IDS.items()}
    stored = {names[r["metric_id"]]: float(r["bytes"]) * factor / int(r["readings"]) for r in rows}
    # A rollup row: its data, tuple header and line pointer (28 B), and a primary-key index entry (~40 B).
    row = await connection.fetchval("SELECT avg(pg_column_size(r.*)) FROM rollup_1m r")
    return stored, (float(row) + 68.0) if row else DEFAULT_ROLLUP_ROW_BYTES


def latest_bench() -> dict[str, float]:
    """Each benchmark's latest value across the result files (a partial run does not hide older ones)."""
    runs = sorted(RESULTS.glob("*.json")) if RESULTS.exists() else []
    found: dict[str, float] = {}
    for path in runs:
        try:
            data = json.loads(path.read_text())
            found.update({m["name"]: float(m["value"]) for m in data["measurements"]})
        except (OSError, ValueError, KeyError):
            continue
    return found


def human_bytes(value: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(value) < 1000 or unit == "PB":
            return f"{value:,.1f} {unit}"
        value /= 1000
    return f"{value:,.1f} PB"
