"""Lossless-import benchmarks, each against a reference measured in the same run.

- storage: bytes per stored raw reading after compaction, for every metric of the registry (simulator cohort),
  and heart rate twice: integer-valued (the simulator) and float-valued (the same readings with the fractional
  parts of wearipedia's Charge 6 export); the integer heart rate is checked against its 1.75 B target;
- import: parse + encode (+ publish to Kafka) of wearipedia's 7-day folder from one process, in readings/s,
  beside the producer's own encode + publish of simulated heart rate (`bench.ingest.producer_throughput`);
- end to end, one worker: integer heart rate and float heart rate, alternating in the same run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Final

import asyncpg
import numpy as np
import numpy.typing as npt

from bench.common import Measurement, environment, fresh_database, stored_readings, summarise, wait_until
from bench.ingest import SEED, START, data_label, producer_throughput, raw_bytes_per_reading
from core.settings import Settings
from deploy.local.services import start_workers
from deploy.local.services import stop as stop_workers
from producers.fitbit import import_files
from producers.publisher import BatchPublisher
from producers.simulator import CohortSimulator
from schemas.metrics import HEART_RATE, METRICS
from schemas.readings import ReadingBatch, encode_batch, make_batch
from stream_processors.db import create_pool
from stream_processors.envelope import Envelope
from stream_processors.sink import Sink
from stream_processors.validate import validate

WEARIPEDIA: Final = Path(__file__).parents[1] / "tests" / "data" / "fitbit" / "wearipedia_7d"
INTEGER_HR_TARGET: Final = 1.75
DAY_MS: Final = 86_400_000


def wearipedia_fractions() -> npt.NDArray[np.float64]:
    """The non-zero fractional parts of wearipedia's heart rate, in file order (e.g. 0.65 of 141.65)."""
    values = [
        float(point["value"])
        for element in json.loads(gzip.decompress((WEARIPEDIA / "hr.json.gz").read_bytes()))
        for day in element["heart_rate_day"]
        for point in day["activities-heart-intraday"]["dataset"]
    ]
    whole = np.array(values, dtype=np.float64)
    fractions = whole - np.floor(whole)
    return np.asarray(fractions[fractions != 0], dtype=np.float64)


def with_fractions(batches: list[ReadingBatch]) -> list[ReadingBatch]:
    """The same heart-rate readings with wearipedia's fractional parts added (cycled), sent as float64."""
    fractions = wearipedia_fractions()
    out: list[ReadingBatch] = []
    position = 0
    for batch in batches:
        values = batch.values_float64()
        picked = np.take(fractions, np.arange(position, position + len(values)), mode="wrap")
        position += len(values)
        out.append(
            make_batch(
                participant_id=batch.participant_id,
                metric=batch.metric,
                device_id=batch.device_id,
                sync_time=batch.sync_time,
                timestamps=batch.timestamps_array(),
                values=values + picked,
                timezone=batch.timezone,
                origin=batch.origin,
            )
        )
    return out


def cohort_batches(participants: int, days: int) -> dict[str, list[ReadingBatch]]:
    simulator = CohortSimulator(seed=SEED, start=START)
    found: dict[str, list[ReadingBatch]] = {name: [] for name in METRICS}
    for k in range(1, participants + 1):
        for day in range(days):
            for batch in simulator.simulate_day(k, day).batches:
                found[batch.metric].append(batch)
    return found


async def stored_bytes_per_reading(settings: Settings, batches: list[ReadingBatch], now_ms: int) -> float:
    """`batches` through validate + Sink into a database of their own, compacted; raw bytes per reading."""
    async with fresh_database(settings) as url:
        pool = await create_pool(url, size=2)
        try:
            sink = Sink(pool, not_synced_after_s=6 * 3600)
            valid = [
                validate(
                    Envelope(topic="t", partition=0, offset=i, payload=encode_batch(b)),
                    expected_metric=None,
                    now_ms=now_ms,
                )
                for i, b in enumerate(batches)
            ]
            for i in range(0, len(valid), 50):
                await sink.apply(valid[i : i + 50])
        finally:
            await pool.close()
        return await raw_bytes_per_reading(url)


