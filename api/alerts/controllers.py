"""`GET /v1/participants/{participant_id}/alerts`, `GET /v1/alerts` and `GET /v1/participants/{id}/nights`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import asyncpg
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter

from api import cursor as cursors
from api.alerts import services
from api.alerts.schemas import AlertLevel, AlertPage, DetectorName, NightPage
from api.auth.guards import cohort_guard, participant_guard
from api.errors import invalid
from api.params import Cursor, Limit, check_dates, local_date_of, parse_date
from api.participants.services import require_participant

_DATE = (
    "Local date of a night's morning, YYYY-MM-DD, or an RFC 3339 date-time: its local date (the participant's"
    " zone; UTC on the cohort endpoint)"
)
_EPOCH = dt.date(1970, 1, 1)


async def _page(
    pool: asyncpg.Pool,
    *,
    participant_id: str | None,
    timezone: str,
    start: str | None,
    end: str | None,
    level: AlertLevel | None,
    detector: DetectorName | None,
    limit: int,
    cursor: str | None,
) -> AlertPage:
    low = local_date_of("start", start, timezone) if start is not None else None
    high = local_date_of("end", end, timezone) if end is not None else None
    if low is not None and high is not None and high <= low:
        raise invalid("end", "must be after start (end is exclusive)")
    query = cursors.fingerprint("alerts", participant_id, low, high, level, detector)
    after: tuple[dt.date, str, str] | None = None
    if cursor:
        position = cursors.decode(cursor, query)
        key_participant, _, key_detector = position.key.partition("\x1f")
        try:
            after = (_EPOCH + dt.timedelta(days=position.after), key_participant, key_detector)
        except OverflowError:
            raise invalid("cursor", "not a cursor issued by this API") from None
    items, following = await services.alerts(
        pool,
        participant_id=participant_id,
        start=low,
        end=high,
        level=level,
        detector=detector,
        after=after,
        limit=limit,
    )
    next_cursor = None
    if following is not None:
        next_cursor = cursors.encode(
            cursors.Position(q=query, after=(following[0] - _EPOCH).days, key=f"{following[1]}\x1f{following[2]}")
        )
    return AlertPage(items=items, next_cursor=next_cursor)


class ParticipantAlertController(Controller):
    path = "/v1/participants/{participant_id:str}"
    tags = ("alerts",)

    @get("/alerts", guards=[participant_guard], summary="A participant's illness alerts")
    async def participant_alerts(
        self,
        pool: NamedDependency[asyncpg.Pool],
        participant_id: FromPath[str],
        start: Annotated[str | None, Parameter(description=_DATE)] = None,
        end: Annotated[str | None, Parameter(description=_DATE + ", exclusive")] = None,
        level: Annotated[AlertLevel | None, Parameter(description="yellow or red")] = None,
        detector: Annotated[DetectorName | None, Parameter(description="nightsignal or cusum")] = None,
        limit: Limit = 1000,
        cursor: Cursor = None,
    ) -> AlertPage:
        """Alerts of the nights in [start, end), oldest first, withdrawn ones included (their state says so)."""
        participant = await require_participant(pool, participant_id)
        return await _page(
            pool,
            participant_id=participant_id,
            timezone=participant.timezone,
            start=start,
            end=end,
            level=level,
            detector=detector,
            limit=limit,
            cursor=cursor,
        )

    @get("/nights", guards=[participant_guard], summary="A participant's nightly resting HR and verdicts")
    async def participant_nights(
        self,
        pool: NamedDependency[asyncpg.Pool],
        participant_id: FromPath[str],
        start: Annotated[str, Parameter(description=_DATE)],
        end: Annotated[str, Parameter(description=_DATE + ", exclusive; at most 400 nights")],
    ) -> NightPage:
        """Each night's resting HR and, per detector, the value, baseline and alert level it judged."""
        await require_participant(pool, participant_id)
        low, high = parse_date("start", start), parse_date("end", end)
        check_dates(low, high, max_days=400)
        return NightPage(items=await services.nights(pool, participant_id, low, high))


class CohortAlertController(Controller):
    path = "/v1/alerts"
    tags = ("alerts",)

    @get("/", guards=[cohort_guard], summary="Cohort-wide illness alerts")
    async def cohort_alerts(
        self,
        pool: NamedDependency[asyncpg.Pool],
        start: Annotated[str | None, Parameter(description=_DATE)] = None,
        end: Annotated[str | None, Parameter(description=_DATE + ", exclusive")] = None,
        level: Annotated[AlertLevel | None, Parameter(description="yellow or red")] = None,
        detector: Annotated[DetectorName | None, Parameter(description="nightsignal or cusum")] = None,
        limit: Limit = 1000,
        cursor: Cursor = None,
    ) -> AlertPage:
        """Every participant's alerts of the nights in [start, end), by night, paged with `next_cursor`."""
        return await _page(
            pool,
            participant_id=None,
            timezone="UTC",
            start=start,
            end=end,
            level=level,
            detector=detector,
            limit=limit,
            cursor=cursor,
        )
