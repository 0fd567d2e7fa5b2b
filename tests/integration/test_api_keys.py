"""Authentication under attack and the key lifecycle, against the real database: a flood of random tokens
costs a bounded number of queries, REST refuses keys in the URL, no log line holds a token, and keys can be
listed, created, expired, revoked and rotated (API and CLI)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
import websockets
from litestar.testing import AsyncTestClient
from typer.testing import CliRunner

from api.app import create_app
from api.auth.store import KeyStore, create_key
from core.settings import Settings
from tests.integration.test_api_series import Cohort, api_settings, load_cohort
from wearstream.cli import app as cli


@pytest.fixture(scope="module")
async def cohort(database: str) -> Cohort:
    return await load_cohort(database, participants=2, days=1)


@pytest.fixture(scope="module")
async def client(cohort: Cohort, settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(create_app(api_settings(settings, cohort.url))) as test_client:
        yield test_client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def random_token() -> str:
    return f"wsk_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


class CountingPool:
    """The real pool, counting the queries the key store sends through it."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.queries = 0

    async def fetchrow(self, *args: Any) -> Any:
        self.queries += 1
        return await self.pool.fetchrow(*args)


async def test_a_flood_of_random_tokens_costs_a_bounded_number_of_queries(
    cohort: Cohort, settings: Settings, record_property: Any
) -> None:
    per_minute = 20
    app = create_app(api_settings(settings, cohort.url, auth_failures_per_minute=per_minute, key_cache_s=600.0))
    async with AsyncTestClient(app) as client:
        store: KeyStore = app.state.key_store
        counting = CountingPool(store.pool)
        store.pool = counting
        admin = bearer(cohort.keys["admin"])
        assert (await client.get("/v1/gaps", headers=admin)).status_code == 200  # verified and cached
        assert counting.queries == 1
        started = time.monotonic()
        statuses: dict[int, int] = {}
        for _ in range(10_000):
            response = await client.get("/v1/gaps", headers=bearer(random_token()))
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        elapsed_min = (time.monotonic() - started) / 60
        record_property("flood", {"queries": counting.queries - 1, "statuses": statuses, "minutes": elapsed_min})
        # The burst, plus what the bucket refilled while the flood ran.
        bound = per_minute + int(elapsed_min * per_minute) + 1
        assert counting.queries - 1 <= bound, (counting.queries, statuses)
        assert statuses.get(401, 0) == counting.queries - 1
        assert statuses[429] >= 10_000 - bound
        assert set(statuses) == {401, 429}
        blocked = await client.get("/v1/gaps", headers=bearer(random_token()))
        assert blocked.status_code == 429
        assert "failed authentications" in blocked.json()["detail"]
        assert int(blocked.headers["retry-after"]) >= 1
        # The key verified before the flood is still served (from the cache, without a query).
        before = counting.queries
        assert (await client.get("/v1/gaps", headers=admin)).status_code == 200
        assert counting.queries == before


async def test_a_refused_token_is_refused_from_memory(cohort: Cohort, settings: Settings) -> None:
    app = create_app(api_settings(settings, cohort.url, auth_failures_per_minute=1000, negative_cache_s=60.0))
    async with AsyncTestClient(app) as client:
        store: KeyStore = app.state.key_store
        counting = CountingPool(store.pool)
        store.pool = counting
        token = random_token()
        for _ in range(50):
            assert (await client.get("/v1/gaps", headers=bearer(token))).status_code == 401
        assert counting.queries == 1


async def test_rest_refuses_a_key_in_the_url(client: AsyncTestClient[Any], cohort: Cohort) -> None:
    for params in ({"token": cohort.keys["admin"]}, {"token": "x"}):
        response = await client.get("/v1/gaps", params=params)
        assert response.status_code == 401
        assert "Authorization header" in response.json()["detail"]
        # Even beside a valid header: the URL must not carry keys.
        response = await client.get("/v1/gaps", params=params, headers=bearer(cohort.keys["admin"]))
        assert response.status_code == 401
    assert (await client.get("/v1/gaps", cookies={"wearstream_token": cohort.keys["admin"]})).status_code == 200


