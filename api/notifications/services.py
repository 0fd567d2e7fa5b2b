"""Selects the flagged group, renders, sends (unless dry run) and writes the audit — one request, one group."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from email.message import EmailMessage
from email.utils import make_msgid

import asyncpg

from api import metric_defs
from api.adherence import services as adherence
from api.adherence.schemas import Thresholds
from api.auth.keys import ApiKey
from api.notifications import mailer, templates
from api.notifications.schemas import AuditEntry, Delivery, NotifyRequest, NotifyResult, Status
from wearstream.settings import SmtpSettings


def reason(request: NotifyRequest, start: dt.date, end: dt.date, as_of: dt.datetime, thresholds: Thresholds) -> str:
    return (
        f"flag={request.flag} window=[{start}, {end}) as_of={as_of.isoformat()} "
        f"min_wear_pct={thresholds.min_wear_pct:g} max_upload_age_h={thresholds.max_upload_age_h:g} "
        f"min_sleep_pct={thresholds.min_sleep_pct:g}"
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
) -> NotifyResult:
    """Reminds every participant carrying `request.flag`; every recipient is audited, sent or not."""
    request_id = uuid.uuid4()
    requested_at = dt.datetime.now(dt.UTC)
    why = reason(request, start, end, as_of, thresholds)
    group = await adherence.flagged_contacts(
        pool, start=start, end=end, as_of=as_of, thresholds=thresholds, flag=request.flag
    )
    if request.participant_ids is not None:
        wanted = set(request.participant_ids)
        group = [(participant, address) for participant, address in group if participant.participant_id in wanted]
    subject_template = request.subject or templates.SUBJECTS[request.flag]
    body_template = request.body or templates.BODIES[request.flag]

    outcomes: list[tuple[str, str | None, str, Status, str | None]] = []
    messages: list[EmailMessage] = []
    pending: list[tuple[str, str, str]] = []
    for participant, address in group:
        subject = templates.render(subject_template, request.flag, participant)[:200]
        if not address or "@" not in address:
            outcomes.append((participant.participant_id, address, subject, "no_contact", None))
            continue
        if request.dry_run:
            outcomes.append((participant.participant_id, address, subject, "dry_run", None))
            continue
        message = EmailMessage()
        message["From"] = smtp.from_address
        message["To"] = address
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(domain="wearstream")
        message["X-Wearstream-Request"] = str(request_id)
        message.set_content(templates.render(body_template, request.flag, participant))
        messages.append(message)
        pending.append((participant.participant_id, address, subject))
    errors = await asyncio.to_thread(mailer.send_all, smtp, messages)
    for (participant_id, address, subject), error in zip(pending, errors, strict=True):
        outcomes.append((participant_id, address, subject, "failed" if error else "sent", error))
    outcomes.sort()

    await pool.executemany(
        "INSERT INTO notification_audit (request_id, requested_at, actor_key_id, actor_role, reason, participant_id,"
        " recipient, subject, status, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        [
            (request_id, requested_at, actor.key_id, actor.role, why, pid, address, subject, status, error)
            for pid, address, subject, status, error in outcomes
        ],
    )
    for *_, status, _ in outcomes:
        metric_defs.NOTIFICATIONS.labels(status=status).inc()
    deliveries = [
        Delivery(participant_id=pid, recipient=address, status=status, error=error)
        for pid, address, _, status, error in outcomes
    ]
    return NotifyResult(
        request_id=request_id,
        flag=request.flag,
        reason=why,
        dry_run=request.dry_run,
        requested_at=requested_at,
        sent=sum(d.status == "sent" for d in deliveries),
        failed=sum(d.status == "failed" for d in deliveries),
        deliveries=deliveries,
    )


async def audit(
    pool: asyncpg.Pool, *, request_id: uuid.UUID | None, participant_id: str | None, limit: int
) -> list[AuditEntry]:
    rows = await pool.fetch(
        "SELECT request_id, requested_at, actor_key_id, actor_role, reason, participant_id, recipient, subject,"
        " status, error FROM notification_audit"
        " WHERE ($1::uuid IS NULL OR request_id = $1) AND ($2::text IS NULL OR participant_id = $2)"
        " ORDER BY id DESC LIMIT $3",
        request_id,
        participant_id,
        limit,
    )
    return [AuditEntry(**dict(row)) for row in rows]
