"""The methods `Client` and `AsyncClient` share: each builds a plan and hands it to the driver's `_run`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, Generic, Literal, TypeVar

import pandas as pd

from wearstream.client import plans, series_plan
from wearstream.client.frames import Frame
from wearstream.client.http import Call
from wearstream.client.plans import Imputed, Moment, Plan, Resolution
from wearstream.client.progress import Progress

R = TypeVar("R")


class Methods(ABC, Generic[R]):
    """Table-shaped answers; `frame` picks pandas (default), a pyarrow Table or a polars DataFrame."""

    progress: bool
    page_size: int
    zones: dict[str, str]

    @abstractmethod
    def _run(self, plan: Plan, frame: Frame) -> R: ...

    def metrics(self, *, frame: Frame = "pandas") -> R:
        """The codebook (`GET /v1/metrics`): a row per metric with its unit, valid range, native resolution,
        precision, storage, rollup, fields and `units` (a dict per metric: field → unit)."""
        return self._run(_codebook(), frame)

    def participants(
        self,
        *,
        authorisation: str | None = None,
        flag: str | None = None,
        open_gaps: bool | None = None,
        prefix: str | None = None,
        as_of: Moment = None,
        frame: Frame = "pandas",
    ) -> R:
        """The cohort view (`GET /v1/participants`, every page): one row per participant."""
        plan = plans.participants(
            self.page_size,
            authorisation=authorisation,
            flag=flag,
            open_gaps=open_gaps,
            q=prefix,
            as_of=plans.moment("as_of", as_of),
        )
        return self._run(plan, frame)

    def series(
        self,
        participants: str | Iterable[str],
        metric: str,
        start: Moment = None,
        end: Moment = None,
        resolution: Resolution = "auto",
        imputed: Imputed = "exclude",
        *,
        imputation_run: str | None = None,
        max_points: int = 1000,
        frame: Frame = "pandas",
    ) -> R:
        """Points of `metric` for each participant in [start, end): `raw` readings (`value` + extra columns) or
        rollups (`count, min, max, mean` [+ `sum`, stage epochs]), every page; `auto` is the API's reduced view
        of at most `max_points` points per participant. Dates are each participant's local midnights.
        `imputed="include"|"only"` adds (or serves only) an imputation run's minutes, with the columns
        `imputed_minutes` (rollups), `imputed`, `imputation_run`, `standard_error`, `lower`, `upper`; the run
        (`imputation_run`, default the API's latest covering one) is in `attrs["resolution"][participant]`."""
        names = plans.ids(participants)
        plan = series_plan.series(
            names,
            metric,
            start,
            end,
            resolution,
            zones=self.zones,
            page_size=self.page_size,
            max_points=max_points,
            progress=Progress(self.progress, len(names), f"{metric} series"),
            imputed=imputed,
            imputation_run=imputation_run,
        )
        return self._run(plan, frame)

    def daily(
        self,
        participants: str | Iterable[str],
        start: Moment = None,
        end: Moment = None,
        *,
        imputed: Imputed = "exclude",
        frame: Frame = "pandas",
    ) -> R:
        """Daily summaries (wear, coverage, resting HR, steps, AZM, the night's sleep, uploads) per local date;
        nested fields are flattened (`coverage_pct_heart_rate`, `sleep_minutes_asleep`, …). With
        `imputed="include"`, `imputed_minutes_<metric>`: the minutes the latest imputation run imputed."""
        names = plans.ids(participants)
        progress = Progress(self.progress, len(names), "daily")
        plan = plans.per_day("daily", names, start, end, zones=self.zones, progress=progress, imputed=imputed)
        return self._run(plan, frame)

    def sleep(
        self, participants: str | Iterable[str], start: Moment = None, end: Moment = None, *, frame: Frame = "pandas"
    ) -> R:
        """Sleep nights (dated by the local morning they end on) per participant."""
        names = plans.ids(participants)
        progress = Progress(self.progress, len(names), "sleep")
        return self._run(plans.per_day("sleep", names, start, end, zones=self.zones, progress=progress), frame)

    def gaps(
        self,
        participants: str | Iterable[str] | None = None,
        start: Moment = None,
        end: Moment = None,
        *,
        kind: Literal["not_worn", "not_synced"] | None = None,
        status: Literal["open", "closed", "all"] = "all",
        frame: Frame = "pandas",
    ) -> R:
        """Gaps overlapping [start, end) of the participants, or of the whole cohort when `participants` is None
        (all states by default), with `local_start`/`local_end` in each participant's zone."""
        names = plans.ids(participants) if participants is not None else None
        progress = Progress(self.progress and names is not None, len(names or ()), "gaps")
        plan = plans.gaps(names, start, end, kind=kind, status=status, zones=self.zones, progress=progress)
        return self._run(plan, frame)

    def adherence(
        self,
        start: Moment = None,
        end: Moment = None,
        *,
        as_of: Moment = None,
        flag: str | None = None,
        per_day: bool = False,
        frame: Frame = "pandas",
    ) -> R:
        """Cohort adherence over local dates [start, end): a row per participant (wear %, nights with sleep,
        hours since last upload, flags), or per participant × date with `per_day`."""
        return self._run(plans.adherence(start, end, as_of=as_of, flag=flag, per_day=per_day, zones=self.zones), frame)

    def alerts(
        self,
        participants: str | Iterable[str] | None = None,
        start: Moment = None,
        end: Moment = None,
        *,
        level: Literal["yellow", "red"] | None = None,
        detector: Literal["nightsignal", "cusum"] | None = None,
        frame: Frame = "pandas",
    ) -> R:
        """Illness alerts (`/v1/participants/{id}/alerts`, or `/v1/alerts` for the cohort). Raises
        `EndpointUnavailableError` when the server does not serve alerts."""
        names = plans.ids(participants) if participants is not None else None
        progress = Progress(self.progress and names is not None, len(names or ()), "alerts")
        return self._run(plans.alerts(names, start, end, level=level, detector=detector, progress=progress), frame)


def _codebook() -> Plan:
    answer: dict[str, Any] = yield Call("/v1/metrics", {})
    frame = pd.DataFrame.from_records(answer["metrics"])
    frame.attrs["resolutions"] = list(answer["resolutions"])
    return frame
