"""Response shapes of participants."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

from api.adherence.schemas import Flag
from api.sources.schemas import SourceCursor
from schemas.participants import Authorisation

SortKey = Literal[
    "participant_id",
    "-participant_id",
    "enrolled_on",
    "-enrolled_on",
    "last_upload",
    "-last_upload",
    "wear_pct",
    "-wear_pct",
    "open_gaps",
    "-open_gaps",
]


class MetricState(msgspec.Struct, frozen=True, kw_only=True):
    metric: str
    first_reading: dt.datetime
    last_reading: dt.datetime
    last_upload: dt.datetime | None
    """Latest device upload carrying the metric (null when its data came only by import)."""
    readings: int
    last_import: dt.datetime | None = None
    """Sync time of the latest imported batch of the metric (the export's, else the import's time)."""


class ParticipantSummary(msgspec.Struct, frozen=True, kw_only=True):
    participant_id: str
    enrolled_on: dt.date
    timezone: str
    authorisation: str
    device_id: str
    contact_email: str | None
    last_upload: dt.datetime | None
    """Latest device upload at or before `as_of`."""
    hours_since_last_upload: float | None
    wear_pct_7d: float | None
    """Wear time over the 7 local dates before `as_of`'s date (see adherence for the definition)."""
    nights_with_sleep_7d: int
    open_gaps: int
    open_gap_kinds: list[str]
    flags: list[Flag]
    last_import: dt.datetime | None = None
    """Latest `wearstream import` at or before `as_of` (imports are not device uploads)."""


class ParticipantPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[ParticipantSummary]
    next_cursor: str | None
    total: int
    """Participants matching the filters (all pages)."""
    as_of: dt.datetime


class NewParticipant(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`POST /v1/participants`: a participant record to create."""

    participant_id: str
    enrolled_on: dt.date
    timezone: str = "UTC"
    authorisation: Authorisation = "authorised"
    device_id: str = ""
    contact_email: str | None = None


class ParticipantRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The study's record of a participant, as stored."""

    participant_id: str
    enrolled_on: dt.date
    timezone: str
    authorisation: Authorisation
    device_id: str
    contact_email: str | None
    updated_at: dt.datetime


class ParticipantDetail(ParticipantSummary, frozen=True, kw_only=True):
    metrics: list[MetricState] = []
    """What is stored per metric: first and last reading, last upload carrying it, reading count."""
    sources: list[SourceCursor] = []
    """The sources runner's cursors of the participant (per source × metric: last run, last success, error)."""
