"""`GET /v1/participants/{participant_id}/series/{metric}`: history at any zoom, paged, or exported."""

from __future__ import annotations

from typing import Annotated, Final, cast

import asyncpg
import msgspec
from litestar import Controller, Response, get
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, Parameter
from litestar.response import Stream

from api import metric_defs
from api.auth.guards import participant_guard
from api.errors import invalid, not_found
from api.params import Cursor, check_range, parse_instant
from api.participants.services import require_participant
from api.series import arrow, export, json_text, plans, raw_pages, services
from api.series.imputed import resolve as resolve_imputation
from api.series.levels import ROLLUPS
from api.series.schemas import ExportFormat, Imputed, Resolution, SeriesPage
from schemas.metrics import METRICS

_DOC: Final = """Readings of one participant and metric in [start, end).

`resolution`: `raw` readings, stored rollups (`1m`, `1h`, `1d` — the day is the participant's local day), or
`auto`: the finest stored resolution that holds the range (after retention: 1-minute bins from raw readings,
else hours) and serves it within 10 × `max_points` rows, reduced to at most
`max_points` points without losing peaks (rollup buckets merged into equal bins that keep their exact count,
sum, min and max; raw readings thinned with MinMaxLTTB, always keeping the range's minimum and maximum).
`raw`, `1m`, `1h` and `1d` return pages of `max_points` items; pass `next_cursor` back as `cursor` for the
next page (exact at page boundaries while new data arrives). `start`/`end` default to the metric's first
reading and the instant after its last one. `format=arrow` gives the same page as an Arrow IPC stream
(`application/vnd.apache.arrow.stream`): one column per point field (`time`, `value` and the secondary columns,
or `count`, `min`, `max`, `mean`, `sum`, `<stage>_epochs`), units in the field metadata, the next cursor in the
`X-Next-Cursor` header (absent on the last page) and the schema metadata. `format=csv|parquet` streams the
whole range instead (`auto` exports raw readings).

`imputed`: `exclude` (default) serves observed data only; `include` adds the imputed minutes of an imputation
run (`imputation_run`, default the latest complete run covering the participant and metric; the page's
`imputation_run` says which, null when none does); `only` serves the imputed minutes alone. Observed data are
never altered. At `raw` and `1m` an imputed minute is a point of its own (`imputed: true`, `imputation_run`,
`standard_error`, `lower`, `upper`; at `1m` a bucket of one value), observed points have `imputed: false`; a
raw or 1-minute page holds `max_points` observed items plus the imputed minutes in its span. At `1h`, `1d`
and `auto` (which then always rolls up, 1-minute bins at the finest) each bucket is the rollup of its observed
readings and imputed minutes, an imputed minute counting as one value, and `imputed_minutes` says how many of
its `count` values are imputed minutes. Arrow pages carry the same fields as columns. `format=csv|parquet`
serves observed data only (`wearstream export --imputed` writes imputed rows)."""


