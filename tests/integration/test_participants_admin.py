"""Managed participant records: admin POST/PATCH (and the CLI's functions), audited; a new time zone moves
the day rollups to the new local days."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import numpy as np
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.auth.store import create_key
from core.settings import Settings
from stream_processors.db import create_pool
from tests import factories
from tests.integration.test_api_series import api_settings
from tests.integration.test_latest_wins import T0, Truth, assert_store_is_recomputation, valid


@pytest.fixture(scope="module")
async def keys(database: str) -> dict[str, str]:
    pool = await asyncpg.create_pool(database, min_size=1, max_size=2)
    try:
        return {role: (await create_key(pool, role, None)).token for role in ("admin", "researcher")}
    finally:
        await pool.close()


@pytest.fixture(scope="module")
async def client(database: str, settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(create_app(api_settings(settings, database))) as test_client:
        yield test_client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_admin_creates_and_changes_records_and_every_change_is_audited(
    client: AsyncTestClient[Any], keys: dict[str, str], database: str
) -> None:
    admin, researcher = bearer(keys["admin"]), bearer(keys["researcher"])
    body = {"participant_id": "M1", "enrolled_on": "2026-03-01", "timezone": "Europe/Paris", "contact_email": "m@x.org"}
    assert (await client.post("/v1/participants", json=body, headers=researcher)).status_code == 403
    created = await client.post("/v1/participants", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["authorisation"] == "authorised"
    assert (await client.post("/v1/participants", json=body, headers=admin)).status_code == 409
    bad = await client.post(
        "/v1/participants", json={**body, "participant_id": "M2", "timezone": "Mars/Base"}, headers=admin
    )
    assert bad.status_code == 400
    assert bad.json()["extra"][0]["key"] == "timezone"

    changed = await client.patch(
        "/v1/participants/M1", json={"authorisation": "revoked", "contact_email": None}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["authorisation"], changed.json()["contact_email"], changed.json()["timezone"]) == (
        "revoked",
        None,
        "Europe/Paris",
    )
    assert (await client.patch("/v1/participants/NOPE", json={"device_id": "d"}, headers=admin)).status_code == 404
    assert (
        await client.patch("/v1/participants/M1", json={"authorisation": "maybe"}, headers=admin)
    ).status_code == 400
    assert (await client.patch("/v1/participants/M1", json={"device_id": "d"}, headers=researcher)).status_code == 403

    connection = await asyncpg.connect(database)
    try:
        rows = await connection.fetch(
            "SELECT actor, action, before->>'authorisation' AS was, after->>'authorisation' AS now"
            " FROM participant_audit WHERE participant_id = 'M1' ORDER BY id"
        )
    finally:
        await connection.close()
    key_id = keys["admin"].split("_")[1]
    assert [(r["actor"], r["action"], r["was"], r["now"]) for r in rows] == [
        (f"api key {key_id}", "create", None, "authorised"),
        (f"api key {key_id}", "update", "authorised", "revoked"),
    ]
    detail = await client.get("/v1/participants/M1", headers=admin)
    assert detail.status_code == 200
    assert detail.json()["last_import"] is None


async def test_a_new_time_zone_recomputes_the_day_rollups(
    client: AsyncTestClient[Any], keys: dict[str, str], database: str
) -> None:
    admin = bearer(keys["admin"])
    body = {"participant_id": "Z1", "enrolled_on": "2026-03-01", "timezone": "UTC"}
    assert (await client.post("/v1/participants", json=body, headers=admin)).status_code == 201
    pool = await create_pool(database, size=2)
    try:
        sink = factories.sink(pool)
        truth = Truth()
        rng = np.random.default_rng(9)
        ts = np.arange(T0 - 20 * 3_600_000, T0 + 30 * 3_600_000, 60_000)
        for part in np.array_split(np.arange(len(ts)), 4):
            batch = valid("Z1", "heart_rate", ts[part], rng.integers(50, 150, len(part)), sync=int(ts[part][-1]))
            await sink.apply([batch])
            truth.add(batch)
        await assert_store_is_recomputation(pool, "Z1", "heart_rate", truth, "UTC")
        for zone in ("Asia/Kolkata", "America/New_York"):
            moved = await client.patch("/v1/participants/Z1", json={"timezone": zone}, headers=admin)
            assert moved.status_code == 200, moved.text
            await assert_store_is_recomputation(pool, "Z1", "heart_rate", truth, zone)
        # Data arriving after the change lands in the new zone's days too.
        later = valid("Z1", "heart_rate", ts[-10:] + 3_600_000, np.full(10, 77), sync=int(ts[-1]) + 4_000_000)
        await sink.apply([later])
        truth.add(later)
        await assert_store_is_recomputation(pool, "Z1", "heart_rate", truth, "America/New_York")
    finally:
        await pool.close()


def test_the_cli_adds_updates_shows_and_lists_records(database: str) -> None:
    env = {**os.environ, "WEARSTREAM_DATABASE_URL": database}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "wearstream", "participants", *args], env=env, capture_output=True, text=True
        )

    added = run("add", "C1", "--enrolled-on", "2026-02-01", "--timezone", "Asia/Tokyo", "--contact-email", "c@x.org")
    assert added.returncode == 0, added.stderr
    assert "C1: enrolled 2026-02-01, Asia/Tokyo, authorised" in added.stdout
    again = run("add", "C1", "--enrolled-on", "2026-02-01")
    assert again.returncode == 1
    assert "exists" in again.stderr
    assert run("update", "C1", "--timezone", "Nowhere/Else").returncode == 1
    assert run("update", "C1", "--authorisation", "maybe").returncode == 1
    updated = run("update", "C1", "--authorisation", "revoked")
    assert updated.returncode == 0, updated.stderr
    assert "revoked" in updated.stdout
    assert "c@x.org" in updated.stdout
    shown = run("show", "C1")
    assert shown.returncode == 0, shown.stderr
    assert "create by cli" in shown.stdout
    assert "update by cli: authorisation 'authorised' → 'revoked'" in shown.stdout
    assert "C1: enrolled" in run("list").stdout
    assert run("show", "NOPE").returncode == 1
