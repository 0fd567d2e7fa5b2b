"""The runner's cursors where people read them: `GET /v1/sources`, the participant's `sources` in
`GET /v1/participants/{id}`, and the `wearstream sources sync --once` / `status` commands (exit codes)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.auth.store import create_key
from core.settings import Settings
from producers.sources import cursors
from producers.sources.cursors import Cursor
from schemas.participants import Participant
from stream_processors import participant_records as records
from tests.integration.pipeline import isolated
from tests.integration.test_api_series import api_settings

T = int(dt.datetime(2026, 4, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)


@pytest.fixture(scope="module")
async def keys(database: str) -> dict[str, str]:
    pool = await asyncpg.create_pool(database, min_size=1, max_size=2)
    try:
        async with pool.acquire() as connection:
            for pid in ("S1", "S2"):
                record = Participant(participant_id=pid, enrolled_on=dt.date(2026, 3, 1))
                await records.create(connection, record, actor="test")
        await cursors.save(pool, Cursor("simulator", "S1", "heart_rate", T, status="ok", last_success_ms=T, readings=9))
        await cursors.save(pool, Cursor("simulator", "S1", "steps", T - 60_000, T - 60_000, T, "tok", status="partial"))
        await cursors.save(
            pool,
            Cursor("google_health", "S2", "steps", None, status="gone", last_error="HTTP 410", last_error_at_ms=T),
        )
        tokens = {role: (await create_key(pool, role, None)).token for role in ("admin", "researcher")}
        tokens["participant"] = (await create_key(pool, "participant", "S1")).token
        return tokens
    finally:
        await pool.close()


@pytest.fixture(scope="module")
async def client(database: str, settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(create_app(api_settings(settings, database))) as test_client:
        yield test_client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_every_cursor_for_the_study_team_filtered_and_paged(
    client: AsyncTestClient[Any], keys: dict[str, str]
) -> None:
    assert (await client.get("/v1/sources")).status_code == 401
    assert (await client.get("/v1/sources", headers=bearer(keys["participant"]))).status_code == 403
    answer = await client.get("/v1/sources", headers=bearer(keys["researcher"]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["total"] == 3
    assert [(c["source"], c["participant_id"], c["metric"], c["status"]) for c in body["items"]] == [
        ("google_health", "S2", "steps", "gone"),
        ("simulator", "S1", "heart_rate", "ok"),
        ("simulator", "S1", "steps", "partial"),
    ]
    gone = body["items"][0]
    assert (gone["last_error"], gone["last_error_at"], gone["fetched_through"]) == (
        "HTTP 410",
        "2026-04-01T01:00:00Z",
        None,
    )
    assert body["items"][2]["resuming_window"] == ["2026-04-01T00:59:00Z", "2026-04-01T01:00:00Z"]
    failed = (await client.get("/v1/sources?status=gone", headers=bearer(keys["admin"]))).json()
    assert [c["participant_id"] for c in failed["items"]] == ["S2"]
    first = (await client.get("/v1/sources?source=simulator&limit=1", headers=bearer(keys["admin"]))).json()
    assert (first["total"], len(first["items"]), first["items"][0]["metric"]) == (2, 1, "heart_rate")
    rest = await client.get(
        f"/v1/sources?source=simulator&limit=1&cursor={first['next_cursor']}", headers=bearer(keys["admin"])
    )
    assert [c["metric"] for c in rest.json()["items"]] == ["steps"]
    assert rest.json()["next_cursor"] is None
    bad = await client.get("/v1/sources?status=sleeping", headers=bearer(keys["admin"]))
    assert bad.status_code == 400


async def test_the_participant_sees_their_own_cursors_at_the_end_of_their_record(
    client: AsyncTestClient[Any], keys: dict[str, str]
) -> None:
    answer = await client.get("/v1/participants/S1", headers=bearer(keys["participant"]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert list(body)[-1] == "sources"
    assert [(c["metric"], c["status"], c["readings"]) for c in body["sources"]] == [
        ("heart_rate", "ok", 9),
        ("steps", "partial", 0),
    ]
    assert body["sources"][0]["last_success"] == "2026-04-01T01:00:00Z"


def wearstream(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wearstream", *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


async def test_sync_once_exits_non_zero_when_a_participant_failed_and_status_shows_why(
    settings: Settings, database: str, keys: dict[str, str]
) -> None:
    env = isolated(settings, database)
    # S1 and S2 are not participants the simulator makes: Gone, recorded, exit code 1.
    failed = wearstream(env.env, "sources", "sync", "--once", "--start", "2026-03-01", "--participants", "S1,S2")
    assert failed.returncode == 1, failed.stderr
    assert "failed S1 heart_rate: gone: the simulator makes participants P0001, P0002, … only" in failed.stdout
    assert "2 participants, 0 metrics synced" in failed.stdout
    unknown = wearstream(env.env, "sources", "sync", "--once", "--start", "2026-03-01", "--participants", "NOPE")
    assert unknown.returncode == 1
    assert "failed NOPE *: skipped: no participant record with authorisation 'authorised'" in unknown.stdout
    refused = wearstream(env.env, "sources", "sync", "--start", "2026-03-01")
    assert refused.returncode == 1
    assert "sync needs --once" in refused.stderr
    status = wearstream(env.env, "sources", "status", "--source", "simulator", "--participant", "S2")
    assert status.returncode == 0, status.stderr
    assert "gone" in status.stdout
    assert "S2" in status.stdout
    assert "S1" not in status.stdout
