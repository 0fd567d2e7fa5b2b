"""Latest upload wins, by content: stored readings and every rollup equal a recomputation over the winners."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import AsyncIterator

import asyncpg
import msgspec
import numpy as np
import numpy.typing as npt
import pytest

from schemas.participants import Participant
from stream_processors.compaction import compact
from stream_processors.db import create_pool
from stream_processors.validate import ValidBatch
from tests import factories
from tests.factories import span

T0 = int(dt.datetime(2026, 3, 7, 22, tzinfo=dt.UTC).timestamp() * 1000)
MIN = 60_000
HOUR = 3_600_000


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database, size=2)
    yield pool
    await pool.close()


def valid(participant: str, metric: str, ts: npt.ArrayLike, values: npt.ArrayLike, sync: int) -> ValidBatch:
    batch = factories.reading_batch(participant, metric, ts, values, sync_time=sync)
    return factories.valid_batch(batch, now_ms=T0 + 10 * 86_400_000)


class Truth:
    """The expected store: per timestamp the reading of the greatest (sync time, batch id)."""

    def __init__(self) -> None:
        self.readings: dict[int, tuple[tuple[int, str], float]] = {}

    def add(self, b: ValidBatch) -> None:
        rank = (b.batch.sync_time, b.batch.batch_id)
        for t, v in zip(b.timestamps.tolist(), b.values.tolist(), strict=True):
            if t not in self.readings or self.readings[t][0] < rank:
                self.readings[t] = (rank, v)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        ts = np.array(sorted(self.readings), dtype=np.int64)
        return ts, np.array([self.readings[t][1] for t in ts.tolist()])


async def assert_store_is_recomputation(
    pool: asyncpg.Pool, participant: str, metric: str, truth: Truth, timezone: str
) -> None:
    ts, values = truth.arrays()
    rows = await pool.fetch(
        "SELECT ts_to_ms(time) AS t, value FROM raw_readings($1, $2, ms_to_ts($3), ms_to_ts($4))",
        participant,
        metric,
        int(ts[0]) - 3 * 86_400_000,
        int(ts[-1]) + 3 * 86_400_000,
    )
    assert [r["t"] for r in rows] == ts.tolist()
    assert [r["value"] for r in rows] == values.tolist()
    zone = zoneinfo.ZoneInfo(timezone)

    def local_midnight(t: int) -> int:
        day = dt.datetime.fromtimestamp(t / 1000, tz=zone).date()
        return int(dt.datetime.combine(day, dt.time(), tzinfo=zone).timestamp() * 1000)

    minute = ts // MIN * MIN
    bucketings = {
        "rollup_1m": minute,
        "rollup_1h": ts // HOUR * HOUR,
        "rollup_1d": np.array([local_midnight(t) for t in ts.tolist()], dtype=np.int64),
    }
    for table, buckets in bucketings.items():
        stored = await pool.fetch(
            f"SELECT ts_to_ms(bucket) AS b, count, sum, min, max, minutes, ts_to_ms(first_time) AS f,"
            f" ts_to_ms(last_time) AS l FROM {table} r JOIN metrics m USING (metric_id)"
            " WHERE participant_id = $1 AND m.name = $2 ORDER BY bucket",
            participant,
            metric,
        )
        assert [r["b"] for r in stored] == sorted(set(buckets.tolist())), table
        for r in stored:
            mask = buckets == r["b"]
            assert (r["count"], r["min"], r["max"]) == (mask.sum(), values[mask].min(), values[mask].max()), table
            assert r["sum"] == pytest.approx(values[mask].sum(), rel=1e-12), table
            assert (r["f"], r["l"]) == (ts[mask][0], ts[mask][-1]), table
            assert r["minutes"] == len(set(minute[mask].tolist())), table
    state = await pool.fetchval(
        "SELECT readings FROM participant_metric_state s JOIN metrics m USING (metric_id)"
        " WHERE participant_id = $1 AND m.name = $2",
        participant,
        metric,
    )
    assert state == len(ts)


async def test_later_uploads_win_whatever_the_arrival_order(pool: asyncpg.Pool) -> None:
    sink = factories.sink(pool)
    await sink.upsert_participants(factories.cohort(["W1"], timezone="America/New_York"))
    truth = Truth()

    def seconds(from_min: int, to_min: int) -> npt.NDArray[np.int64]:
        return span(T0 + from_min * MIN, T0 + to_min * MIN, step_ms=5000)

    a = valid("W1", "heart_rate", seconds(0, 120), np.full(1440, 60), sync=T0 + 121 * MIN)
    b = valid("W1", "heart_rate", seconds(60, 180), np.full(1440, 70), sync=T0 + 181 * MIN)
    # An older upload, delivered last: it loses where the others have readings and fills the rest.
    c = valid("W1", "heart_rate", np.r_[seconds(30, 90), seconds(-60, -30)], np.full(1080, 80), sync=T0 + 100 * MIN)
    for batch in (a, b, c):
        applied = await sink.apply([batch])
        assert applied.batches == 1
        truth.add(batch)
    await assert_store_is_recomputation(pool, "W1", "heart_rate", truth, "America/New_York")

    # Two overlapping uploads in one group, and a redelivery of everything: still the same recomputation.
    d = valid("W1", "heart_rate", seconds(170, 200), np.full(360, 90), sync=T0 + 300 * MIN)
    e = valid("W1", "heart_rate", seconds(150, 175), np.full(300, 95), sync=T0 + 301 * MIN)
    applied = await sink.apply([d, e, a, b, c])
    assert (applied.batches, applied.duplicates) == (2, 3)
    assert applied.superseded > 0
    truth.add(d)
    truth.add(e)
    await assert_store_is_recomputation(pool, "W1", "heart_rate", truth, "America/New_York")

    # After compaction a correction still wins, and a fully superseded upload is recognised when redelivered.
    await compact(pool, settle_s=0, now_ms=T0 + 20 * HOUR)
    f = valid("W1", "heart_rate", seconds(0, 240), np.full(2880, 100), sync=T0 + 400 * MIN)
    await sink.apply([f])
    truth.add(f)
    await assert_store_is_recomputation(pool, "W1", "heart_rate", truth, "America/New_York")
    again = await sink.apply([a, b, c, d, e, f])
    assert (again.batches, again.duplicates) == (0, 6)
    await assert_store_is_recomputation(pool, "W1", "heart_rate", truth, "America/New_York")


async def test_a_corrected_day_of_steps_replaces_the_local_days_rollups(pool: asyncpg.Pool) -> None:
    sink = factories.sink(pool)
    await sink.upsert_participants(factories.cohort(["W2"], timezone="Asia/Kolkata"))
    truth = Truth()
    minutes = np.arange(T0 - 30 * HOUR, T0 + 20 * HOUR, MIN)
    rng = np.random.default_rng(3)
    first = valid("W2", "steps", minutes, rng.integers(0, 100, len(minutes)), sync=T0 + 21 * HOUR)
    corrected = minutes[(minutes >= T0 - 5 * HOUR) & (minutes < T0 + 5 * HOUR)]
    second = valid("W2", "steps", corrected, rng.integers(0, 100, len(corrected)), sync=T0 + 22 * HOUR)
    for batch in (first, second):
        await sink.apply([batch])
        truth.add(batch)
    await assert_store_is_recomputation(pool, "W2", "steps", truth, "Asia/Kolkata")


async def test_a_zone_changed_on_the_participants_topic_moves_the_day_rollups(pool: asyncpg.Pool) -> None:
    sink = factories.sink(pool)
    record = Participant(participant_id="W3", enrolled_on=dt.date(2026, 3, 1), timezone="UTC", updated_at=1)
    await sink.upsert_participants([record])
    truth = Truth()
    ts = np.arange(T0 - 10 * HOUR, T0 + 10 * HOUR, MIN)
    batch = valid("W3", "steps", ts, np.arange(len(ts)) % 40, sync=int(ts[-1]))
    await sink.apply([batch])
    truth.add(batch)
    await assert_store_is_recomputation(pool, "W3", "steps", truth, "UTC")
    moved = msgspec.structs.replace(record, timezone="America/Los_Angeles", updated_at=2)
    await sink.upsert_participants([moved])
    await assert_store_is_recomputation(pool, "W3", "steps", truth, "America/Los_Angeles")
    # An older record (by updated_at) changes nothing.
    await sink.upsert_participants([record])
    await assert_store_is_recomputation(pool, "W3", "steps", truth, "America/Los_Angeles")
