"""`bench sources`: what one sources runner does against the Google Health API, and how many participants it serves.

The contract server (tests/contract/google_health, in a process of its own: `bench.sources_server`) holds
`participants` accounts with every data type the connector maps, and answers 429 + Retry-After past the
documented 300 requests a minute per user. Each participant is enrolled through the real consent flow (PKCE,
code exchange, sealed grant). Then the real runner (`sync_once`, the code of `wearstream sources sync --once`,
4 participants at once, its own token buckets) publishes to the real local Kafka (no processor) in three passes
on the server's clock: the backfill of `days` days to 01:00 for everyone, then for the first `incremental`
participants an incremental pass 15 minutes later and the daily delta-load a day after that. After each pass,
its first `REFERENCE_MAX` GETs (URLs and tokens as the runner sent them) are sent again with the same client
library, 4 at once, without the runner: the reference.

CPU is this process's (user + system): the runner with its HTTP client, mapping, Kafka producer and cursor saves;
not the server's, the broker's or PostgreSQL's.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Final

import asyncpg
import httpx
import msgspec

from bench.common import Measurement, environment
from bench.ingest import SEED
from bench.sources_report import measurements
from bench.sources_server import Cohort, contract_process
from core.settings import Settings
from producers.simulator import CohortSimulator
from producers.sources.choose import PoolBound
from producers.sources.google_health.settings import GoogleHealthSettings
from producers.sources.google_health.source import GoogleHealthSource
from producers.sources.google_health.tokens import SOURCE, GrantStore, Sealer
from producers.sources.runner import Enrolled, SyncReport
from producers.sources.sync import sync_once
from schemas.participants import Participant
from stream_processors import participant_records as records
from tests.contract.google_health.state import ContractState
from tests.integration.google_health import Harness, connector_settings

DAY_MS: Final = 86_400_000
MINUTE_MS: Final = 60_000
DATASETS: Final = 10
REFERENCE_CONCURRENCY: Final = 4
REFERENCE_MAX: Final = 600
"""GETs of a pass sent again, at most: the first ones, the same mix of data types (it keeps the run short)."""


@dataclass
class Pass:
    """One runner pass and its reference, as measured."""

    name: str
    participants: int
    report: SyncReport
    seconds: float
    cpu_s: float
    answers: dict[str, int]
    """The server's answers during the pass: "health 200", "health 429", "oauth 200", … → count."""
    sent: list[tuple[str, str]] = field(default_factory=list)
    """(URL, Authorization) of every Health API request the runner's client sent, in order."""
    reference_seconds: float = 0.0
    reference_cpu_s: float = 0.0
    reference_answers: dict[int, int] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        """Health API requests the server answered (429s included: they count against the quota too)."""
        return sum(n for key, n in self.answers.items() if key.startswith("health"))

    @property
    def rate_limited(self) -> int:
        return self.answers.get("health 429", 0)


@dataclass
class Bench:
    settings: Settings
    connector: GoogleHealthSettings
    key: str
    """The sealing key of the grant store."""
    base: str
    offset_ms: int
    """The server's clock minus the real one: the runner and the connector read the same."""

    @property
    def sealer(self) -> Sealer:
        return Sealer([self.key])

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.offset_ms

    def now_s(self) -> float:
        return self.now_ms() / 1000

    async def advance(self, ms: int) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            (await http.post(f"{self.base}/bench/advance", params={"ms": ms})).raise_for_status()
        self.offset_ms += ms

    async def log_index(self) -> int:
        return (await self._log(10**12)).next

    async def answers_since(self, index: int) -> dict[str, int]:
        return (await self._log(index)).counts

    async def _log(self, since: int) -> Logged:
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.get(f"{self.base}/bench/log", params={"since": since})
            answer.raise_for_status()
            return msgspec.json.decode(answer.content, type=Logged)


class Logged(msgspec.Struct, frozen=True):
    next: int
    counts: dict[str, int]


