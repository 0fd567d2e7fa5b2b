"""`GET /v1/participants` (cohort view, filters, sorting, paging) and `GET /v1/participants/{participant_id}`."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, Parameter

from api import cursor as cursors
from api.adherence.schemas import Flag, Thresholds
from api.auth.guards import cohort_guard, participant_guard
from api.deps import as_of_or_now
from api.participants import services
from api.participants.schemas import ParticipantDetail, ParticipantPage, SortKey
from schemas.participants import Authorisation


class ParticipantController(Controller):
    path = "/v1/participants"
    tags = ("participants",)

    @get("/", guards=[cohort_guard], summary="The cohort view")
    async def list_participants(
        self,
        pool: NamedDependency[asyncpg.Pool],
        thresholds: NamedDependency[Thresholds],
        authorisation: FromQuery[Authorisation | None] = None,
        flag: FromQuery[Flag | None] = None,
        open_gaps: Annotated[
            bool | None, Parameter(description="Only participants with (true) / without open gaps")
        ] = None,
        q: Annotated[str | None, Parameter(description="Participant id prefix", max_length=64)] = None,
        sort: Annotated[SortKey, Parameter(description="Sort key; a leading '-' sorts descending")] = "participant_id",
        limit: Annotated[int, Parameter(ge=1, le=1000)] = 100,
        cursor: Annotated[str | None, Parameter(max_length=512)] = None,
        as_of: Annotated[str | None, Parameter(description="Date or date-time (default: now)")] = None,
    ) -> ParticipantPage:
        """Enrolment, authorisation, last upload, wear % over the 7 dates before `as_of`, open gaps and
        adherence flags of every participant matching the filters."""
        moment = as_of_or_now(as_of)
        query = cursors.fingerprint("participants", authorisation, flag, open_gaps, q, sort, moment.isoformat())
        offset = cursors.decode(cursor, query).after if cursor else 0
        items, total = await services.list_participants(
            pool,
            as_of=moment,
            thresholds=thresholds,
            authorisation=authorisation,
            flag=flag,
            open_gaps=open_gaps,
            id_prefix=q,
            sort=sort,
            limit=limit,
            offset=offset,
        )
        more = offset + len(items) < total
        next_cursor = cursors.encode(cursors.Position(q=query, after=offset + len(items))) if more else None
        return ParticipantPage(items=items, next_cursor=next_cursor, total=total, as_of=moment)

    @get("/{participant_id:str}", guards=[participant_guard], summary="One participant")
    async def get_participant(
        self,
        pool: NamedDependency[asyncpg.Pool],
        thresholds: NamedDependency[Thresholds],
        participant_id: FromPath[str],
        as_of: Annotated[str | None, Parameter(description="Date or date-time (default: now)")] = None,
    ) -> ParticipantDetail:
        """The cohort-view row of one participant, with what is stored per metric."""
        await services.require_participant(pool, participant_id)
        return await services.participant_detail(pool, participant_id, as_of=as_of_or_now(as_of), thresholds=thresholds)
