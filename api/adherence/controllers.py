"""`GET /v1/adherence`: the whole cohort's adherence over a window of local dates, in one request."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Final

import asyncpg
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import Parameter

from api.adherence import services
from api.adherence.schemas import AdherenceReport, Flag, Thresholds
from api.auth.guards import cohort_guard
from api.deps import as_of_or_now
from api.params import date_window
from core.settings import Settings

MAX_DAYS: Final = 366


class AdherenceController(Controller):
    path = "/v1/adherence"
    tags = ("adherence",)

    @get("/", guards=[cohort_guard], summary="Cohort adherence")
    async def adherence(
        self,
        pool: NamedDependency[asyncpg.Pool],
        settings: NamedDependency[Settings],
        thresholds: NamedDependency[Thresholds],
        start: Annotated[
            str | None, Parameter(description="First local date (default: window_days before end)")
        ] = None,
        end: Annotated[str | None, Parameter(description="Exclusive local date (default: today, UTC)")] = None,
        as_of: Annotated[
            str | None, Parameter(description="Instant for hours since last upload (default: now, at most end)")
        ] = None,
        flag: Annotated[Flag | None, Parameter(description="Only participants carrying this flag")] = None,
        daily: Annotated[bool, Parameter(description="Include the per-date breakdown")] = True,
    ) -> AdherenceReport:
        """Per participant and local date: wear %, nights with sleep data, hours since the last upload, and the
        flags `not_authorised`, `no_recent_upload`, `low_wear`, `low_sleep_data` (thresholds from settings,
        overridable per request). Definitions in the README's API section."""
        today = dt.datetime.now(dt.UTC).date()
        first, last = date_window(
            start, end, "UTC", default_end=today, default_days=settings.api.adherence.window_days, max_days=MAX_DAYS
        )
        cap = dt.datetime.combine(last, dt.time(), tzinfo=dt.UTC)
        moment = as_of_or_now(as_of, cap=cap)
        return await services.adherence_report(
            pool, start=first, end=last, as_of=moment, thresholds=thresholds, flag=flag, daily=daily
        )
