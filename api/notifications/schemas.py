"""Request and response shapes of notifications."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from api.adherence.schemas import Flag

Status = Literal["pending", "sent", "failed", "dry_run", "no_contact", "refused"]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=5000)]


class NotifyRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    flag: Flag
    """Who is reminded: every participant carrying this adherence flag over the window."""
    start: dt.date | None = None
    """First local date of the adherence window (default: `window_days` before `end`)."""
    end: dt.date | None = None
    """Exclusive (default: today, UTC)."""
    as_of: Annotated[dt.datetime, msgspec.Meta(tz=True)] | None = None
    """Instant for hours since last upload (default: now, at most `end`); needs a UTC offset."""
    min_wear_pct: Annotated[float, msgspec.Meta(ge=0, le=100)] | None = None
    max_upload_age_h: Annotated[float, msgspec.Meta(ge=0, le=87600)] | None = None
    min_sleep_pct: Annotated[float, msgspec.Meta(ge=0, le=100)] | None = None
    participant_ids: Annotated[list[str], msgspec.Meta(max_length=10000)] | None = None
    """Restrict the flagged group to these participants."""
    subject: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    """Overrides the flag's template; `$participant_id`, `$wear_pct`, `$hours_since_last_upload`,
    `$nights_with_sleep`, `$days` and `$flag` are substituted."""
    body: Text | None = None
    dry_run: bool = True
    """Render and audit, send nothing (the default: sending takes `"dry_run": false`)."""
    idempotency_key: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    """A request sent again with a key already used (by a request that was not a dry run) is refused."""


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    participant_id: str
    recipient: str | None
    status: Status
    error: str | None = None


class NotifyResult(msgspec.Struct, frozen=True, kw_only=True):
    request_id: uuid.UUID
    flag: Flag
    reason: str
    dry_run: bool
    requested_at: dt.datetime
    sent: int
    failed: int
    refused: int
    """Inside a participant's cool-down, or the idempotency key was already used."""
    deliveries: list[Delivery]


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    request_id: uuid.UUID
    requested_at: dt.datetime
    actor_key_id: str
    actor_role: str
    reason: str
    participant_id: str
    recipient: str | None
    subject: str
    status: Status
    error: str | None
    idempotency_key: str | None = None
    updated_at: dt.datetime | None = None
    """When a `pending` row became `sent` or `failed`."""
