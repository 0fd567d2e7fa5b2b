"""`GET /v1/participants` (cohort view, filters, sorting, paging), `GET /v1/participants/{participant_id}`, and
the admin's `POST /v1/participants` and `PATCH /v1/participants/{participant_id}` (audited changes)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import asyncpg
from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.status_codes import HTTP_409_CONFLICT

from api import cursor as cursors
from api.adherence.schemas import Flag, Thresholds
from api.auth.guards import admin_guard, caller, cohort_guard, participant_guard
from api.deps import as_of_or_now
from api.errors import invalid, not_found
from api.params import Cursor
from api.participants import services
from api.participants.schemas import NewParticipant, ParticipantDetail, ParticipantPage, ParticipantRecord, SortKey
from schemas.participants import Authorisation, Participant
from stream_processors import participant_records as records


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
        cursor: Cursor = None,
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

    @post("/", guards=[admin_guard], summary="Create a participant record")
    async def create_participant(
        self, request: Request[Any, Any, Any], pool: NamedDependency[asyncpg.Pool], data: JSONBody[NewParticipant]
    ) -> ParticipantRecord:
        """Creates the record (409 when it exists: change it with PATCH); audited with the caller's key."""
        record = Participant(
            participant_id=data.participant_id,
            enrolled_on=data.enrolled_on,
            timezone=data.timezone,
            authorisation=data.authorisation,
            device_id=data.device_id,
            contact_email=data.contact_email,
        )
        async with pool.acquire() as connection:
            try:
                await records.create(connection, record, actor=_actor(request))
            except records.ParticipantExists as error:
                raise HTTPException(status_code=HTTP_409_CONFLICT, detail=str(error)) from None
            except records.ParticipantError as error:
                raise invalid(error.field, error.reason, source="body") from None
            return _stored(await records.get(connection, data.participant_id))

    @patch("/{participant_id:str}", guards=[admin_guard], summary="Change a participant record")
    async def update_participant(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        participant_id: FromPath[str],
        data: JSONBody[records.ParticipantChange],
    ) -> ParticipantRecord:
        """Changes the fields given (others stay); audited with the caller's key. A new time zone recomputes the
        participant's day rollups before the answer."""
        async with pool.acquire() as connection:
            try:
                await records.update(connection, participant_id, data, actor=_actor(request))
            except records.ParticipantNotFound:
                raise not_found("participant", participant_id) from None
            except records.ParticipantError as error:
                raise invalid(error.field, error.reason, source="body") from None
            return _stored(await records.get(connection, participant_id))


def _actor(request: Request[Any, Any, Any]) -> str:
    return f"api key {caller(request).key_id}"


def _stored(record: Participant | None) -> ParticipantRecord:
    assert record is not None  # just written in this connection
    return ParticipantRecord(
        participant_id=record.participant_id,
        enrolled_on=record.enrolled_on,
        timezone=record.timezone,
        authorisation=record.authorisation,
        device_id=record.device_id,
        contact_email=record.contact_email,
        updated_at=dt.datetime.fromtimestamp(record.updated_at / 1000, tz=dt.UTC),
    )
