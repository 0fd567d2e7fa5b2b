"""Selects the flagged group, refuses resends, audits, then sends (unless dry run) — one request, one group.

Reminders cannot misfire: every recipient's audit row is committed (`pending`) before any mail goes out, then
set to `sent` or `failed`; a participant reminded (or being reminded) within the cool-down, and any request
whose idempotency key was already used, is refused and audited as `refused`. Requests are serialised by an
advisory lock, so two at once cannot both pass the checks.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Final, NamedTuple

import asyncpg

from api import metric_defs
from api.adherence import services as adherence
from api.adherence.schemas import ParticipantAdherence, Thresholds
from api.auth.keys import ApiKey
from api.notifications import mailer, templates
from api.notifications.schemas import AuditEntry, Delivery, NotifyRequest, NotifyResult, Status
from core.settings import SmtpSettings

_LOCK: Final = 0x4E4F54494659  # "NOTIFY"
_INSERT: Final = (
    "INSERT INTO notification_audit (request_id, requested_at, actor_key_id, actor_role, reason, participant_id,"
    " recipient, subject, status, error, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
)


def reason(request: NotifyRequest, start: dt.date, end: dt.date, as_of: dt.datetime, thresholds: Thresholds) -> str:
    return (
        f"flag={request.flag} window=[{start}, {end}) as_of={as_of.isoformat()} "
        f"min_wear_pct={thresholds.min_wear_pct:g} max_upload_age_h={thresholds.max_upload_age_h:g} "
        f"min_sleep_pct={thresholds.min_sleep_pct:g}"
    )


Outcome = tuple[str | None, str, Status, str | None]
"""A recipient's address, subject, status and error."""


class _Group(NamedTuple):
    """The request's recipients with the templates their reminders are rendered from."""

    members: list[tuple[ParticipantAdherence, str | None]]
    subject_template: str
    body_template: str


async def _group(
    pool: asyncpg.Pool,
    request: NotifyRequest,
    *,
    start: dt.date,
    end: dt.date,
    as_of: dt.datetime,
    thresholds: Thresholds,
) -> _Group:
    """The participants carrying `request.flag`, narrowed to `request.participant_ids` when given."""
    members = await adherence.flagged_contacts(
        pool, start=start, end=end, as_of=as_of, thresholds=thresholds, flag=request.flag
    )
    if request.participant_ids is not None:
        wanted = set(request.participant_ids)
        members = [(participant, address) for participant, address in members if participant.participant_id in wanted]
    return _Group(
        members,
        request.subject or templates.SUBJECTS[request.flag],
        request.body or templates.BODIES[request.flag],
    )


async def _checks(
    connection: asyncpg.Connection, request: NotifyRequest, group: _Group, since: dt.datetime
) -> tuple[bool, dict[str, dt.datetime]]:
    """Whether the idempotency key was already used, and who was reminded (or is being reminded) since `since`."""
    key_used = request.idempotency_key is not None and await connection.fetchval(
        "SELECT EXISTS (SELECT 1 FROM notification_audit WHERE idempotency_key = $1"
        " AND status NOT IN ('refused', 'dry_run'))",
        request.idempotency_key,
    )
    recent = {
        row["participant_id"]: row["last"]
        for row in await connection.fetch(
            "SELECT participant_id, max(requested_at) AS last FROM notification_audit"
            " WHERE participant_id = ANY($1::text[]) AND status IN ('pending', 'sent') AND requested_at > $2"
            " GROUP BY participant_id",
            [participant.participant_id for participant, _ in group.members],
            since,
        )
    }
    return bool(key_used), recent


def _message(smtp: SmtpSettings, request_id: uuid.UUID, address: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = smtp.from_address
    message["To"] = address
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="wearstream")
    message["X-Wearstream-Request"] = str(request_id)
    message.set_content(body)
    return message


