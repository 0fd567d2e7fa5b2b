"""`GET /v1/sources` (admin, researcher): every cursor of the sources runner, filtered and paged."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import Parameter

from api import cursor as cursors
from api.auth.guards import cohort_guard
from api.params import Cursor
from api.sources import services
from api.sources.schemas import CursorStatus, SourceCursorPage


class SourceController(Controller):
    path = "/v1/sources"
    tags = ("sources",)

    @get("/", guards=[cohort_guard], summary="Where the sources runner stands")
    async def list_sources(
        self,
        pool: NamedDependency[asyncpg.Pool],
        source: Annotated[str | None, Parameter(description="Only this source", max_length=64)] = None,
        status: Annotated[CursorStatus | None, Parameter(description="Only cursors in this status")] = None,
        participant_id: Annotated[str | None, Parameter(description="Only this participant", max_length=64)] = None,
        limit: Annotated[int, Parameter(ge=1, le=1000)] = 1000,
        cursor: Cursor = None,
    ) -> SourceCursorPage:
        """Per source × participant × metric: fetched through, last run, last success, status, last error."""
        query = cursors.fingerprint("sources", source, status, participant_id)
        offset = cursors.decode(cursor, query).after if cursor else 0
        items, total = await services.list_cursors(
            pool, source=source, status=status, participant_id=participant_id, limit=limit, offset=offset
        )
        more = offset + len(items) < total
        next_cursor = cursors.encode(cursors.Position(q=query, after=offset + len(items))) if more else None
        return SourceCursorPage(items=items, next_cursor=next_cursor, total=total)
