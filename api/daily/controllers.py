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
    ) -> DailyReport:
        """Wear, coverage, resting HR, steps, AZM, the night's sleep and uploads per local date in [start, end)
        (definitions in the README's API section)."""
        participant, first, last = await participant_dates(pool, participant_id, start, end, max_days=MAX_DAYS)
        days = await services.daily(pool, participant_id, participant.timezone, first, last)
        return DailyReport(participant_id=participant_id, timezone=participant.timezone, days=days)
