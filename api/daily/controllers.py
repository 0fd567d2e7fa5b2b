"""`GET /v1/participants/{participant_id}/daily`: one summary per local date."""

from __future__ import annotations

from typing import Annotated, Final

import asyncpg
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter

from api.auth.guards import participant_guard
from api.daily import services
from api.daily.schemas import DailyReport
from api.participants.services import participant_dates
from api.series.imputed import resolve as resolve_imputation
from api.series.schemas import Imputed

MAX_DAYS: Final = 366
_DATE = "Local date YYYY-MM-DD (or a date-time: its local date)"


class DailyController(Controller):
    path = "/v1/participants/{participant_id:str}/daily"
    tags = ("daily",)

    @get("/", guards=[participant_guard], summary="Daily summaries")
    async def daily(
        self,
        pool: NamedDependency[asyncpg.Pool],
        participant_id: FromPath[str],
        start: Annotated[str | None, Parameter(description=_DATE + "; default: 30 days before end")] = None,
        end: Annotated[str | None, Parameter(description=_DATE + ", exclusive; default: after the last data")] = None,
        imputed: Annotated[Imputed, Parameter(description="include|only: count each day's imputed minutes")] = (
            "exclude"
        ),
        imputation_run: Annotated[
            str | None, Parameter(max_length=64, description="Run id; default: the latest complete run covering it")
        ] = None,
    ) -> DailyReport:
        """Wear, coverage, resting HR, steps, AZM, the night's sleep and uploads per local date in [start, end)
        (definitions in the README's API section). With `imputed=include|only`, `imputed_minutes` per metric
        counts the minutes an imputation run imputed on each date; the other figures stay observed data."""
        participant, first, last = await participant_dates(pool, participant_id, start, end, max_days=MAX_DAYS)
        imputation = await resolve_imputation(pool, participant_id, None, imputed, imputation_run)
        days = await services.daily(pool, participant_id, participant.timezone, first, last, imputation.run_id)
        return DailyReport(
            participant_id=participant_id,
            timezone=participant.timezone,
            days=days,
            imputed=imputation.mode,
            imputation_run=imputation.run_id,
        )
