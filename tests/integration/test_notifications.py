"""Reminders that cannot misfire, against the real database and a real SMTP server: admin keys only by
default, dry runs by default, the audit row committed before the mail goes out, and resends (inside the
cool-down, or with a used idempotency key) refused and audited."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from tests.integration.test_api_series import START, Cohort, api_settings, load_cohort


class AuditingInbox:
    """An SMTP server's handler that, for each message it receives, reads the recipient's audit row."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.messages: list[Any] = []
        self.status_on_arrival: list[str | None] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content)
        connection = await asyncpg.connect(self.url)
        try:
            status = await connection.fetchval(
                "SELECT status FROM notification_audit WHERE request_id = $1 AND recipient = $2",
                uuid.UUID(message["X-Wearstream-Request"]),
                message["To"],
            )
        finally:
            await connection.close()
        self.messages.append(message)
        self.status_on_arrival.append(status)
        return "250 OK"


@pytest.fixture(scope="module")
async def cohort(database: str) -> Cohort:
    return await load_cohort(database, participants=4, days=1)


@pytest.fixture(scope="module")
def smtp(cohort: Cohort) -> Iterator[tuple[AuditingInbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = AuditingInbox(cohort.url)
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def configured(settings: Settings, cohort: Cohort, smtp_port: int, **notifications: Any) -> Settings:
    api = api_settings(settings, cohort.url)
    return api.model_copy(
        update={
            "smtp": api.smtp.model_copy(update={"port": smtp_port, "timeout_s": 2}),
            "api": api.api.model_copy(update={"notifications": api.api.notifications.model_copy(update=notifications)}),
        }
    )


@pytest.fixture(scope="module")
async def client(
    cohort: Cohort, settings: Settings, smtp: tuple[AuditingInbox, int]
) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(create_app(configured(settings, cohort, smtp[1]))) as test_client:
        yield test_client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def mailable(client: AsyncTestClient[Any], cohort: Cohort) -> list[str]:
    """The flagged participants with a contact address (a dry run tells)."""
    dry = (await client.post("/v1/notifications", json=BODY, headers=bearer(cohort.keys["admin"]))).json()
    return sorted(d["participant_id"] for d in dry["deliveries"] if d["status"] in ("dry_run", "refused"))


# Everyone with data is below 100 % wear on the simulated day.
BODY = {"flag": "low_wear", "start": str(START), "end": str(START + dt.timedelta(days=1)), "min_wear_pct": 100}


async def audit_of(cohort: Cohort, request_id: str) -> dict[str, tuple[str, str | None]]:
    connection = await asyncpg.connect(cohort.url)
    try:
        rows = await connection.fetch(
            "SELECT participant_id, status, error FROM notification_audit WHERE request_id = $1",
            uuid.UUID(request_id),
        )
    finally:
        await connection.close()
    return {row["participant_id"]: (row["status"], row["error"]) for row in rows}


async def test_only_admin_keys_send_reminders_by_default(
    client: AsyncTestClient[Any], cohort: Cohort, settings: Settings, smtp: tuple[AuditingInbox, int]
) -> None:
    for role in ("researcher", "participant"):
        response = await client.post("/v1/notifications", json=BODY, headers=bearer(cohort.keys[role]))
        assert response.status_code == 403, response.text
        assert "admin" in response.json()["detail"]
    # Researchers still read the audit.
    assert (await client.get("/v1/notifications", headers=bearer(cohort.keys["researcher"]))).status_code == 200
    allowed = configured(settings, cohort, smtp[1], allow_researchers=True)
    async with AsyncTestClient(create_app(allowed)) as researcher_client:
        response = await researcher_client.post(
            "/v1/notifications", json=BODY, headers=bearer(cohort.keys["researcher"])
        )
        assert response.status_code == 200, response.text
        assert response.json()["dry_run"] is True
        participant = await researcher_client.post(
            "/v1/notifications", json=BODY, headers=bearer(cohort.keys["participant"])
        )
        assert participant.status_code == 403


async def test_a_reminder_is_a_dry_run_unless_asked_and_never_resent_inside_the_cooldown(
    client: AsyncTestClient[Any], cohort: Cohort, smtp: tuple[AuditingInbox, int]
) -> None:
    inbox, _ = smtp
    admin = bearer(cohort.keys["admin"])
    dry = (await client.post("/v1/notifications", json=BODY, headers=admin)).json()
    assert dry["dry_run"] is True
    mailed = sorted(d["participant_id"] for d in dry["deliveries"] if d["status"] == "dry_run")
    assert len(mailed) >= 2
    assert inbox.messages == []

    sent = (await client.post("/v1/notifications", json={**BODY, "dry_run": False}, headers=admin)).json()
    assert sent["sent"] == len(mailed)
    assert sent["refused"] == 0
    assert sorted(m["To"] for m in inbox.messages) == sorted(cohort.participants[p].contact_email or "" for p in mailed)
    # Each mail went out only after its audit row was committed as pending.
    assert inbox.status_on_arrival == ["pending"] * len(mailed)
    audit = await audit_of(cohort, sent["request_id"])
    assert {p: audit[p] for p in mailed} == {p: ("sent", None) for p in mailed}

    again = (await client.post("/v1/notifications", json={**BODY, "dry_run": False}, headers=admin)).json()
    assert again["sent"] == 0
    assert again["refused"] == len(mailed)
    assert len(inbox.messages) == len(mailed)
    refused = await audit_of(cohort, again["request_id"])
    for participant in mailed:
        status, error = refused[participant]
        assert status == "refused"
        assert error is not None
        assert "within 24 h" in error
    listed = (await client.get("/v1/notifications", params={"request_id": again["request_id"]}, headers=admin)).json()
    assert {a["status"] for a in listed if a["participant_id"] in mailed} == {"refused"}


async def test_an_idempotency_key_is_used_once(
    cohort: Cohort, settings: Settings, smtp: tuple[AuditingInbox, int]
) -> None:
    inbox, port = smtp
    no_cooldown = configured(settings, cohort, port, cooldown_h=0.0)
    admin = bearer(cohort.keys["admin"])
    async with AsyncTestClient(create_app(no_cooldown)) as client:
        chosen = (await mailable(client, cohort))[:1]
        body = {**BODY, "dry_run": False, "idempotency_key": f"page-{uuid.uuid4()}", "participant_ids": chosen}
        before = len(inbox.messages)
        first = (await client.post("/v1/notifications", json=body, headers=admin)).json()
        assert first["sent"] == 1, first["deliveries"]
        second = (await client.post("/v1/notifications", json=body, headers=admin)).json()
        assert second["sent"] == 0
        assert second["refused"] == 1
        assert second["deliveries"][0]["error"] == "idempotency key already used"
        assert len(inbox.messages) == before + 1
        # Without the key (and without a cool-down) the same request sends again.
        third = (await client.post("/v1/notifications", json={**body, "idempotency_key": None}, headers=admin)).json()
        assert third["sent"] == 1


async def test_a_failed_send_is_audited_as_failed_and_does_not_block_a_retry(
    cohort: Cohort, settings: Settings, smtp: tuple[AuditingInbox, int]
) -> None:
    admin = bearer(cohort.keys["admin"])
    cooldown_h = 5 / 3600  # earlier tests' reminders fall out of a 5 s cool-down
    await asyncio.sleep(5.5)
    # Nothing listens on port 9: the connection is refused.
    async with AsyncTestClient(create_app(configured(settings, cohort, 9, cooldown_h=cooldown_h))) as client:
        chosen = (await mailable(client, cohort))[-1]
        body = {**BODY, "dry_run": False, "participant_ids": [chosen]}
        failed = (await client.post("/v1/notifications", json=body, headers=admin)).json()
    assert failed["failed"] == 1, failed
    status, error = (await audit_of(cohort, failed["request_id"]))[chosen]
    assert status == "failed"
    assert error
    # Only sent (or pending) reminders start a cool-down: a failed one may be retried at once.
    async with AsyncTestClient(create_app(configured(settings, cohort, smtp[1], cooldown_h=cooldown_h))) as client:
        retried = (await client.post("/v1/notifications", json=body, headers=admin)).json()
    assert retried["sent"] == 1, retried
