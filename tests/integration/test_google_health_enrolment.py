"""Enrolment end to end, in Debian's headless Chromium against the real stack: a researcher creates the consent
link through the API, the participant allows access on the contract server's consent page, our callback stores
the grant sealed (no plaintext token in the database) and sets the participant authorised, and the first fetch
— published with the producers' publisher and stored by the real processor — lands every reading in TimescaleDB.
`wearstream sources enrol` prints the same kind of link."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
import uvicorn
from playwright.async_api import async_playwright, expect

from api.app import create_app
from api.auth.store import create_key
from core.settings import Settings
from core.topics import ensure_topics
from deploy.local.browser import CHROMIUM_ARGS, ensure_chromium
from producers.publisher import BatchPublisher
from producers.simulator import CohortSimulator
from producers.sources.base import Window
from producers.sources.google_health.enrolment import GoogleHealthEnrolment
from producers.sources.google_health.mapping import DATA_TYPES
from producers.sources.google_health.source import GoogleHealthSource
from producers.sources.google_health.tokens import GrantStore, Sealer
from schemas.participants import Participant
from stream_processors import participant_records as records
from tests.contract.google_health.seed import seed
from tests.contract.google_health.server import free_port, serve_contract
from tests.contract.google_health.state import ContractState
from tests.integration.google_health import connector_settings, readings_of
from tests.integration.pipeline import isolated, start_processor, stop_processor, wait_for_readings

ROOT = Path(__file__).resolve().parents[2]
PARTICIPANT, ACCOUNT = "P0007", "p0007@example.com"
START = dt.date(2026, 9, 1)
START_MS = int(dt.datetime(2026, 9, 1, tzinfo=dt.UTC).timestamp() * 1000)
WINDOW = Window(START_MS - 86_400_000, START_MS + 3 * 86_400_000)


@contextmanager
def serve_app(app: Any, port: int) -> Iterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"api-{port}", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while not _answers(f"{base}/healthz"):
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError(f"the API did not start on {base}")
            time.sleep(0.1)
        yield base
    finally:
        server.should_exit = True
        thread.join(30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


async def consent_in_chromium(link: str) -> str:
    """Opens the link as the participant, picks their account, clicks Allow; returns the page's text."""
    profile = tempfile.mkdtemp(prefix="wearstream-chromium-")
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            profile, executable_path=str(ensure_chromium(print)), headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            page = await context.new_page()
            await page.goto(link)
            await expect(page.locator("h1")).to_contain_text("wants to access your Google Account")
            await expect(page.locator("#scopes")).to_contain_text("googlehealth.activity_and_fitness.readonly")
            await page.select_option("#account", ACCOUNT)
            await page.click("#allow")
            await page.wait_for_url("**/v1/sources/google_health/callback?**")
            await expect(page.locator("#title")).to_have_text("You are enrolled")
            artifacts = ROOT / "tests" / "artifacts" / "pages"
            artifacts.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(artifacts / "google-health-enrolled.png"))
            return await page.inner_text("body")
        finally:
            await context.close()


async def assert_no_plaintext(pool: asyncpg.Pool, secrets: list[str]) -> None:
    dumps = [str(r[0]) for r in await pool.fetch("SELECT t::text FROM source_grants t")]
    dumps += [str(r[0]) for r in await pool.fetch("SELECT t::text FROM source_enrolments t")]
    for secret in secrets:
        hex_form = secret.encode().hex()
        assert all(secret not in dump and hex_form not in dump for dump in dumps)


