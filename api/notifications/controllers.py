"""`POST /v1/notifications` (send reminders to a flagged group) and `GET /v1/notifications` (the audit)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import asyncpg
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK

from api.auth.guards import caller, cohort_guard, notify_guard
from api.deps import thresholds as resolve_thresholds
from api.errors import invalid
from api.notifications import services
from api.notifications.schemas import AuditEntry, NotifyRequest, NotifyResult
from api.params import EARLIEST, LATEST, Limit
from core.settings import Settings


class NotificationController(Controller):
    path = "/v1/notifications"
    tags = ("notifications",)

    @post("/", guards=[notify_guard], status_code=HTTP_200_OK, summary="Remind a flagged group")
    async def notify(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        settings: NamedDependency[Settings],
        data: JSONBody[NotifyRequest],
    ) -> NotifyResult:
        """E-mails every participant carrying `flag` over the adherence window (to the contact address the
        study holds), through the configured SMTP server — only with `"dry_run": false`; by default it renders
        and audits without sending. Admin keys only (unless researchers are allowed by the settings). A
        participant reminded within the cool-down, or a request whose `idempotency_key` was used, is refused.
        Every recipient is audited (committed before sending) with who asked, when, why and the outcome."""
        for field, value in (("start", data.start), ("end", data.end)):
            if value is not None and not EARLIEST.date() < value < LATEST.date():
                raise invalid(field, f"outside {EARLIEST.date()} … {LATEST.date()}", source="body")
        end = data.end or dt.datetime.now(dt.UTC).date()
        start = data.start or end - dt.timedelta(days=settings.api.adherence.window_days)
        if end <= start:
            raise invalid("end", "must be after start (end is exclusive)", source="body")
        if (end - start).days > 366:
            raise invalid("end", "at most 366 days", source="body")
        cap = dt.datetime.combine(end, dt.time(), tzinfo=dt.UTC)
        as_of = data.as_of or min(dt.datetime.now(dt.UTC).replace(microsecond=0), cap)
        limits = resolve_thresholds(settings, data.min_wear_pct, data.max_upload_age_h, data.min_sleep_pct)
        return await services.notify(
            pool,
            settings.smtp,
            caller(request),
            data,
            start=start,
            end=end,
            as_of=as_of,
            thresholds=limits,
            cooldown=dt.timedelta(hours=settings.api.notifications.cooldown_h),
        )

    @get("/", guards=[cohort_guard], summary="The notification audit")
    async def audit(
        self,
        pool: NamedDependency[asyncpg.Pool],
        request_id: FromQuery[uuid.UUID | None] = None,
        participant_id: Annotated[str | None, Parameter(max_length=64)] = None,
        limit: Limit = 100,
    ) -> list[AuditEntry]:
        """Audit rows, newest first: who asked (key id and role), when, why, to whom, and the outcome."""
        return await services.audit(pool, request_id=request_id, participant_id=participant_id, limit=limit)
