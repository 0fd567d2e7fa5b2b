"""The API's raw readings decoded from the segments in numpy equal `raw_readings()` in SQL, bit for bit.

Stored through the sink and then compacted: integer, scaled and float64 segments, extra columns present and
NaN, readings at the edges of hours and days; read back over windows that cut segments anywhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import asyncpg
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pytest

from api.series import arrow, plans
from api.series.raw import read_window
from api.series.services import SeriesQuery, extra_values, raw_window
from schemas.metrics import METRICS
from stream_processors.compaction import compact
from stream_processors.db import create_pool
from stream_processors.validate import ValidBatch
from tests import factories

T0 = int(dt.datetime(2026, 5, 3, 22, 30, tzinfo=dt.UTC).timestamp() * 1000)
HOUR = 3_600_000


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database, size=2)
    yield pool
    await pool.close()


def _batches(rng: np.random.Generator) -> list[ValidBatch]:
    now = T0 + 30 * 86_400_000
    found = []
    hr_ts = T0 + np.cumsum(rng.choice([1000, 5000], 9000)).astype(np.int64)
    for k, (lo, hi) in enumerate(((0, 3000), (3000, 6000), (6000, 9000))):
        values = rng.integers(40, 180, hi - lo).astype(np.float64)
        if k == 1:
            values = values + rng.choice([0.0, 0.25, 0.65], hi - lo)  # scale 100
        if k == 2:
            values = values + rng.random(hi - lo)  # only float64 is exact
        found.append(factories.reading_batch("P1", "heart_rate", hr_ts[lo:hi], values))
    hrv_ts = T0 + 300_000 * np.arange(40, dtype=np.int64) + np.arange(40) % 3  # some off the whole second
    for lo, hi in ((0, 20), (20, 40)):
        extra: dict[str, npt.ArrayLike] = {
            "coverage": rng.random(hi - lo),
            "lf": np.where(rng.random(hi - lo) < 0.2, np.nan, rng.random(hi - lo) * 900),
            "hf": rng.random(hi - lo) * 700,
        }
        values = rng.random(hi - lo) * 80 + 5
        found.append(factories.reading_batch("P1", "hrv_rmssd", hrv_ts[lo:hi], values, extra=extra))
    return [factories.valid_batch(b, now_ms=now) for b in found]


Row = tuple[int, str, list[str] | None]


def _exact(t: int, value: float, extra: list[float] | None) -> Row:
    """A reading with its floats as their shortest round-tripping text (exact, and NaN equals NaN)."""
    return t, repr(value), None if extra is None else [repr(x) for x in extra]


async def _sql(pool: asyncpg.Pool, metric: str, low: int, high: int) -> list[Row]:
    rows = await pool.fetch(
        "SELECT ts_to_ms(time) AS t, value, extra FROM raw_readings('P1', $1, ms_to_ts($2), ms_to_ts($3))"
        " ORDER BY time, value",
        metric,
        low,
        high,
    )
    return [_exact(r["t"], r["value"], extra_values(r["extra"])) for r in rows]


async def test_numpy_decoding_equals_raw_readings_in_sql(pool: asyncpg.Pool) -> None:
    rng = np.random.default_rng(11)
    sink = factories.sink(pool)
    await sink.upsert_participants(factories.cohort(["P1"]))
    await sink.apply(_batches(rng))
    for stage in ("as stored", "compacted"):
        if stage == "compacted":
            while (await compact(pool, settle_s=0)).periods:
                pass
        for metric in ("heart_rate", "hrv_rmssd"):
            query = SeriesQuery(
                participant_id="P1",
                metric=METRICS[metric],
                start=dt.datetime.fromtimestamp(T0 / 1000, dt.UTC),
                end=dt.datetime.fromtimestamp((T0 + 26 * HOUR) / 1000, dt.UTC),
            )
            windows = [(T0 - HOUR, T0 + 26 * HOUR), (T0 + 1_800_000, T0 + 1_800_001)]
            windows += [tuple(sorted(rng.integers(T0 - 60_000, T0 + 14 * HOUR, 2).tolist())) for _ in range(12)]
            for low, high in windows:
                expected = await _sql(pool, metric, low, high)
                got = [
                    _exact(r["t"], r["value"], extra_values(r["extra"]))
                    for r in await raw_window(pool, query, low, high)
                ]
                assert got == expected, (stage, metric, low, high)
                decoded = await read_window(pool, "P1", METRICS[metric], low, high)
                bits = np.asarray([float(v) for _, v, _ in expected], dtype=np.float64).view(np.int64)
                assert decoded.values.view(np.int64).tolist() == bits.tolist()
            assert len(await _sql(pool, metric, T0 - HOUR, T0 + 26 * HOUR)) == (9000 if metric == "heart_rate" else 40)
            await _pages_equal_sql(pool, query)


async def _pages_equal_sql(pool: asyncpg.Pool, query: SeriesQuery) -> None:
    """Paged at several sizes, the JSON points and the Arrow columns built from the decoded readings both give
    `raw_readings()`'s rows, and the Arrow stream equals the one built from the points."""
    expected = await _sql(pool, query.metric.name, query.start_ms, query.end_ms)
    for limit in (7, 1000, 100_000):
        cursor, points, columns = None, [], []
        while True:
            page = await plans.page(pool, query, "raw", limit, cursor)
            facts, readings = await plans.raw_columns(pool, query, limit, cursor)
            assert facts.next_cursor == page.next_cursor
            assert len(readings) == len(page.points) <= limit
            stream = arrow.encode_raw(facts, readings, query.metric)
            assert stream == arrow.encode(page, query.metric)
            points.extend(page.points)
            columns.extend(pa.ipc.open_stream(stream).read_all().to_pylist())
            cursor = page.next_cursor
            if cursor is None:
                break
        names = query.metric.extra_columns

        def row(t: dt.datetime, value: float | None, extra: list[float] | None) -> Row:
            return _exact(round(t.timestamp() * 1000), value or 0.0, extra)

        from_points = [row(p.time, p.value, [p.extra[n] for n in names] if p.extra else None) for p in points]
        from_columns = [
            row(c["time"], c["value"], [c[n] for n in names] if names and c[names[0]] is not None else None)
            for c in columns
        ]
        assert from_points == from_columns == expected, limit