async def test_a_participant_consents_in_chromium_and_the_first_fetch_lands_in_the_database(
    settings: Settings, database: str, tmp_path: Path
) -> None:
    env = isolated(settings, database)
    batches = CohortSimulator(seed=11, start=START).simulate_day(7, 0).batches
    state, sealer, port = ContractState(), Sealer([Sealer.new_key()]), free_port()
    pool = await asyncpg.create_pool(database, min_size=1, max_size=4)
    assert pool is not None
    with serve_contract(state) as contract:
        redirect = f"http://127.0.0.1:{port}/v1/sources/google_health/callback"
        connector = connector_settings(contract, state, redirect_uri=redirect)
        app = create_app(env.settings, enrolments={"google_health": GoogleHealthEnrolment(connector, sealer)})
        async with pool.acquire() as connection:
            participant = Participant(participant_id=PARTICIPANT, enrolled_on=START, authorisation="never")
            await records.create(connection, participant, actor="test")
        seeded = seed(state.account(ACCOUNT), batches)
        admin = (await create_key(pool, "admin", None)).token
        researcher = (await create_key(pool, "researcher", None)).token
        with serve_app(app, port) as api:
            async with httpx.AsyncClient(base_url=api, timeout=30) as client:
                path = f"/v1/participants/{PARTICIPANT}/enrolment"
                assert (await client.post(path, headers={"Authorization": f"Bearer {researcher}"})).status_code == 403
                missing = await client.post(
                    "/v1/participants/P9999/enrolment", headers={"Authorization": f"Bearer {admin}"}
                )
                assert missing.status_code == 404
                created = await client.post(path, headers={"Authorization": f"Bearer {admin}"})
                assert created.status_code == 201, created.text
                link = created.json()["url"]
                assert link.startswith(f"{contract}/o/oauth2/v2/auth?")
                text = await consent_in_chromium(link)
                assert "Your device's data will now reach the study" in text
                replay = await client.get("/v1/sources/google_health/callback", params={"state": "forged", "code": "x"})
                assert replay.status_code == 400
        record = await pool.fetchrow("SELECT authorisation FROM participants WHERE participant_id = $1", PARTICIPANT)
        assert record["authorisation"] == "authorised"
        grant = next(g for g in state.grants.values() if g.account == ACCOUNT)
        access = [token for token, a in state.access.items() if a.grant is grant]
        verifier_links = parse_qs(urlsplit(link).query)
        assert verifier_links["code_challenge_method"] == ["S256"]
        await assert_no_plaintext(pool, [grant.refresh_token, *access])
        assert env.settings.database.api_dsn.startswith("postgresql://wearstream_api:")  # the callback wrote as the API
        analyst = await asyncpg.connect(env.settings.database.readonly_dsn)
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await analyst.fetch("SELECT * FROM source_grants")
        finally:
            await analyst.close()
        stored = await GrantStore(pool, sealer).load(PARTICIPANT)
        assert stored is not None
        assert stored.tokens.refresh_token == grant.refresh_token
        async with httpx.AsyncClient(timeout=30) as http:
            source = GoogleHealthSource(connector, http, GrantStore(pool, sealer))
            fetched = [
                b
                for metric in DATA_TYPES
                for p in [x async for x in source.fetch(PARTICIPANT, metric, WINDOW)]
                for b in p.batches
            ]
    await pool.close()
    assert sum(len(b) for b in fetched) == seeded
    for metric in DATA_TYPES:
        assert readings_of(b for b in fetched if b.metric == metric) == readings_of(
            b for b in batches if b.metric == metric
        )
    await ensure_topics(env.settings.kafka)
    publisher = BatchPublisher(env.settings.kafka, client_id="wearstream-source-test")
    await publisher.start()
    try:
        for batch in fetched:
            await publisher.send(batch)
    finally:
        await publisher.stop()
    worker = start_processor(env.env, tmp_path / "worker.log")
    try:
        await wait_for_readings(database, seeded, timeout_s=240, process=worker)
    finally:
        stop_processor(worker)
    connection = await asyncpg.connect(database)
    try:
        heart_rate = await connection.fetch(
            "SELECT ts_to_ms(time) AS t, value FROM raw_readings($1, 'heart_rate', ms_to_ts($2), ms_to_ts($3))",
            PARTICIPANT,
            WINDOW.start_ms,
            WINDOW.end_ms,
        )
    finally:
        await connection.close()
    assert sorted((r["t"], r["value"]) for r in heart_rate) == readings_of(
        b for b in batches if b.metric == "heart_rate"
    )


async def test_the_cli_prints_a_consent_link_and_keeps_only_the_verifiers_seal(
    settings: Settings, database: str
) -> None:
    key = Sealer.new_key()
    environment = {
        **os.environ,
        "WEARSTREAM_DATABASE_URL": database,
        "WEARSTREAM_GOOGLE_HEALTH_CLIENT_ID": "cli-client",
        "WEARSTREAM_GOOGLE_HEALTH_CLIENT_SECRET": "cli-secret",
        "WEARSTREAM_SOURCES_KEY": key,
    }
    connection = await asyncpg.connect(database)
    try:
        await records.create(
            connection,
            Participant(participant_id="P0011", enrolled_on=START, authorisation="never"),
            actor="test",
            if_missing=True,
        )
        process = await asyncio.create_subprocess_exec(
            str(ROOT / ".venv" / "bin" / "wearstream"),
            "sources",
            "enrol",
            "--participant",
            "P0011",
            env=environment,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        url = out.decode().strip()
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        assert url.startswith("https://accounts.google.com/o/oauth2/v2/auth?")
        assert query["client_id"] == "cli-client"
        assert query["code_challenge_method"] == "S256"
        row = await connection.fetchrow(
            "SELECT participant_id, sealed_verifier FROM source_enrolments WHERE state_digest = $1",
            hashlib.sha256(query["state"].encode()).hexdigest(),
        )
        assert row["participant_id"] == "P0011"
        verifier = Sealer([key]).open(row["sealed_verifier"]).decode()
        assert query["code_challenge"] != verifier
        assert verifier.encode() not in bytes(row["sealed_verifier"])
        unknown = await asyncio.create_subprocess_exec(
            str(ROOT / ".venv" / "bin" / "wearstream"),
            "sources",
            "enrol",
            "--participant",
            "P9999",
            env=environment,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, unknown_err = await unknown.communicate()
        assert unknown.returncode == 1
        assert "no participant 'P9999'" in unknown_err.decode()
    finally:
        await connection.close()
