"""The Google Health contract server in a process of its own, seeded for `bench sources`: its CPU is not the
runner's, and it enforces the documented per-user limit (300 requests a minute) on its own clock.

Accounts are seeded from the simulator with every data type the connector maps. A 1 Hz day is about 24 MB of
data points in the server's memory, so the accounts share `datasets` simulated participants' data (account i
gets participant i mod `datasets`); each account answers, pages and limits on its own. Two routes of the
benchmark's own sit beside Google's: `POST /bench/advance?ms=` moves the server's clock (uploads synced by the
new time become visible, access tokens age), `GET /bench/log?since=` counts the answers logged since an index.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import multiprocessing
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from litestar import Litestar, get, post

from producers.simulator import CohortSimulator
from tests.contract.google_health.data_routes import data_handlers
from tests.contract.google_health.oauth_routes import oauth_handlers
from tests.contract.google_health.seed import seed
from tests.contract.google_health.state import Account, ContractState, Point
from tests.integration.google_health import CALLBACK
from tests.integration.sources_helpers import steady_participants
from tests.serving import free_port


@dataclass(frozen=True)
class Cohort:
    """What the server holds: `participants` accounts over simulator days [0, `days`) from `start`."""

    participants: int
    datasets: int
    days: int
    seed: int
    start: dt.date

    def email(self, i: int) -> str:
        return f"p{i:04d}@example.com"

    def simulated(self) -> list[int]:
        """The simulator's participant numbers whose data the accounts carry (worn throughout, never dropped)."""
        return steady_participants(CohortSimulator(seed=self.seed, start=self.start), self.datasets)

    def dataset_of(self, i: int) -> int:
        """The simulator's participant number whose data account i (from 1) carries."""
        return self.simulated()[(i - 1) % self.datasets]


class _Bulk(Account):
    """An account seeded in one go: points are sorted once at the end, not on every batch."""

    def add(self, data_type: str, points: list[Point]) -> None:
        self.points.setdefault(data_type, []).extend(points)


def seeded_state(cohort: Cohort) -> tuple[ContractState, int]:
    """The contract state with every account seeded, and the readings seeded over all accounts and days."""
    state = ContractState(redirect_uris={CALLBACK})
    simulator = CohortSimulator(seed=cohort.seed, start=cohort.start)
    data: dict[int, dict[str, list[Point]]] = {}
    readings: dict[int, int] = {}
    for k in cohort.simulated():
        bulk = _Bulk(f"simulated {k}")
        readings[k] = sum(seed(bulk, simulator.simulate_day(k, day).batches) for day in range(cohort.days))
        for points in bulk.points.values():
            points.sort(key=lambda p: (p.time_ms, p.sync_ms))
        data[k] = bulk.points
    total = 0
    for i in range(1, cohort.participants + 1):
        k = cohort.dataset_of(i)
        state.accounts[cohort.email(i)] = Account(cohort.email(i), points=data[k])
        total += readings[k]
    return state, total


def _app(state: ContractState, seeded: int) -> Litestar:
    @get("/healthz", sync_to_thread=False)
    def healthz() -> str:
        return "ok"

    @get("/bench/seeded", sync_to_thread=False)
    def seeded_readings() -> dict[str, int]:
        return {"readings": seeded}

    @post("/bench/advance", sync_to_thread=False, status_code=200)
    def advance(ms: int) -> dict[str, int]:
        with state.lock:
            state.clock.advance(ms)
            return {"now_ms": state.clock.now_ms()}

    @get("/bench/log", sync_to_thread=False)
    def log(since: int = 0) -> dict[str, Any]:
        with state.lock:
            entries = state.log[since:]
            counts = collections.Counter(
                f"{'health' if e.path.startswith('/v4/') else 'oauth'} {e.status}" for e in entries
            )
            return {"next": len(state.log), "counts": dict(counts)}

    handlers = [healthz, seeded_readings, advance, log, *oauth_handlers(state), *data_handlers(state)]
    return Litestar(route_handlers=handlers, debug=False)


def _serve(cohort: Cohort, port: int) -> None:
    state, seeded = seeded_state(cohort)
    uvicorn.Server(uvicorn.Config(_app(state, seeded), host="127.0.0.1", port=port, log_level="warning")).run()


@asynccontextmanager
async def contract_process(cohort: Cohort, *, timeout_s: float = 300.0) -> AsyncIterator[str]:
    """Seeds and serves the cohort in a child process until the block ends; yields its base URL once it answers."""
    port = free_port()
    child = multiprocessing.get_context("spawn").Process(target=_serve, args=(cohort, port), daemon=True)
    child.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            while True:
                try:
                    if (await http.get(f"{base}/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or not child.is_alive():
                    raise RuntimeError(f"the contract server did not start on {base}")
                await asyncio.sleep(0.2)
        yield base
    finally:
        child.terminate()
        child.join(30)
