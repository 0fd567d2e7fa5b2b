"""`GET /v1/participants/{participant_id}/gaps` and `GET /v1/gaps` (cohort-wide; open gaps by default)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import asyncpg
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, Parameter

from api import cursor as cursors
from api.auth.guards import cohort_guard, participant_guard
from api.gaps import services
from api.gaps.schemas import GapKind, GapPage, GapState
from api.params import Cursor, Limit, check_range, from_ms, parse_instant, to_ms
from api.participants.services import require_participant

_INSTANT = "Date or RFC 3339 date-time"


async def _page(
    pool: asyncpg.Pool,
    *,
    participant_id: str | None,
    timezone: str,
    kind: GapKind | None,
    state: GapState,
    start: str | None,
    end: str | None,
    limit: int,
    cursor: str | None,
) -> GapPage:
    low = parse_instant("start", start, timezone) if start is not None else None
    high = parse_instant("end", end, timezone) if end is not None else None
    if low is not None and high is not None:
        check_range(low, high)
    query = cursors.fingerprint("gaps", participant_id, kind, state, low, high)
    after: tuple[dt.datetime, str, str] | None = None
    if cursor:
        position = cursors.decode(cursor, query)
        key_participant, _, key_kind = position.key.partition("\x1f")
        after = (from_ms(position.after), key_participant, key_kind)
    items, following = await services.gaps(
        pool, participant_id=participant_id, kind=kind, state=state, start=low, end=high, after=after, limit=limit
    )
    next_cursor = None
    if following is not None:
        next_cursor = cursors.encode(
            cursors.Position(q=query, after=to_ms(following[0]), key=f"{following[1]}\x1f{following[2]}")
        )
    return GapPage(items=items, next_cursor=next_cursor)


class ParticipantGapController(Controller):
    path = "/v1/participants/{participant_id:str}/gaps"
    tags = ("gaps",)

    @get("/", guards=[participant_guard], summary="A participant's gaps")
    async def participant_gaps(
        self,
        pool: NamedDependency[asyncpg.Pool],
        participant_id: FromPath[str],
        kind: FromQuery[GapKind | None] = None,
        status: Annotated[GapState, Parameter(description="open, closed or all")] = "all",
        start: Annotated[str | None, Parameter(description=_INSTANT + " (participant-local date)")] = None,
        end: Annotated[str | None, Parameter(description=_INSTANT + ", exclusive")] = None,
        limit: Limit = 1000,
        cursor: Cursor = None,
    ) -> GapPage:
        """Gaps overlapping [start, end), oldest first, with kind and duration."""
        participant = await require_participant(pool, participant_id)
        return await _page(
            pool,
            participant_id=participant_id,
            timezone=participant.timezone,
            kind=kind,
            state=status,
            start=start,
            end=end,
            limit=limit,
            cursor=cursor,
        )


class CohortGapController(Controller):
    path = "/v1/gaps"
    tags = ("gaps",)

    @get("/", guards=[cohort_guard], summary="Cohort-wide gaps")
    async def cohort_gaps(
        self,
        pool: NamedDependency[asyncpg.Pool],
        kind: FromQuery[GapKind | None] = None,
        status: Annotated[GapState, Parameter(description="open, closed or all")] = "open",
        start: Annotated[str | None, Parameter(description=_INSTANT + " (dates are UTC)")] = None,
        end: Annotated[str | None, Parameter(description=_INSTANT + ", exclusive")] = None,
        limit: Limit = 1000,
        cursor: Cursor = None,
    ) -> GapPage:
        """Every participant's gaps (open ones unless `state` says otherwise), oldest first."""
        return await _page(
            pool,
            participant_id=None,
            timezone="UTC",
            kind=kind,
            state=status,
            start=start,
            end=end,
            limit=limit,
            cursor=cursor,
        )
