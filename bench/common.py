"""What every benchmark shares: a fresh database and topics, timing, and summary statistics."""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import msgspec

from core.settings import Settings
from core.topics import delete_topics, ensure_topics
from schemas.migrate import migrate
from stream_processors.db import drop_database


class Measurement(msgspec.Struct, kw_only=True):
    """One benchmark's result: a value (median of the repeats), its spread, and what it was measured on."""

    name: str
    value: float
    unit: str
    repeats: list[float] = []
    data: str = ""
    note: str = ""

    @property
    def spread(self) -> float:
        return (max(self.repeats) - min(self.repeats)) if len(self.repeats) > 1 else 0.0


def summarise(name: str, samples: list[float], unit: str, *, data: str, note: str = "") -> Measurement:
    return Measurement(name=name, value=statistics.median(samples), unit=unit, repeats=samples, data=data, note=note)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def machine() -> dict[str, str]:
    memory_kb = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    return {
        "cores": str(os.cpu_count()),
        "memory_gib": f"{memory_kb / 1024 / 1024:.0f}",
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


class Environment(msgspec.Struct, frozen=True):
    settings: Settings
    env: dict[str, str]
    database_url: str


@asynccontextmanager
async def fresh_database(settings: Settings) -> AsyncIterator[str]:
    """A migrated database of its own (no topics), dropped afterwards."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(settings.database.url)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    url = settings.database.url.rsplit("/", 1)[0] + "/" + name
    try:
        await migrate(url)
        yield url
    finally:
        await drop_database(settings.database.url, name)


@asynccontextmanager
async def environment(settings: Settings, *, partitions: int = 6) -> AsyncIterator[Environment]:
    """A fresh migrated database and topic prefix (dropped afterwards), and the env for worker processes."""
    async with fresh_database(settings) as url:
        prefix = f"bench{uuid.uuid4().hex[:8]}"
        group = f"bench-{uuid.uuid4().hex[:8]}"
        kafka = settings.kafka.model_copy(update={"topic_prefix": prefix, "partitions": partitions})
        database = settings.database.model_copy(update={"url": url})
        processor = settings.processor.model_copy(update={"group_id": group})
        isolated = settings.model_copy(update={"kafka": kafka, "database": database, "processor": processor})
        await ensure_topics(kafka)
        env = {
            **os.environ,
            "WEARSTREAM_KAFKA_TOPIC_PREFIX": prefix,
            "WEARSTREAM_KAFKA_PARTITIONS": str(partitions),
            "WEARSTREAM_DATABASE_URL": url,
            "WEARSTREAM_PROCESSOR_GROUP_ID": group,
            "WEARSTREAM_PROCESSOR_METRICS_PORT": "0",
            "WEARSTREAM_PROCESSOR_SESSION_TIMEOUT_S": "10",
        }
        try:
            yield Environment(settings=isolated, env=env, database_url=url)
        finally:
            await delete_topics(settings.kafka.bootstrap_servers, (f"{prefix}.", f"{group}-"))


async def stored_readings(connection: asyncpg.Connection) -> int:
    return int(await connection.fetchval("SELECT coalesce(sum(n), 0) FROM raw_segments"))


async def wait_until(check: Callable[[], object], *, timeout_s: float, poll_s: float = 0.05) -> float:
    """Polls an async `check` until it returns truthy; returns the monotonic time it did."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():  # type: ignore[misc]
            return time.monotonic()
        await _sleep(poll_s)
    raise TimeoutError(f"not done within {timeout_s} s")


async def _sleep(seconds: float) -> None:

    await asyncio.sleep(seconds)
