"""Participant lookups and the cohort view (built on the shared adherence statement)."""

from __future__ import annotations

import datetime as dt
from typing import Final

import asyncpg
import msgspec

from api.adherence.schemas import Thresholds
from api.errors import not_found
from api.params import date_window, valid_participant_id, zone
from api.participants.schemas import MetricState, ParticipantDetail, ParticipantSummary, SortKey
from api.queries import adherence
from api.sources.services import list_cursors
from schemas.metrics import METRIC_IDS

VIEW_DAYS: Final = 7
_METRIC_NAMES: Final = {i: name for name, i in METRIC_IDS.items()}
_SORT_COLUMNS: Final = {
    "participant_id": "participant_id",
    "enrolled_on": "enrolled_on",
    "last_upload": "last_upload",
    "wear_pct": "wear_pct",
    "open_gaps": "open_gaps",
}


class ParticipantRef(msgspec.Struct, frozen=True):
    participant_id: str
    timezone: str
    enrolled_on: dt.date | None


async def require_participant(pool: asyncpg.Pool, participant_id: str) -> ParticipantRef:
    """The participant's time zone and enrolment; 404 when neither the study nor the data knows them."""
    if not valid_participant_id(participant_id):
        raise not_found("participant", participant_id)
    row = await pool.fetchrow(
        "SELECT participant_id, timezone, enrolled_on FROM participants WHERE participant_id = $1"
        " UNION ALL SELECT participant_id, 'UTC', NULL FROM participant_metric_state WHERE participant_id = $1"
        " LIMIT 1",
        participant_id,
    )
    if row is None:
        raise not_found("participant", participant_id)
    return ParticipantRef(row["participant_id"], row["timezone"], row["enrolled_on"])


async def data_end_date(pool: asyncpg.Pool, participant: ParticipantRef) -> dt.date:
    """The local date after the participant's last stored reading (today's, when nothing is stored)."""
    last = await pool.fetchval(
        "SELECT max(last_reading) FROM participant_metric_state WHERE participant_id = $1", participant.participant_id
    )
    moment = last if last is not None else dt.datetime.now(dt.UTC)
    return moment.astimezone(zone(participant.timezone)).date() + dt.timedelta(days=1)


async def participant_dates(
    pool: asyncpg.Pool, participant_id: str, start: str | None, end: str | None, *, max_days: int
) -> tuple[ParticipantRef, dt.date, dt.date]:
    """The participant and the local dates [first, last) asked for: by default the 30 dates up to the day
    after the last stored reading. Raises 404 for an unknown participant, 400 for a bad window."""
    participant = await require_participant(pool, participant_id)
    first, last = date_window(
        start,
        end,
        participant.timezone,
        default_end=await data_end_date(pool, participant),
        default_days=30,
        max_days=max_days,
    )
    return participant, first, last


_VIEW: Final = (
    adherence.ADHERENCE_CTE
    + """
, listed AS (
    SELECT f.*, pp.device_id, coalesce(g.open_gaps, 0) AS open_gaps, coalesce(g.kinds, '{}') AS open_gap_kinds
    FROM flagged f
    JOIN participants pp ON pp.participant_id = f.participant_id
    LEFT JOIN (
        SELECT participant_id, count(*)::int AS open_gaps, array_agg(DISTINCT kind ORDER BY kind) AS kinds
        FROM gaps WHERE end_time IS NULL GROUP BY participant_id
    ) g ON g.participant_id = f.participant_id
)
SELECT *, count(*) OVER () AS total FROM listed
WHERE ($10::text IS NULL OR authorisation = $10)
  AND ($11::text IS NULL OR $11 = ANY(flags))
  AND ($12::bool IS NULL OR (open_gaps > 0) = $12)
  AND ($13::text IS NULL OR starts_with(participant_id, $13))
"""
)


def view_window(as_of: dt.datetime) -> tuple[dt.date, dt.date]:
    end = as_of.date()
    return end - dt.timedelta(days=VIEW_DAYS), end


def summary(row: asyncpg.Record) -> dict[str, object]:
    return {
        "participant_id": row["participant_id"],
        "enrolled_on": row["enrolled_on"],
        "timezone": row["timezone"],
        "authorisation": row["authorisation"],
        "device_id": row["device_id"],
        "contact_email": row["contact_email"],
        "last_upload": row["last_upload"],
        "hours_since_last_upload": adherence.rounded(row["hours_since_last_upload"], 3),
        "wear_pct_7d": adherence.rounded(row["wear_pct"]),
        "nights_with_sleep_7d": row["nights"],
        "open_gaps": row["open_gaps"],
        "open_gap_kinds": list(row["open_gap_kinds"]),
        "flags": list(row["flags"]),
        "last_import": row["last_import"],
    }


async def list_participants(
    pool: asyncpg.Pool,
    *,
    as_of: dt.datetime,
    thresholds: Thresholds,
    authorisation: str | None,
    flag: str | None,
    open_gaps: bool | None,
    id_prefix: str | None,
    sort: SortKey,
    limit: int,
    offset: int,
) -> tuple[list[ParticipantSummary], int]:
    """One page of the cohort view and the number of participants matching the filters."""
    column = _SORT_COLUMNS[sort.lstrip("-")]
    direction = "DESC" if sort.startswith("-") else "ASC"
    start, end = view_window(as_of)
    rows = await pool.fetch(
        _VIEW + f" ORDER BY {column} {direction} NULLS LAST, participant_id LIMIT $14 OFFSET $15",
        *adherence.arguments(start, end, as_of, None, thresholds),
        authorisation,
        flag,
        open_gaps,
        id_prefix,
        limit,
        offset,
    )
    total = rows[0]["total"] if rows else 0
    return [ParticipantSummary(**summary(row)) for row in rows], total  # type: ignore[arg-type]


async def participant_detail(
    pool: asyncpg.Pool, participant_id: str, *, as_of: dt.datetime, thresholds: Thresholds
) -> ParticipantDetail:
    start, end = view_window(as_of)
    row = await pool.fetchrow(
        _VIEW,
        *adherence.arguments(start, end, as_of, [participant_id], thresholds),
        None,
        None,
        None,
        None,
    )
    if row is None:
        raise not_found("participant", participant_id)
    states = await pool.fetch(
        "SELECT metric_id, first_reading, last_reading, last_upload, last_import, readings"
        " FROM participant_metric_state"
        " WHERE participant_id = $1 ORDER BY metric_id",
        participant_id,
    )
    metrics = [
        MetricState(
            metric=_METRIC_NAMES.get(s["metric_id"], str(s["metric_id"])),
            first_reading=s["first_reading"],
            last_reading=s["last_reading"],
            last_upload=s["last_upload"],
            readings=s["readings"],
            last_import=s["last_import"],
        )
        for s in states
    ]
    sources, _ = await list_cursors(pool, participant_id=participant_id)
    return ParticipantDetail(**summary(row), metrics=metrics, sources=sources)  # type: ignore[arg-type]
