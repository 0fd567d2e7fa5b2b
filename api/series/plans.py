"""The resolution plan: which stored level answers a series request, and the page it returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import asyncpg

from api import cursor as cursors
from api.params import from_ms, to_ms
from api.series import imputed, merge, raw_pages, services
from api.series.imputed import EXCLUDE, Imputation
from api.series.levels import ROLLUPS, Level, auto_source, bin_factor, choose_level
from api.series.raw import Decoded
from api.series.schemas import Point, Resolution, SeriesPage

RAW_AUTO_CAP_FACTOR: Final = 4
"""`auto` on raw readings gives up (and uses 1-minute rollups) past this many times its row budget."""


@dataclass(frozen=True, slots=True)
class _Answer:
    """What a plan produced: the level that answered, its points, bucket width and the next page's cursor."""

    level: str
    points: list[Point]
    bucket_seconds: int | None = None
    next_cursor: str | None = None


def _auto_level(query: services.SeriesQuery, max_points: int, imputation: Imputation) -> Level:
    """`auto`'s level before retention; with imputed minutes it rolls up (1-minute bins at the finest)."""
    level = choose_level(query.metric, query.end_ms - query.start_ms, max_points)
    return "1m" if level == "raw" and imputation.mode != "exclude" else level


async def _auto(pool: asyncpg.Pool, query: services.SeriesQuery, max_points: int, imputation: Imputation) -> _Answer:
    """The finest retained level that serves the range within its row budget, reduced to `max_points`; with
    imputed minutes, bins of the observed buckets and the imputed minutes merged (or of the imputed alone)."""
    dropped = await services.dropped_before(pool) if imputation.mode != "only" else {}
    source = auto_source(_auto_level(query, max_points, imputation), query.start_ms, dropped)
    if source.level == "raw":
        cap = RAW_AUTO_CAP_FACTOR * 10 * max_points
        raw = await raw_pages.raw_reduced(pool, query, max_points, cap)
        if raw is not None:
            return _Answer("raw", list(raw))
        source = auto_source("1m", query.start_ms, dropped)
    rollup = ROLLUPS[source.level]
    covered_ms = query.end_ms - to_ms(services.first_bucket_bound(query, rollup))
    factor = bin_factor(covered_ms, rollup.width_ms, max_points)
    observed: list[asyncpg.Record] = []
    if imputation.mode == "only":
        pass
    elif source.minutes_from_raw:
        observed = await services.minutes_from_raw_rows(pool, query, factor, max_points)
    else:
        observed = await services.rollup_binned_rows(pool, query, rollup, factor, max_points)
    if imputation.mode == "exclude":
        return _Answer(
            source.level, [services.rollup_point(r, query.metric) for r in observed], rollup.width_ms * factor // 1000
        )
    added = []
    if imputation.run_id is not None:
        bins = services.bins_of(query, rollup, factor) if factor > 1 else None
        lower = services.first_bucket_bound(query, rollup)
        added = await imputed.bucket_rows(pool, query, imputation.run_id, rollup, lower=lower, bins=bins)
    rows = merge.merge_buckets(observed, added)
    return _Answer(
        source.level, [services.rollup_point(r, query.metric) for r in rows], rollup.width_ms * factor // 1000
    )


async def _raw_readings(
    pool: asyncpg.Pool, query: services.SeriesQuery, position: cursors.Position | None, fingerprint: str, limit: int
) -> tuple[Decoded, str | None]:
    """A page of raw readings after `position`, and the next page's cursor."""
    start = raw_pages.RawPosition(position.after, position.skip) if position else None
    readings, after = await raw_pages.raw_page(pool, query, start, limit)
    next_cursor = None
    if after is not None:
        next_cursor = cursors.encode(cursors.Position(q=fingerprint, after=after.after_ms, skip=after.skip))
    return readings, next_cursor


async def _raw(
    pool: asyncpg.Pool, query: services.SeriesQuery, position: cursors.Position | None, fingerprint: str, limit: int
) -> _Answer:
    """A page of raw readings after `position`, as points."""
    readings, next_cursor = await _raw_readings(pool, query, position, fingerprint, limit)
    return _Answer("raw", raw_pages.raw_points(readings, query.metric), next_cursor=next_cursor)


