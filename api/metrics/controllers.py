"""`GET /v1/metrics` and `GET /v1/metrics/{metric}`: the codebook of the metric registry."""

from __future__ import annotations

from typing import Final

import msgspec
from litestar import Controller, get
from litestar.params import FromPath

from api.errors import not_found
from schemas.codebook import CODEBOOK, LEVELS, Level, MetricEntry

_DOC: Final = """Every metric of the registry: unit, valid range, native resolution, precision, how values are
stored, how rollups summarise it, the fields of its raw and rollup points with their units, and the codes of
categorical metrics. Readable with any key (it holds no participant's data)."""


class Codebook(msgspec.Struct, frozen=True, kw_only=True):
    metrics: list[MetricEntry]
    resolutions: list[Level]
    """The stored resolutions a series can be read at (`resolution=`; `auto` picks among them)."""


_BY_NAME: Final = {entry.name: entry for entry in CODEBOOK}


class MetricController(Controller):
    path = "/v1/metrics"
    tags = ("metrics",)

    @get("/", summary="The metric codebook", description=_DOC)
    async def codebook(self) -> Codebook:
        return Codebook(metrics=list(CODEBOOK), resolutions=list(LEVELS))

    @get("/{metric:str}", summary="One metric's codebook entry", description="404 for a metric not in the registry.")
    async def metric(self, metric: FromPath[str]) -> MetricEntry:
        entry = _BY_NAME.get(metric)
        if entry is None:
            raise not_found("metric", metric)
        return entry
