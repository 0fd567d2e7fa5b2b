"""`GET /v1/participants/{participant_id}/sleep`: one entry per night."""

from __future__ import annotations

from typing import Annotated, Final

import asyncpg
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter

from api.auth.guards import participant_guard
from api.participants.services import participant_dates
from api.sleep import services
from api.sleep.schemas import SleepReport

MAX_NIGHTS: Final = 366
_DATE = "Sleep date YYYY-MM-DD (the local date a night ends on)"


class SleepController(Controller):
    path = "/v1/participants/{participant_id:str}/sleep"
    tags = ("sleep",)

    @get("/", guards=[participant_guard], summary="Sleep per night")
    async def sleep(
        self,
        pool: NamedDependency[asyncpg.Pool],
        participant_id: FromPath[str],
        start: Annotated[str | None, Parameter(description=_DATE + "; default: 30 nights before end")] = None,
        end: Annotated[str | None, Parameter(description=_DATE + ", exclusive; default: after the last data")] = None,
    ) -> SleepReport:
        """Stage minutes, efficiency, onset/offset, SpO2, HRV and breathing rate of each night whose sleep date
        is in [start, end); a night runs from 12:00 the day before to 12:00 local."""
        participant, first, last = await participant_dates(pool, participant_id, start, end, max_days=MAX_NIGHTS)
        nights = await services.nights(pool, participant_id, participant.timezone, first, last)
        return SleepReport(participant_id=participant_id, timezone=participant.timezone, nights=nights)
