"""The sink against the real TimescaleDB: raw round trip, exact rollups, idempotence, gaps."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import asyncpg
import numpy as np
import numpy.typing as npt
import pytest

from stream_processors.db import create_pool
from stream_processors.validate import ValidBatch
from tests import factories
from tests.factories import span

T0 = int(dt.datetime(2026, 3, 2, tzinfo=dt.UTC).timestamp() * 1000)
MIN = 60_000


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database, size=2)
    await pool.execute(
        "TRUNCATE raw_segments, rollup_1m, rollup_1h, rollup_1d, uploads, participant_metric_state, gaps,"
        " participants CASCADE"
    )
    yield pool
    await pool.close()


def valid(
    participant: str, metric: str, ts: npt.ArrayLike, values: npt.ArrayLike, sync: int, **extra: npt.ArrayLike
) -> ValidBatch:
    batch = factories.reading_batch(participant, metric, ts, values, sync_time=sync, extra=extra or None)
    return factories.valid_batch(batch, now_ms=T0 + 10 * 86_400_000)


async def test_raw_round_trip_and_rollups_match_numpy(pool: asyncpg.Pool) -> None:
    rng = np.random.default_rng(7)
    ts = np.sort(rng.choice(np.arange(T0, T0 + 3 * 3_600_000, 1000), size=6000, replace=False))
    values = rng.integers(40, 180, size=len(ts))
    sink = factories.sink(pool)
    # Three uploads that split minutes and hours between them, applied out of order.
    parts = np.array_split(np.arange(len(ts)), 3)
    batches = [valid("P0001", "heart_rate", ts[p], values[p], sync=int(ts[p][-1]) + 5000) for p in parts]
    for b in (batches[2], batches[0], batches[1]):
        applied = await sink.apply([b])
        assert applied.batches == 1

    rows = await pool.fetch(
        "SELECT ts_to_ms(time) AS t, value FROM raw_readings('P0001', 'heart_rate', ms_to_ts($1), ms_to_ts($2))",
        T0,
        T0 + 3 * 3_600_000,
    )
    assert [r["t"] for r in rows] == ts.tolist()
    assert [r["value"] for r in rows] == values.astype(float).tolist()

    for table, width in (("rollup_1m", MIN), ("rollup_1h", 3_600_000)):
        stored = await pool.fetch(
            f"SELECT ts_to_ms(bucket) AS b, count, sum, min, max, minutes FROM {table}"
            " WHERE participant_id = 'P0001' ORDER BY bucket"
        )
        buckets = ts // width * width
        expected = sorted(set(buckets.tolist()))
        assert [r["b"] for r in stored] == expected
        for r in stored:
            mask = buckets == r["b"]
            assert r["count"] == mask.sum()
            assert r["sum"] == pytest.approx(values[mask].sum(), abs=1e-6)
            assert r["min"] == values[mask].min()
            assert r["max"] == values[mask].max()
            assert r["minutes"] == len(set((ts[mask] // MIN).tolist()))

    # Redelivery changes nothing.
    before = await pool.fetch("SELECT * FROM rollup_1h ORDER BY bucket")
    again = await sink.apply(batches)
    assert again.batches == 0
    assert again.duplicates == 3
    assert await pool.fetch("SELECT * FROM rollup_1h ORDER BY bucket") == before


async def test_not_worn_gaps_follow_late_data(pool: asyncpg.Pool) -> None:
    sink = factories.sink(pool)

    def hr(from_min: int, to_min: int) -> npt.NDArray[np.int64]:
        return span(T0 + from_min * MIN, T0 + to_min * MIN, step_ms=5000)

    # Worn 0–60 min, off 60–100, worn 100–130, off 130–135 (below threshold), worn 135–200.
    first = valid("P0002", "heart_rate", hr(0, 60), np.full(720, 70), sync=T0 + 61 * MIN)
    await sink.apply([first])
    # Steps cover up to 120 min while HR is missing: an open not-worn gap after the last HR.
    steps = np.arange(T0, T0 + 120 * MIN, MIN)
    events = (await sink.apply([valid("P0002", "steps", steps, np.zeros(len(steps)), sync=T0 + 121 * MIN)])).gap_events
    assert [(e.kind, e.state, e.start_ms, e.end_ms) for e in events] == [
        ("not_worn", "opened", int(hr(0, 60)[-1]), None)
    ]
    late = valid("P0002", "heart_rate", np.r_[hr(100, 130), hr(135, 200)], np.full(360 + 780, 72), sync=T0 + 201 * MIN)
    events = (await sink.apply([late])).gap_events
    assert ("not_worn", "closed", int(hr(0, 60)[-1]), int(T0 + 100 * MIN)) in [
        (e.kind, e.state, e.start_ms, e.end_ms) for e in events
    ]
    gaps = await pool.fetch(
        "SELECT kind, ts_to_ms(start_time) AS s, ts_to_ms(end_time) AS e FROM gaps WHERE participant_id = 'P0002'"
    )
    assert [(g["kind"], g["s"], g["e"]) for g in gaps] == [("not_worn", int(hr(0, 60)[-1]), T0 + 100 * MIN)]
    # Late data filling the hole removes the gap.
    fill = valid("P0002", "heart_rate", hr(60, 100), np.full(480, 75), sync=T0 + 300 * MIN)
    events = (await sink.apply([fill])).gap_events
    assert [(e.state, e.start_ms) for e in events] == [("removed", int(hr(0, 60)[-1]))]
    assert await pool.fetchval("SELECT count(*) FROM gaps WHERE participant_id = 'P0002'") == 0


async def test_not_synced_opens_on_the_clock_and_closes_on_upload(pool: asyncpg.Pool) -> None:
    sink = factories.sink(pool)
    await sink.upsert_participants(factories.cohort(["P0003"], timezone="America/New_York"))
    steps = np.arange(T0, T0 + 60 * MIN, MIN)
    await sink.apply([valid("P0003", "steps", steps, np.ones(60), sync=T0 + 61 * MIN)])
    assert await sink.check_not_synced(T0 + 61 * MIN + 5 * 3_600_000) == []
    opened = await sink.check_not_synced(T0 + 61 * MIN + 7 * 3_600_000)
    assert [(e.kind, e.state, e.start_ms) for e in opened] == [("not_synced", "opened", T0 + 61 * MIN)]
    assert await sink.check_not_synced(T0 + 61 * MIN + 8 * 3_600_000) == []  # already open
    later = np.arange(T0 + 60 * MIN, T0 + 600 * MIN, MIN)
    events = (await sink.apply([valid("P0003", "steps", later, np.ones(len(later)), sync=T0 + 601 * MIN)])).gap_events
    assert ("not_synced", "closed", T0 + 61 * MIN, T0 + 601 * MIN) in [
        (e.kind, e.state, e.start_ms, e.end_ms) for e in events
    ]
    # The day rollup uses the participant's local day (New York).
    day = await pool.fetchval("SELECT bucket FROM rollup_1d WHERE participant_id = 'P0003' ORDER BY bucket LIMIT 1")
    assert day == dt.datetime(2026, 3, 1, 5, tzinfo=dt.UTC)


async def test_compaction_keeps_every_reading_and_still_recognises_redelivered_batches(pool: asyncpg.Pool) -> None:
    from stream_processors.compaction import compact

    sink = factories.sink(pool)
    ts = np.arange(T0, T0 + 2 * 3_600_000, 5000)
    values = 60 + (np.arange(len(ts)) % 50)
    parts = np.array_split(np.arange(len(ts)), 8)
    batches = [valid("P0004", "heart_rate", ts[p], values[p], sync=int(ts[p][-1]) + 1000) for p in parts]
    await sink.apply(batches[:6])
    before = await pool.fetch("SELECT * FROM rollup_1m WHERE participant_id = 'P0004' ORDER BY bucket")
    segments_before = await pool.fetchval("SELECT count(*) FROM raw_segments WHERE participant_id = 'P0004'")

    report = await compact(pool, settle_s=0, now_ms=T0 + 10 * 3_600_000)
    assert report.periods == 2  # two clock hours
    assert await pool.fetchval("SELECT count(*) FROM raw_segments WHERE participant_id = 'P0004'") == 2
    assert segments_before > 2
    # Redelivering compacted batches changes nothing; the two not yet applied are stored.
    applied = await sink.apply(batches)
    assert applied.batches == 2
    assert applied.duplicates == 6
    rows = await pool.fetch(
        "SELECT ts_to_ms(time) AS t, value FROM raw_readings('P0004', 'heart_rate', ms_to_ts($1), ms_to_ts($2))",
        T0,
        T0 + 3 * 3_600_000,
    )
    assert [r["t"] for r in rows] == ts.tolist()
    assert [r["value"] for r in rows] == values.astype(float).tolist()
    after = await pool.fetch("SELECT * FROM rollup_1m WHERE participant_id = 'P0004' ORDER BY bucket")
    assert after[: len(before)] == before or len(after) > len(before)
    assert sum(r["count"] for r in after) == len(ts)
    # The late batches are merged into the compacted hour on the next run.
    again = await compact(pool, settle_s=0, now_ms=T0 + 10 * 3_600_000)
    assert again.periods == 1
    assert await pool.fetchval("SELECT count(*) FROM raw_segments WHERE participant_id = 'P0004'") == 2
    assert await pool.fetchval("SELECT sum(n) FROM raw_segments WHERE participant_id = 'P0004'") == len(ts)


async def test_retention_drops_only_chunks_past_each_tables_period(pool: asyncpg.Pool) -> None:
    from stream_processors.retention import apply_retention

    sink = factories.sink(pool)
    ts = np.arange(T0, T0 + 3_600_000, 5000)
    await sink.apply([valid("P0005", "heart_rate", ts, np.full(len(ts), 66), sync=int(ts[-1]))])
    later = dt.datetime.fromtimestamp(T0 / 1000, tz=dt.UTC) + dt.timedelta(days=60)
    async with pool.acquire() as connection:
        dropped = await apply_retention(connection, {"rollup_1m": 30, "raw_segments": 0}, now=later)
        with pytest.raises(ValueError, match="no retention"):
            await apply_retention(connection, {"participants": 1})
    assert dropped == {"rollup_1m": 1}
    assert await pool.fetchval("SELECT count(*) FROM rollup_1m WHERE participant_id = 'P0005'") == 0
    assert await pool.fetchval("SELECT sum(n) FROM raw_segments WHERE participant_id = 'P0005'") == len(ts)
    assert await pool.fetchval("SELECT count(*) FROM rollup_1h WHERE participant_id = 'P0005'") == 1
