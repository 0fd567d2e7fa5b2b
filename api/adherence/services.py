"""Adherence in one SQL statement over day rollups, uploads and participant state (no per-participant queries)."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from collections.abc import Sequence
from typing import Final

import asyncpg

from api import params
from api.adherence.schemas import AdherenceDay, AdherenceReport, ParticipantAdherence, Thresholds
from api.queries.adherence import ADHERENCE_CTE, ADHERENCE_DAILY_CTE, arguments, rounded

_REPORT: Final = "SELECT * FROM flagged WHERE $10::text IS NULL OR $10 = ANY(flags) ORDER BY participant_id"
REPORT_SQL: Final = ADHERENCE_CTE + _REPORT
DAILY_REPORT_SQL: Final = ADHERENCE_DAILY_CTE + _REPORT


@functools.lru_cache(maxsize=4096)
def window_days(timezone: str, start: dt.date, end: dt.date) -> tuple[tuple[dt.date, int], ...]:
    """The local dates of [start, end) with the minutes in each (1,380–1,500 where daylight saving changes)."""
    zone = params.zone(timezone)
    midnights = [
        dt.datetime.combine(start + dt.timedelta(days=i), dt.time(), tzinfo=zone) for i in range((end - start).days + 1)
    ]
    return tuple((day.date(), int((after - day).total_seconds()) // 60) for day, after in itertools.pairwise(midnights))


@functools.lru_cache(maxsize=65_536)
def local_date(timezone: str, instant_ms: int) -> dt.date:
    """The local date of an instant in Unix ms (the day rollups' buckets arrive as ms: cheaper to decode)."""
    return dt.datetime.fromtimestamp(instant_ms / 1000, params.zone(timezone)).date()


def daily_breakdown(row: asyncpg.Record, end: dt.date) -> list[AdherenceDay]:
    timezone = row["timezone"]
    worn = {
        local_date(timezone, bucket_ms): minutes
        for bucket_ms, minutes in zip(row["worn_buckets_ms"] or (), row["worn_minutes"] or (), strict=True)
    }
    nights = set(row["mornings"] or ()) | set(row["evenings"] or ())
    return [
        AdherenceDay(
            date=date,
            worn_minutes=(worn_minutes := worn.get(date, 0)),
            day_minutes=minutes,
            wear_pct=100 * worn_minutes / minutes,
            sleep=date in nights,
        )
        for date, minutes in window_days(timezone, row["first_day"], end)
    ]


def participant_adherence(row: asyncpg.Record, *, end: dt.date, daily: bool) -> ParticipantAdherence:
    return ParticipantAdherence(
        participant_id=row["participant_id"],
        timezone=row["timezone"],
        enrolled_on=row["enrolled_on"],
        authorisation=row["authorisation"],
        days=row["days"],
        wear_pct=rounded(row["wear_pct"]),
        nights_with_sleep=row["nights"],
        sleep_pct=rounded(row["sleep_pct"]),
        last_upload=row["last_upload"],
        hours_since_last_upload=rounded(row["hours_since_last_upload"], 3),
        flags=list(row["flags"]),
        daily=daily_breakdown(row, end) if daily else [],
        last_import=row["last_import"],
    )


async def adherence_report(
    pool: asyncpg.Pool,
    *,
    start: dt.date,
    end: dt.date,
    as_of: dt.datetime,
    thresholds: Thresholds,
    flag: str | None = None,
    participant_ids: Sequence[str] | None = None,
    daily: bool = True,
) -> AdherenceReport:
    statement = DAILY_REPORT_SQL if daily else REPORT_SQL
    rows = await pool.fetch(statement, *arguments(start, end, as_of, participant_ids, thresholds), flag)
    return AdherenceReport(
        start=start,
        end=end,
        as_of=as_of,
        thresholds=thresholds,
        items=[participant_adherence(row, end=end, daily=daily) for row in rows],
    )


async def flagged_contacts(
    pool: asyncpg.Pool, *, start: dt.date, end: dt.date, as_of: dt.datetime, thresholds: Thresholds, flag: str
) -> list[tuple[ParticipantAdherence, str | None]]:
    """Participants carrying `flag`, each with their contact address (None when the study has none)."""
    rows = await pool.fetch(REPORT_SQL, *arguments(start, end, as_of, None, thresholds), flag)
    return [(participant_adherence(row, end=end, daily=False), row["contact_email"]) for row in rows]