@pytest.fixture(scope="module")
def server_url(cohort: Cohort, settings: Settings) -> Iterator[str]:
    """A real uvicorn server with its default logging (access log on), as `wearstream api` runs it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    import uvicorn

    app = create_app(api_settings(settings, cohort.url, live=True))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="debug", ws="websockets"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


async def test_no_log_line_holds_a_token(server_url: str, cohort: Cohort) -> None:
    capture = Capture()
    loggers = [logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.access", "uvicorn.error", "litestar")]
    for logger in loggers:
        logger.addHandler(capture)
    try:
        admin = cohort.keys["admin"]
        participant = cohort.keys["participant"]
        bad = random_token()
        async with httpx.AsyncClient(base_url=f"http://{server_url}") as http:
            assert (await http.get("/v1/gaps", headers=bearer(admin))).status_code == 200
            assert (await http.get("/v1/gaps", params={"token": admin})).status_code == 401
            assert (await http.get("/v1/gaps", headers=bearer(bad))).status_code == 401
            assert (await http.get(f"/v1/participants/P0001?token={participant}")).status_code == 401
        async with websockets.connect(f"ws://{server_url}/v1/live?participant_id=P0001&token={participant}") as ws:
            await ws.send('{"type": "ping"}')
            await asyncio.sleep(0.2)
        with pytest.raises(websockets.InvalidStatus):
            async with websockets.connect(f"ws://{server_url}/v1/live?participant_id=P0001&token={bad}"):
                pass
        await asyncio.sleep(0.3)
    finally:
        for logger in loggers:
            logger.removeHandler(capture)
    text = "\n".join(capture.lines)
    assert "/v1/gaps" in text  # the access log did record the requests
    assert "/v1/live" in text
    for token in (admin, participant, bad):
        assert token not in text
        assert token.split("_", 2)[2] not in text  # the secret, which may itself hold "_"
    assert "wsk_" not in text


async def test_keys_are_listed_created_and_revoked_by_admins_only(cohort: Cohort, settings: Settings) -> None:
    app = create_app(api_settings(settings, cohort.url, key_cache_s=600.0))
    async with AsyncTestClient(app) as client:
        admin = bearer(cohort.keys["admin"])
        for role in ("researcher", "participant"):
            assert (await client.get("/v1/keys", headers=bearer(cohort.keys[role]))).status_code == 403
            response = await client.post("/v1/keys", json={"role": "admin"}, headers=bearer(cohort.keys[role]))
            assert response.status_code == 403
        created = await client.post(
            "/v1/keys", json={"role": "participant", "participant_id": "P0002", "label": "phone"}, headers=admin
        )
        assert created.status_code == 201, created.text
        new = created.json()
        assert new["token"].startswith(f"wsk_{new['key_id']}_")
        assert (await client.get("/v1/participants/P0002", headers=bearer(new["token"]))).status_code == 200
        listed = {k["key_id"]: k for k in (await client.get("/v1/keys", headers=admin)).json()}
        assert listed[new["key_id"]]["label"] == "phone"
        assert listed[new["key_id"]]["last_used_at"] is not None
        assert all("token" not in k and "secret_sha256" not in k for k in listed.values())
        # Revoked here: refused at once by this process, although its cache window is 10 minutes.
        assert (await client.delete(f"/v1/keys/{new['key_id']}", headers=admin)).status_code == 204
        assert (await client.get("/v1/participants/P0002", headers=bearer(new["token"]))).status_code == 401
        assert (await client.delete(f"/v1/keys/{new['key_id']}", headers=admin)).status_code == 404
        assert new["key_id"] not in {k["key_id"] for k in (await client.get("/v1/keys", headers=admin)).json()}
        every = (await client.get("/v1/keys", params={"include_revoked": "true"}, headers=admin)).json()
        assert any(k["key_id"] == new["key_id"] and k["revoked_at"] for k in every)
        for body, field in (
            ({"role": "participant"}, "participant_id"),
            ({"role": "participant", "participant_id": "NOBODY"}, "participant_id"),
            ({"role": "admin", "expires_in": "soon"}, "expires_in"),
            ({"role": "admin", "expires_in": "0d"}, "expires_in"),
        ):
            response = await client.post("/v1/keys", json=body, headers=admin)
            assert response.status_code == 400, (body, response.text)
            assert field in {item["key"] for item in response.json()["extra"]}


async def test_an_expired_key_is_refused(cohort: Cohort, settings: Settings) -> None:
    connection = await asyncpg.connect(cohort.url)
    try:
        # Long enough for the app to start on a loaded machine; then wait until just past the expiry.
        lifetime_s = 4.0
        key = await create_key(connection, "researcher", None, expires_in=dt.timedelta(seconds=lifetime_s))
        created = time.monotonic()
        app = create_app(api_settings(settings, cohort.url, key_cache_s=600.0))
        async with AsyncTestClient(app) as client:
            assert (await client.get("/v1/gaps", headers=bearer(key.token))).status_code == 200
            await asyncio.sleep(max(0.0, lifetime_s + 0.3 - (time.monotonic() - created)))
            # The cache never outlives the key's expiry.
            response = await client.get("/v1/gaps", headers=bearer(key.token))
            assert response.status_code == 401
            assert "expired" in response.json()["detail"]
    finally:
        await connection.close()


def run_cli(url: str, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["apikey", *args], env={"WEARSTREAM_DATABASE_URL": url})
    return result


async def test_the_cli_lists_revokes_and_rotates_keys(cohort: Cohort, settings: Settings) -> None:
    created = await asyncio.to_thread(
        run_cli, cohort.url, "create", "--role", "researcher", "--label", "nb", "--expires-in", "30d"
    )
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    key_id = token.split("_")[1]
    listed = await asyncio.to_thread(run_cli, cohort.url, "list")
    assert listed.exit_code == 0
    row = next(line for line in listed.stdout.splitlines() if line.startswith(key_id))
    assert "\tresearcher\t" in row
    assert row.endswith("\tnb")
    assert token.split("_")[-1] not in listed.stdout
    rotated = await asyncio.to_thread(run_cli, cohort.url, "rotate", key_id)
    assert rotated.exit_code == 0, rotated.output
    new_token = rotated.stdout.strip().splitlines()[-1]
    assert new_token != token
    app = create_app(api_settings(settings, cohort.url, key_cache_s=0.0))
    async with AsyncTestClient(app) as client:
        assert (await client.get("/v1/gaps", headers=bearer(token))).status_code == 401
        assert (await client.get("/v1/gaps", headers=bearer(new_token))).status_code == 200
        revoked = await asyncio.to_thread(run_cli, cohort.url, "revoke", new_token.split("_")[1])
        assert revoked.exit_code == 0, revoked.output
        assert (await client.get("/v1/gaps", headers=bearer(new_token))).status_code == 401
    again = await asyncio.to_thread(run_cli, cohort.url, "revoke", new_token.split("_")[1])
    assert again.exit_code == 1
    assert "no live key" in again.output
    bad = await asyncio.to_thread(run_cli, cohort.url, "create", "--role", "admin", "--expires-in", "forever")
    assert bad.exit_code != 0
    assert "expires-in" in bad.output
