"""Raw readings as the API pages them: a page of decoded readings after a (time, readings-at-that-time)
position, read in growing time windows, and those readings as JSON points or as columns.

The readings stay numpy columns (`api.series.raw.Decoded`) until the answer's format needs something else:
`format=arrow` builds its columns from them directly, JSON builds one `Point` per reading.
"""

from __future__ import annotations

import datetime as dt

import asyncpg
import msgspec
import numpy as np

from api.params import from_ms
from api.series import raw
from api.series.downsample import reduce_indices
from api.series.levels import raw_interval_ms
from api.series.schemas import Point
from api.series.services import MAX_WINDOW_MS, SeriesQuery
from schemas.metrics import Metric


class RawPosition(msgspec.Struct, frozen=True):
    after_ms: int
    """Time of the last reading returned."""
    skip: int
    """Readings at exactly `after_ms` already returned."""


def _instants(times: np.ndarray) -> list[dt.datetime]:
    """Epoch milliseconds as UTC datetimes (whole seconds, the common case, through the faster constructor)."""
    if np.all(times % 1000 == 0):
        return [dt.datetime.fromtimestamp(s, dt.UTC) for s in (times // 1000).tolist()]
    return [from_ms(t) for t in times.tolist()]


def raw_points(decoded: raw.Decoded, metric: Metric) -> list[Point]:
    """One JSON point per reading; secondary columns as sent (float32 read as its shortest decimal)."""
    instants, values = _instants(decoded.times), decoded.values.tolist()
    if not decoded.extra:
        return [Point(time=t, value=v) for t, v in zip(instants, values, strict=True)]
    names = metric.extra_columns
    extra = np.stack(decoded.extra_float64(), axis=1).tolist()
    return [
        Point(time=t, value=v, extra=dict(zip(names, e, strict=True)) if present else None)
        for t, v, e, present in zip(instants, values, extra, decoded.has_extra.tolist(), strict=True)
    ]


def _leading_at(times: np.ndarray, at_ms: int, skip: int) -> int:
    """How many of the first `skip` readings are at exactly `at_ms` (those were returned by the previous page)."""
    n = 0
    while n < min(skip, len(times)) and times[n] == at_ms:
        n += 1
    return n


async def raw_page(
    pool: asyncpg.Pool, query: SeriesQuery, position: RawPosition | None, limit: int
) -> tuple[raw.Decoded, RawPosition | None]:
    """The next `limit` raw readings from `position` (or start), read in growing time windows; and the position
    after them, None when the range is exhausted. Exact at page boundaries even when readings share a time."""
    low = position.after_ms if position is not None else query.start_ms
    skip = position.skip if position is not None else 0
    window = max(60_000, min(MAX_WINDOW_MS, int(limit * raw_interval_ms(query.metric) * 1.2)))
    width = len(query.metric.extra_columns)
    parts: list[raw.Decoded] = []
    collected = 0
    cursor_ms = low
    async with pool.acquire() as connection:
        while cursor_ms < query.end_ms and collected <= limit:
            high = min(query.end_ms, cursor_ms + window)
            part = await raw.read_window(connection, query.participant_id, query.metric, cursor_ms, high)
            if cursor_ms == low and skip:
                part = part.select(slice(_leading_at(part.times, low, skip), None))
            parts.append(part)
            collected += len(part)
            cursor_ms = high
            if len(part) < limit // 2:
                window = min(MAX_WINDOW_MS, window * 2)
    readings = raw.concatenate(parts, width)
    page = readings.select(slice(0, limit))
    if len(readings) <= limit:
        return page, None
    last = int(page.times[-1])
    at_last = int(np.count_nonzero(page.times == last)) + (skip if last == low else 0)
    return page, RawPosition(last, at_last)


async def raw_reduced(pool: asyncpg.Pool, query: SeriesQuery, max_points: int, cap: int) -> list[Point] | None:
    """Raw readings of the range reduced to ≤ max_points (peaks kept); None when there are more than `cap`."""
    decoded = await raw.read_window(pool, query.participant_id, query.metric, query.start_ms, query.end_ms)
    if len(decoded) > cap:
        return None
    if len(decoded) > max_points:
        decoded = decoded.select(reduce_indices(decoded.times, decoded.values, max_points))
    return raw_points(decoded, query.metric)