async def storage(settings: Settings, *, participants: int, days: int) -> list[Measurement]:
    per_metric = cohort_batches(participants, days)
    end_ms = int(dt.datetime.combine(START, dt.time(), tzinfo=dt.UTC).timestamp() * 1000) + days * DAY_MS
    last_sync = max((b.sync_time for batches in per_metric.values() for b in batches), default=end_ms)
    now_ms = max(end_ms, last_sync) + DAY_MS
    results: list[Measurement] = []
    variants: list[tuple[str, list[ReadingBatch], str]] = []
    for metric, batches in per_metric.items():
        if not batches:
            continue
        if metric == HEART_RATE.name:
            variants.append((f"{metric}.integer", batches, "simulator, whole bpm"))
            variants.append(
                (f"{metric}.float", with_fractions(batches), "the same readings + wearipedia's fractional parts")
            )
        else:
            variants.append((metric, batches, "simulator"))
    for name, batches, what in variants:
        readings = sum(len(b) for b in batches)
        size = await stored_bytes_per_reading(settings, batches, now_ms)
        note = "raw_segments after compaction: table + indexes + TOAST; validate + Sink, no Kafka"
        if readings < 20_000:
            note += "; few readings: the tables' fixed pages (8 kB each) dominate"
        if name == f"{HEART_RATE.name}.integer":
            verdict = "met" if size <= INTEGER_HR_TARGET else "NOT met"
            note += f"; target ≤ {INTEGER_HR_TARGET} B: {verdict}"
        results.append(
            Measurement(
                name=f"storage.bytes_per_reading.{name}",
                value=size,
                unit="B/reading",
                data=data_label(participants, days, f"{what}, {readings:,} readings in {len(batches):,} batches"),
                note=note,
            )
        )
    for label, batches in wearipedia_heart_rate().items():
        readings = sum(len(b) for b in batches)
        size = await stored_bytes_per_reading(settings, batches, WEARIPEDIA_END_MS + 2 * DAY_MS)
        results.append(
            Measurement(
                name=f"storage.bytes_per_reading.heart_rate.wearipedia_{label}",
                value=size,
                unit="B/reading",
                data=f"wearipedia Charge 6, 1 participant × 7 days, heart rate {LABELS[label]}: {readings:,} readings",
                note="raw_segments after compaction: table + indexes + TOAST; import_files → validate + Sink",
            )
        )
    return results


LABELS: Final = {"float": "as exported (fractional)", "integer": "rounded to whole bpm"}
WEARIPEDIA_END_MS: Final = int(dt.datetime(2024, 1, 8, tzinfo=dt.UTC).timestamp() * 1000)


def wearipedia_heart_rate() -> dict[str, list[ReadingBatch]]:
    """wearipedia's week of heart rate as exported (float) and rounded to whole bpm (integer), imported."""
    document = json.loads(gzip.decompress((WEARIPEDIA / "hr.json.gz").read_bytes()))
    rounded = json.loads(json.dumps(document))
    for element in rounded:
        for day in element["heart_rate_day"]:
            for point in day["activities-heart-intraday"]["dataset"]:
                point["value"] = float(round(point["value"]))
    found: dict[str, list[ReadingBatch]] = {}
    with tempfile.TemporaryDirectory(prefix="wearstream-bench-hr-") as work:
        for label, content in (("float", document), ("integer", rounded)):
            path = Path(work) / f"hr-{label}.json"
            path.write_text(json.dumps(content))
            result = import_files([path], participant_id="W0001", device_id="charge6", sync_time=WEARIPEDIA_END_MS)
            found[label] = list(result.batches)
    return found