async def enrol_all(bench: Bench, cohort: Cohort, database_url: str) -> None:
    """Every participant's record (authorisation `never`), then the consent flow, which authorises them."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    assert pool is not None
    simulator = CohortSimulator(seed=cohort.seed, start=cohort.start)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            harness = Harness(ContractState(), bench.base, bench.connector, bench.sealer, pool, http, bench.key)
            for i in range(1, cohort.participants + 1):
                zone = simulator.traits(cohort.dataset_of(i)).timezone
                record = Participant(
                    participant_id=f"P{i:04d}", enrolled_on=cohort.start, timezone=zone, authorisation="never"
                )
                async with pool.acquire() as connection:
                    await records.create(connection, record, actor="bench")
                await harness.consent(record.participant_id, cohort.email(i))
    finally:
        await pool.close()


async def one_pass(bench: Bench, name: str, only: list[str] | None = None) -> Pass:
    """A pass of `sync_once` over the authorised participants (`only` those, when given), timed from the
    participants' list to its end."""
    sent: list[tuple[str, str]] = []

    async def record(request: httpx.Request) -> None:
        if request.url.path.startswith("/v4/"):
            sent.append((str(request.url), request.headers["Authorization"]))

    @asynccontextmanager
    async def opened(pool: asyncpg.Pool) -> AsyncIterator[GoogleHealthSource]:
        async with httpx.AsyncClient(timeout=30, event_hooks={"request": [record]}) as http:
            yield GoogleHealthSource(bench.connector, http, GrantStore(pool, bench.sealer), clock=bench.now_s)

    started: list[float] = []

    def on_start(targets: list[Enrolled], _: object) -> None:
        started[:] = [time.perf_counter(), time.process_time(), float(len(targets))]

    index = await bench.log_index()
    report = await sync_once(
        bench.settings, PoolBound(SOURCE, opened), participants=only, clock=bench.now_ms, on_start=on_start
    )
    seconds, cpu_s = time.perf_counter() - started[0], time.process_time() - started[1]
    answers = await bench.answers_since(index)
    if report.failed:
        raise RuntimeError(f"the {name} pass failed: {dict(list(report.failures.items())[:5])}")
    found = Pass(name, int(started[2]), report, seconds, cpu_s, answers, sent)
    await reference(found)
    return found


async def reference(found: Pass) -> None:
    """The pass's first `REFERENCE_MAX` GETs again, with the same client library and as many at once as the
    runner, and nothing else."""
    statuses: collections.Counter[int] = collections.Counter()
    queue = iter(found.sent[:REFERENCE_MAX])
    async with httpx.AsyncClient(timeout=30) as http:

        async def worker() -> None:
            for url, authorization in queue:
                answer = await http.get(url, headers={"Authorization": authorization})
                statuses[answer.status_code] += 1

        began, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(REFERENCE_CONCURRENCY)))
        found.reference_seconds, found.reference_cpu_s = time.perf_counter() - began, time.process_time() - cpu
    found.reference_answers = dict(statuses)


async def sources_benchmark(settings: Settings, *, participants: int, days: int, incremental: int) -> list[Measurement]:
    """The backfill of `days` days for every participant; a pass 15 minutes later and the daily delta-load for
    the first `incremental` of them (each re-reads the connector's 3-day lookback, so a steady-state pass costs
    about as much as a 3-day backfill); and what they imply."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # once another step set up logging: a line per request
    # Enrolment stamps token expiry on the real clock, so the server's clock starts on it and only moves on:
    # history from `days` days before tomorrow, the backfill at 01:00 tomorrow (UTC).
    start = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1 - days)
    first_pass_ms = int(dt.datetime.combine(start, dt.time(1), tzinfo=dt.UTC).timestamp() * 1000) + days * DAY_MS
    # Simulated days up to the end of the daily pass's day: its uploads become visible as the clock moves.
    cohort = Cohort(participants, min(DATASETS, participants), days + 2, SEED, start)
    async with environment(settings) as env, contract_process(cohort) as base:
        connector = connector_settings(base, ContractState())  # the server process registered the callback
        bench = Bench(env.settings, connector, Sealer.new_key(), base, 0)
        await enrol_all(bench, cohort, env.database_url)
        await bench.advance(first_pass_ms - bench.now_ms())
        passes = [await one_pass(bench, "backfill")]
        sample = [f"P{i:04d}" for i in range(1, min(incremental, participants) + 1)]
        await bench.advance(15 * MINUTE_MS)
        passes.append(await one_pass(bench, "every_15m", sample))
        await bench.advance(DAY_MS)
        passes.append(await one_pass(bench, "daily", sample))
    label = (
        f"{participants} participants (accounts carrying {cohort.datasets} simulated participants' data), "
        f"all 7 data types, {days} days of history"
    )
    return measurements(passes, label)