class SeriesController(Controller):
    path = "/v1/participants/{participant_id:str}/series"
    tags = ("series",)

    @get(
        "/{metric:str}",
        guards=[participant_guard],
        summary="A time series",
        description=_DOC,
        response_description="JSON page; with format=arrow the page as application/vnd.apache.arrow.stream; "
        "with format=csv text/csv, with format=parquet application/vnd.apache.parquet",
        response_headers=[
            ResponseHeader(
                name=arrow.NEXT_CURSOR_HEADER,
                documentation_only=True,
                description="format=arrow: the cursor of the next page (absent on the last page)",
            ),
            ResponseHeader(
                name=arrow.RESOLUTION_HEADER,
                documentation_only=True,
                description="format=arrow: the stored resolution the points come from",
            ),
            ResponseHeader(
                name=arrow.BUCKET_SECONDS_HEADER,
                documentation_only=True,
                description="format=arrow: the width of each rollup point (absent for raw points)",
            ),
        ],
    )
    async def series(
        self,
        pool: NamedDependency[asyncpg.Pool],
        participant_id: FromPath[str],
        metric: FromPath[str],
        start: Annotated[str | None, Parameter(description="Date (participant-local midnight) or RFC 3339")] = None,
        end: Annotated[str | None, Parameter(description="Exclusive; date or RFC 3339")] = None,
        resolution: FromQuery[Resolution] = "auto",
        max_points: Annotated[int, Parameter(ge=10, le=100_000, description="Points (auto) or page size")] = 1000,
        cursor: Cursor = None,
        format: FromQuery[ExportFormat] = "json",
        imputed: Annotated[
            Imputed, Parameter(description="exclude (default), include or only the imputed minutes")
        ] = "exclude",
        imputation_run: Annotated[
            str | None, Parameter(max_length=64, description="Run id; default: the latest complete run covering it")
        ] = None,
    ) -> Response[SeriesPage]:
        definition = METRICS.get(metric)
        if definition is None:
            raise not_found("metric", metric)
        participant = await require_participant(pool, participant_id)
        low = parse_instant("start", start, participant.timezone) if start is not None else None
        high = parse_instant("end", end, participant.timezone) if end is not None else None
        if low is not None and high is not None:
            check_range(low, high)
        else:
            first, after_last = await services.stored_bounds(pool, participant_id, definition)
            low = low or first
            high = max(high or after_last, low)  # no data (or none in the range): empty
        query = services.SeriesQuery(participant_id=participant_id, metric=definition, start=low, end=high)

        if format in ("csv", "parquet"):
            if imputed != "exclude":
                raise invalid("imputed", "format=csv|parquet serves observed data only; use json or arrow")
            return _download(pool, query, resolution, format)
        imputation = await resolve_imputation(pool, participant_id, metric, imputed, imputation_run)
        if resolution == "raw" and imputation.mode == "exclude":
            return await _raw_columns(pool, query, max_points, cursor, format)
        page = await plans.page(pool, query, resolution, max_points, cursor, imputation)
        metric_defs.SERIES_POINTS.labels(resolution=resolution).observe(len(page.points))
        if format == "arrow":
            table = Response(arrow.encode(page, definition), media_type=arrow.MEDIA_TYPE, headers=arrow.headers(page))
            return cast("Response[SeriesPage]", table)
        return Response(page)


async def _raw_columns(
    pool: asyncpg.Pool, query: services.SeriesQuery, max_points: int, cursor: str | None, format: ExportFormat
) -> Response[SeriesPage]:
    """A page of raw readings built from their columns: Arrow, or JSON written column-wise where the readings
    allow (`json_text.points_json`), one point per reading otherwise."""
    facts, readings = await plans.raw_columns(pool, query, max_points, cursor)
    metric_defs.SERIES_POINTS.labels(resolution="raw").observe(len(readings))
    if format == "arrow":
        body = arrow.encode_raw(facts, readings, query.metric)
        return cast("Response[SeriesPage]", Response(body, media_type=arrow.MEDIA_TYPE, headers=arrow.headers(facts)))
    text = json_text.raw_page_json(facts, readings)
    if text is None:
        return Response(msgspec.structs.replace(facts, points=raw_pages.raw_points(readings, query.metric)))
    return cast("Response[SeriesPage]", Response(text, media_type="application/json"))


def _download(
    pool: asyncpg.Pool, query: services.SeriesQuery, resolution: Resolution, format: ExportFormat
) -> Response[SeriesPage]:
    """The whole range as a CSV or Parquet download, streamed a window at a time."""
    level = None if resolution in ("auto", "raw") else ROLLUPS[resolution]
    columns, chunks = export.rows_of(pool, query, level)
    name = export.filename(query, level.name if level else "raw", format)
    body = export.csv_stream(columns, chunks) if format == "csv" else export.parquet_stream(columns, chunks)
    media_type = "text/csv" if format == "csv" else "application/vnd.apache.parquet"
    stream = Stream(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return cast("Response[SeriesPage]", stream)
