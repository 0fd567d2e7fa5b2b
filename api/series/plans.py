"""The resolution plan: which stored level answers a series request, and the page it returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import asyncpg

from api import cursor as cursors
from api.params import to_ms
from api.series import services
from api.series.levels import ROLLUPS, auto_source, bin_factor, choose_level
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


async def _auto(pool: asyncpg.Pool, query: services.SeriesQuery, max_points: int) -> _Answer:
    """The finest retained level that serves the range within its row budget, reduced to `max_points`."""
    range_ms = query.end_ms - query.start_ms
    dropped = await services.dropped_before(pool)
    source = auto_source(choose_level(query.metric, range_ms, max_points), query.start_ms, dropped)
    if source.level == "raw":
        cap = RAW_AUTO_CAP_FACTOR * 10 * max_points
        raw = await services.raw_reduced(pool, query, max_points, cap)
        if raw is not None:
            return _Answer("raw", list(raw))
        source = auto_source("1m", query.start_ms, dropped)
    rollup = ROLLUPS[source.level]
    covered_ms = query.end_ms - to_ms(services.first_bucket_bound(query, rollup))
    factor = bin_factor(covered_ms, rollup.width_ms, max_points)
    if source.minutes_from_raw:
        points = list(await services.minutes_from_raw(pool, query, factor, max_points))
    else:
        points = list(await services.rollup_binned(pool, query, rollup, factor, max_points))
    return _Answer(source.level, points, bucket_seconds=rollup.width_ms * factor // 1000)


async def _raw(
    pool: asyncpg.Pool, query: services.SeriesQuery, position: cursors.Position | None, fingerprint: str, limit: int
) -> _Answer:
    """A page of raw readings after `position`."""
    start = services.RawPosition(position.after, position.skip) if position else None
    rows, after = await services.raw_page(pool, query, start, limit)
    points = [services.raw_point(row, query.metric) for row in rows]
    next_cursor = None
    if after is not None:
        next_cursor = cursors.encode(cursors.Position(q=fingerprint, after=after.after_ms, skip=after.skip))
    return _Answer("raw", points, next_cursor=next_cursor)


async def _rollup(
    pool: asyncpg.Pool,
    query: services.SeriesQuery,
    resolution: str,
    position: cursors.Position | None,
    fingerprint: str,
    limit: int,
) -> _Answer:
    """A page of stored rollup buckets of `resolution` after `position`."""
    rollup = ROLLUPS[resolution]
    rows, more = await services.rollup_page(pool, query, rollup, position.after if position else None, limit)
    points = [services.rollup_point(row, query.metric) for row in rows]
    next_cursor = cursors.encode(cursors.Position(q=fingerprint, after=rows[-1]["t"])) if more else None
    return _Answer(resolution, points, bucket_seconds=rollup.width_ms // 1000, next_cursor=next_cursor)


async def page(
    pool: asyncpg.Pool, query: services.SeriesQuery, resolution: Resolution, max_points: int, cursor: str | None
) -> SeriesPage:
    """One JSON page of `query` at `resolution`; a cursor from another query is refused."""
    fingerprint = cursors.fingerprint(query.participant_id, query.metric.name, resolution)
    position = cursors.decode(cursor, fingerprint) if cursor else None
    if query.end_ms - query.start_ms <= 0:
        answer = _Answer("raw" if resolution == "auto" else resolution, [])
    elif resolution == "auto":
        answer = await _auto(pool, query, max_points)
    elif resolution == "raw":
        answer = await _raw(pool, query, position, fingerprint, max_points)
    else:
        answer = await _rollup(pool, query, resolution, position, fingerprint, max_points)
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
    )