def unpack_wearipedia(target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for packed in sorted(WEARIPEDIA.glob("*.json.gz")):
        (target / packed.name.removesuffix(".gz")).write_bytes(gzip.decompress(packed.read_bytes()))
    return target


async def import_throughput(settings: Settings, *, participants: int, repeats: int) -> list[Measurement]:
    """wearipedia's folder imported as `participants` participants, from one process: parse + encode only,
    and parse + encode + publish; the producer's encode + publish of simulated heart rate as the reference."""
    work = Path(tempfile.mkdtemp(prefix="wearstream-bench-import-"))
    try:
        folder = unpack_wearipedia(work / "wearipedia_7d")
        parse_rates: list[float] = []
        publish_rates: list[float] = []
        readings = 0
        for _ in range(repeats):
            started = time.perf_counter()
            readings = 0
            for k in range(1, participants + 1):
                result = import_files([folder], participant_id=f"W{k:04d}", device_id="charge6")
                for batch in result.batches:
                    encode_batch(batch)
                readings += sum(len(b) for b in result.batches)
            parse_rates.append(readings / (time.perf_counter() - started))

            async with environment(settings) as env:
                publisher = BatchPublisher(env.settings.kafka, client_id="bench-import")
                await publisher.start()
                try:
                    started = time.perf_counter()
                    for k in range(1, participants + 1):
                        result = import_files([folder], participant_id=f"W{k:04d}", device_id="charge6")
                        for batch in result.batches:
                            await publisher.send(batch)
                    await publisher.flush()
                    publish_rates.append(readings / (time.perf_counter() - started))
                finally:
                    await publisher.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    reference = await producer_throughput(settings, participants=participants * 2, days=2, repeats=repeats)
    producer = reference[0]
    label = f"wearipedia Charge 6, 7 days, imported as {participants} participant(s): {readings:,} readings"
    published = summarise(
        "import.readings_per_s",
        publish_rates,
        "readings/s",
        data=label,
        note="one process: parse JSON + build batches + encode + publish (acks=all, lz4)",
    )
    return [
        published,
        summarise(
            "import.parse_encode_readings_per_s",
            parse_rates,
            "readings/s",
            data=label,
            note="one process: parse JSON + build batches + msgpack encode, no Kafka",
        ),
        producer,
        Measurement(
            name="import.readings_per_s ÷ producer.heart_rate",
            value=published.value / producer.value,
            unit="×",
            data=f"{label}; reference: {producer.data}",
            note="import (with publish) over the simulator producer's encode + publish, same run",
        ),
    ]


async def _end_to_end_once(
    settings: Settings, participants: int, days: int, batches: list[ReadingBatch], log_dir: Path
) -> float:
    """One worker, idle and joined first; participants then `batches` published; readings/s to committed."""
    readings = sum(len(b) for b in batches)
    simulator = CohortSimulator(seed=SEED, start=START)
    async with environment(settings, partitions=6) as env:
        processes = start_workers(env.env, 1, log_dir)
        connection = await asyncpg.connect(env.database_url)
        try:
            await asyncio.sleep(8)  # the worker starts and joins the group
            publisher = BatchPublisher(env.settings.kafka, client_id="bench-e2e")
            await publisher.start()
            started = time.monotonic()
            try:
                for k in range(1, participants + 1):
                    await publisher.send_participant(simulator.participant_record(k, as_of_day=days - 1))
                for batch in batches:
                    await publisher.send(batch)
                await publisher.flush()
            finally:
                await publisher.stop()

            async def done() -> bool:
                if any(p.poll() is not None for p in processes):
                    raise RuntimeError(f"a worker exited; see {log_dir}")
                return await stored_readings(connection) >= readings

            finished = await wait_until(done, timeout_s=900)
            return readings / (finished - started)
        finally:
            await connection.close()
            stop_workers(processes)


async def end_to_end_float_vs_integer(
    settings: Settings, *, participants: int, days: int, repeats: int, log_dir: Path
) -> list[Measurement]:
    integer = cohort_batches(participants, days)[HEART_RATE.name]
    floating = with_fractions(integer)
    readings = sum(len(b) for b in integer)
    integer_rates: list[float] = []
    float_rates: list[float] = []
    for _ in range(repeats):  # alternating, so drift in the machine's load hits both alike
        integer_rates.append(await _end_to_end_once(settings, participants, days, integer, log_dir))
        float_rates.append(await _end_to_end_once(settings, participants, days, floating, log_dir))
    label = data_label(participants, days, f"heart rate, {readings:,} readings; 1 worker, 6 partitions")
    ratio = statistics.median(float_rates) / statistics.median(integer_rates)
    before = "the code before the lossless change is measured by `lossless_before`"
    return [
        summarise(
            "end_to_end.heart_rate_integer.w1.p6",
            integer_rates,
            "readings/s",
            data=f"{label}; whole bpm (simulator)",
            note="producer → Kafka → 1 worker → committed; alternating with the float run",
        ),
        summarise(
            "end_to_end.heart_rate_float.w1.p6",
            float_rates,
            "readings/s",
            data=f"{label}; + wearipedia's fractional parts (float64 on the wire and in store)",
            note="producer → Kafka → 1 worker → committed; alternating with the integer run",
        ),
        Measurement(
            name="end_to_end.heart_rate float ÷ integer",
            value=ratio,
            unit="×",
            data=label,
            note=f"target ≥ 0.9: {'met' if ratio >= 0.9 else 'NOT met'}; medians of the same run; {before}",
        ),
    ]