def _decide(
    smtp: SmtpSettings,
    request: NotifyRequest,
    request_id: uuid.UUID,
    group: _Group,
    checks: tuple[bool, dict[str, dt.datetime]],
    cooldown: dt.timedelta,
) -> tuple[dict[str, Outcome], dict[str, EmailMessage]]:
    """Each recipient's outcome before sending, and the messages of those about to be sent (`pending`)."""
    key_used, recent = checks
    outcomes: dict[str, Outcome] = {}
    messages: dict[str, EmailMessage] = {}
    for participant, address in group.members:
        participant_id = participant.participant_id
        subject = templates.render(group.subject_template, request.flag, participant)[:200]
        if not address or "@" not in address:
            outcomes[participant_id] = (address, subject, "no_contact", None)
        elif key_used:
            outcomes[participant_id] = (address, subject, "refused", "idempotency key already used")
        elif participant_id in recent:
            last = recent[participant_id].astimezone(dt.UTC).isoformat(timespec="seconds")
            hours = f"{cooldown.total_seconds() / 3600:g}"
            outcomes[participant_id] = (address, subject, "refused", f"reminded at {last}, within {hours} h")
        elif request.dry_run:
            outcomes[participant_id] = (address, subject, "dry_run", None)
        else:
            outcomes[participant_id] = (address, subject, "pending", None)
            body = templates.render(group.body_template, request.flag, participant)
            messages[participant_id] = _message(smtp, request_id, address, subject, body)
    return outcomes, messages


async def _send(
    pool: asyncpg.Pool,
    smtp: SmtpSettings,
    request_id: uuid.UUID,
    outcomes: dict[str, Outcome],
    messages: dict[str, EmailMessage],
) -> None:
    """Sends the pending messages and records each one as `sent` or `failed` (in `outcomes` and the audit)."""
    pending = list(messages)
    errors = await asyncio.to_thread(mailer.send_all, smtp, [messages[pid] for pid in pending])
    for participant_id, error in zip(pending, errors, strict=True):
        address, subject, _, _ = outcomes[participant_id]
        outcomes[participant_id] = (address, subject, "failed" if error else "sent", error)
    if pending:
        await pool.executemany(
            "UPDATE notification_audit SET status = $3, error = $4, updated_at = now()"
            " WHERE request_id = $1 AND participant_id = $2 AND status = 'pending'",
            [(request_id, pid, outcomes[pid][2], outcomes[pid][3]) for pid in pending],
        )


async def notify(
    pool: asyncpg.Pool,
    smtp: SmtpSettings,
    actor: ApiKey,
    request: NotifyRequest,
    *,
    start: dt.date,
    end: dt.date,
    as_of: dt.datetime,
    thresholds: Thresholds,
    cooldown: dt.timedelta,
) -> NotifyResult:
    """Reminds every participant carrying `request.flag`; every recipient is audited, sent or not."""
    request_id = uuid.uuid4()
    requested_at = dt.datetime.now(dt.UTC)
    why = reason(request, start, end, as_of, thresholds)
    group = await _group(pool, request, start=start, end=end, as_of=as_of, thresholds=thresholds)
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", _LOCK)
        checks = await _checks(connection, request, group, requested_at - cooldown)
        outcomes, messages = _decide(smtp, request, request_id, group, checks, cooldown)
        key = request.idempotency_key
        audited = [
            (request_id, requested_at, actor.key_id, actor.role, why, pid, address, subject, status, error, key)
            for pid, (address, subject, status, error) in sorted(outcomes.items())
        ]
        await connection.executemany(_INSERT, audited)
    # Committed: whatever happens now, the audit says these were about to be sent.
    await _send(pool, smtp, request_id, outcomes, messages)
    for _, _, status, _ in outcomes.values():
        metric_defs.NOTIFICATIONS.labels(status=status).inc()
    deliveries = [
        Delivery(participant_id=pid, recipient=address, status=status, error=error)
        for pid, (address, _, status, error) in sorted(outcomes.items())
    ]
    return NotifyResult(
        request_id=request_id,
        flag=request.flag,
        reason=why,
        dry_run=request.dry_run,
        requested_at=requested_at,
        sent=sum(d.status == "sent" for d in deliveries),
        failed=sum(d.status == "failed" for d in deliveries),
        refused=sum(d.status == "refused" for d in deliveries),
        deliveries=deliveries,
    )


async def audit(
    pool: asyncpg.Pool, *, request_id: uuid.UUID | None, participant_id: str | None, limit: int
) -> list[AuditEntry]:
    rows = await pool.fetch(
        "SELECT request_id, requested_at, actor_key_id, actor_role, reason, participant_id, recipient, subject,"
        " status, error, idempotency_key, updated_at FROM notification_audit"
        " WHERE ($1::uuid IS NULL OR request_id = $1) AND ($2::text IS NULL OR participant_id = $2)"
        " ORDER BY id DESC LIMIT $3",
        request_id,
        participant_id,
        limit,
    )
    return [AuditEntry(**dict(row)) for row in rows]