async def _rollup(
    pool: asyncpg.Pool,
    query: services.SeriesQuery,
    resolution: str,
    position: cursors.Position | None,
    fingerprint: str,
    limit: int,
    imputation: Imputation = EXCLUDE,
) -> _Answer:
    """A page of stored rollup buckets of `resolution` after `position`; with `imputed=include` at 1 h and 1 d,
    the buckets merged with the run's imputed minutes on the same buckets."""
    rollup = ROLLUPS[resolution]
    after = position.after if position else None
    rows, more = await services.rollup_page(pool, query, rollup, after, limit)
    if imputation.mode == "include" and resolution != "1m":
        added: list[asyncpg.Record] = []
        added_more = False
        if imputation.run_id is not None:
            lower = from_ms(after) if after is not None else services.first_bucket_bound(query, rollup)
            added = await imputed.bucket_rows(
                pool, query, imputation.run_id, rollup, lower=lower, after=after is not None, limit=limit + 1
            )
            added_more, added = len(added) > limit, added[:limit]
        rows, more = merge.merge_pages(rows, more, added, added_more, limit)
    points = [services.rollup_point(row, query.metric) for row in rows]
    next_cursor = cursors.encode(cursors.Position(q=fingerprint, after=rows[-1]["t"])) if more else None
    return _Answer(resolution, points, bucket_seconds=rollup.width_ms // 1000, next_cursor=next_cursor)


def _first_ms(query: services.SeriesQuery, level: str, position: cursors.Position | None) -> int:
    """Where a page of points starts: after the cursor's last point, else at the range's start (raw) or the
    minute holding it (1m)."""
    if position is not None:
        return position.after + 1
    return query.start_ms if level == "raw" else to_ms(services.first_bucket_bound(query, ROLLUPS["1m"]))


async def with_imputed_points(
    pool: asyncpg.Pool,
    query: services.SeriesQuery,
    answer: _Answer,
    position: cursors.Position | None,
    imputation: Imputation,
) -> _Answer:
    """A raw or 1-minute page with the run's imputed minutes in its span: after the previous page's last
    point, up to and including this page's last one (to the range's end on the last page), so that every
    imputed minute is on exactly one page. Observed points are flagged `imputed: false` and kept as they are."""
    level = answer.level
    observed = [merge.as_observed(p, rollup=level != "raw") for p in answer.points]
    added: list[Point] = []
    if imputation.run_id is not None:
        low = _first_ms(query, level, position)
        high = to_ms(answer.points[-1].time) + 1 if answer.next_cursor and answer.points else query.end_ms
        rows = await imputed.point_rows(pool, query, imputation.run_id, low, high)
        added = [imputed.imputed_point(r, query.metric, imputation.run_id, level) for r in rows]
    points = merge.interleave(observed, added)
    return _Answer(level, points, bucket_seconds=answer.bucket_seconds, next_cursor=answer.next_cursor)


async def imputed_only(
    pool: asyncpg.Pool,
    query: services.SeriesQuery,
    resolution: str,
    position: cursors.Position | None,
    fingerprint: str,
    limit: int,
    imputation: Imputation,
) -> _Answer:
    """A page of the run's imputed minutes alone: points at raw and 1 m, their rollups at 1 h and 1 d."""
    run_id = imputation.run_id
    rows: list[asyncpg.Record] = []
    if resolution in ("raw", "1m"):
        if run_id is not None:
            rows = await imputed.point_rows(
                pool, query, run_id, _first_ms(query, resolution, position), query.end_ms, limit + 1
            )
        points = [imputed.imputed_point(r, query.metric, run_id or "", resolution) for r in rows[:limit]]
        width = 60 if resolution == "1m" else None
    else:
        rollup = ROLLUPS[resolution]
        if run_id is not None:
            after = position.after if position else None
            lower = from_ms(after) if after is not None else services.first_bucket_bound(query, rollup)
            rows = await imputed.bucket_rows(
                pool, query, run_id, rollup, lower=lower, after=after is not None, limit=limit + 1
            )
        points = [services.rollup_point(r, query.metric) for r in rows[:limit]]
        width = rollup.width_ms // 1000
    more = len(rows) > limit
    next_cursor = cursors.encode(cursors.Position(q=fingerprint, after=rows[limit - 1]["t"])) if more else None
    return _Answer(resolution, points, bucket_seconds=width, next_cursor=next_cursor)


async def _answer(
    pool: asyncpg.Pool,
    query: services.SeriesQuery,
    resolution: Resolution,
    max_points: int,
    position: cursors.Position | None,
    fingerprint: str,
    imputation: Imputation,
) -> _Answer:
    if query.end_ms - query.start_ms <= 0:
        return _Answer("raw" if resolution == "auto" else resolution, [])
    if resolution == "auto" and imputation.mode == "include" and imputation.run_id is None:
        # No run covers the series: the answer `exclude` gives, its points flagged observed.
        answer = await _auto(pool, query, max_points, EXCLUDE)
        points = [merge.as_observed(p, rollup=answer.level != "raw") for p in answer.points]
        return _Answer(answer.level, points, bucket_seconds=answer.bucket_seconds)
    if resolution == "auto":
        return await _auto(pool, query, max_points, imputation)
    if imputation.mode == "only":
        return await imputed_only(pool, query, resolution, position, fingerprint, max_points, imputation)
    if resolution == "raw":
        answer = await _raw(pool, query, position, fingerprint, max_points)
    else:
        answer = await _rollup(pool, query, resolution, position, fingerprint, max_points, imputation)
    if imputation.mode == "include" and resolution in ("raw", "1m"):
        return await with_imputed_points(pool, query, answer, position, imputation)
    return answer


def _fingerprint(query: services.SeriesQuery, resolution: Resolution, imputation: Imputation) -> str:
    parts: tuple[object, ...] = (query.participant_id, query.metric.name, resolution)
    if imputation.mode != "exclude":
        parts = (*parts, imputation.mode, imputation.run_id)
    return cursors.fingerprint(*parts)


def _series_page(query: services.SeriesQuery, answer: _Answer, imputation: Imputation) -> SeriesPage:
    return SeriesPage(
        participant_id=query.participant_id,
        metric=query.metric.name,
        unit=query.metric.unit,
        start=query.start,
        end=query.end,
        resolution=answer.level,  # type: ignore[arg-type]
        bucket_seconds=answer.bucket_seconds,
        points=answer.points,
        next_cursor=answer.next_cursor,
        imputed=imputation.mode,
        imputation_run=imputation.run_id,
    )


async def page(
    pool: asyncpg.Pool,
    query: services.SeriesQuery,
    resolution: Resolution,
    max_points: int,
    cursor: str | None,
    imputation: Imputation = EXCLUDE,
) -> SeriesPage:
    """One JSON page of `query` at `resolution`; a cursor from another query is refused."""
    fingerprint = _fingerprint(query, resolution, imputation)
    position = cursors.decode(cursor, fingerprint) if cursor else None
    answer = await _answer(pool, query, resolution, max_points, position, fingerprint, imputation)
    return _series_page(query, answer, imputation)


async def raw_columns(
    pool: asyncpg.Pool, query: services.SeriesQuery, max_points: int, cursor: str | None
) -> tuple[SeriesPage, Decoded]:
    """The page `page()` gives for `resolution=raw` without imputed minutes, its readings as columns (the page's
    `points` are left empty): for answers built from columns, such as `format=arrow`."""
    fingerprint = _fingerprint(query, "raw", EXCLUDE)
    position = cursors.decode(cursor, fingerprint) if cursor else None
    readings, next_cursor = Decoded.empty(len(query.metric.extra_columns)), None
    if query.end_ms > query.start_ms:
        readings, next_cursor = await _raw_readings(pool, query, position, fingerprint, max_points)
    return _series_page(query, _Answer("raw", [], next_cursor=next_cursor), EXCLUDE), readings
