"""A Google Health harness for integration tests: the contract server, a migrated database, the connector's
settings pointing at both, and a consent given over plain HTTP (the browser test gives it in Chromium)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx

from producers.sources.base import Page, Window
from producers.sources.google_health.client import RetryPolicy
from producers.sources.google_health.enrolment import GoogleHealthEnrolment
from producers.sources.google_health.settings import GoogleHealthSettings
from producers.sources.google_health.source import GoogleHealthSource
from producers.sources.google_health.tokens import GrantStore, Sealer
from schemas.participants import Participant
from schemas.readings import ReadingBatch
from stream_processors import participant_records as records
from tests.contract.google_health.seed import seed
from tests.contract.google_health.server import serve_contract
from tests.contract.google_health.state import ContractState

CALLBACK = "http://127.0.0.1:9/v1/sources/google_health/callback"
"""Where the plain-HTTP consent is redirected: never followed, the code is read off the Location header."""


def connector_settings(
    base: str, state: ContractState, *, redirect_uri: str = CALLBACK, **overrides: object
) -> GoogleHealthSettings:
    state.redirect_uris.add(redirect_uri)
    values: dict[str, object] = {
        "client_id": state.client_id,
        "client_secret": state.client_secret,
        "redirect_uri": redirect_uri,
        "auth_url": f"{base}/o/oauth2/v2/auth",
        "token_url": f"{base}/token",
        "revoke_url": f"{base}/revoke",
        "api_url": f"{base}/v4",
        **overrides,
    }
    return GoogleHealthSettings.model_validate(values)


@dataclass
class Harness:
    state: ContractState
    base: str
    settings: GoogleHealthSettings
    sealer: Sealer
    pool: asyncpg.Pool
    http: httpx.AsyncClient
    key: str
    """The sealing key of `sealer` (WEARSTREAM_SOURCES_KEY of a `wearstream sources` process)."""

    def environment(self, **connector: str) -> dict[str, str]:
        """The connector's settings (and `connector`'s overrides) and the sealing key as a process reads them."""
        fields = ("client_id", "client_secret", "redirect_uri", "auth_url", "token_url", "revoke_url", "api_url")
        values = {name: str(getattr(self.settings, name)) for name in fields} | connector
        return {"WEARSTREAM_SOURCES_KEY": self.key} | {
            f"WEARSTREAM_GOOGLE_HEALTH_{name.upper()}": value for name, value in values.items()
        }

    def source(self, policy: RetryPolicy | None = None) -> GoogleHealthSource:
        clock = lambda: self.state.clock.now_ms() / 1000  # noqa: E731 — the service's clock, moved by tests
        grants = GrantStore(self.pool, self.sealer)
        return GoogleHealthSource(self.settings, self.http, grants, clock=clock, policy=policy or fast_policy())

    async def participant(
        self,
        participant_id: str,
        account: str,
        batches: Iterable[ReadingBatch],
        enrolled_on: dt.date = dt.date(2026, 9, 1),
    ) -> int:
        """Creates the participant (authorisation `never`), seeds the account; returns the readings seeded."""
        async with self.pool.acquire() as connection:
            record = Participant(participant_id=participant_id, enrolled_on=enrolled_on, authorisation="never")
            await records.create(connection, record, actor="test", if_missing=True)
        return seed(self.state.account(account), batches)

    async def consent(self, participant_id: str, account: str) -> None:
        """The whole enrolment over plain HTTP: link → consent page → Allow → callback's code → exchange."""
        enrolment = GoogleHealthEnrolment(self.settings, self.sealer, http=lambda: httpx.AsyncClient(timeout=30))
        async with self.pool.acquire() as connection:
            link = await enrolment.create_link(connection, participant_id, actor="test")
        page = await self.http.get(link.url)
        assert page.status_code == 200, page.text
        form = {k: v[0] for k, v in parse_qs(urlsplit(link.url).query).items()}
        answer = await self.http.post(
            f"{self.base}/o/oauth2/v2/auth/decision", data={**form, "account": account, "decision": "allow"}
        )
        assert answer.status_code == 302, answer.text
        callback = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}
        async with self.pool.acquire() as connection:
            done = await enrolment.complete(connection, state=callback["state"], code=callback.get("code"), error=None)
        assert done == participant_id


def fast_policy(**overrides: float | int) -> RetryPolicy:
    values: dict[str, float | int] = {
        "max_attempts": 4,
        "backoff_cap_s": 0.05,
        "max_rate_limited_waits": 30,
        **overrides,
    }
    return RetryPolicy(
        max_attempts=int(values["max_attempts"]),
        backoff_cap_s=float(values["backoff_cap_s"]),
        max_rate_limited_waits=int(values["max_rate_limited_waits"]),
    )


@asynccontextmanager
async def harness(database_url: str, state: ContractState | None = None) -> AsyncIterator[Harness]:
    contract = state or ContractState()
    with serve_contract(contract) as base:
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
        assert pool is not None
        try:
            async with httpx.AsyncClient(timeout=30) as http:
                settings = connector_settings(base, contract)
                key = Sealer.new_key()
                yield Harness(contract, base, settings, Sealer([key]), pool, http, key)
        finally:
            await pool.close()


async def fetch_all(source: GoogleHealthSource, participant_id: str, metric: str, window: Window) -> list[Page]:
    return [page async for page in source.fetch(participant_id, metric, window)]


def readings_of(batches: Iterable[ReadingBatch]) -> list[tuple[int, float]]:
    return sorted(
        (t, v) for b in batches for t, v in zip(b.timestamps_array().tolist(), b.values_float64().tolist(), strict=True)
    )
