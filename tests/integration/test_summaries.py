"""Daily summaries and sleep nights stored at ingest, on a 2024 cohort that spans the US daylight-saving change:
they equal the SQL definitions computed over the rollups (the queries the API ran before they were stored),
late data corrects a day, and after retention drops every 1-minute rollup the daily, sleep and `auto`
day-zoom answers are unchanged."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.auth.store import create_key
from core.settings import Settings
from producers.simulator import CohortSimulator
from schemas.metrics import METRIC_IDS
from schemas.participants import Participant
from schemas.readings import encode_batch
from stream_processors.db import create_pool
from stream_processors.envelope import Envelope
from stream_processors.retention import apply_retention
from stream_processors.summaries import rebuild
from stream_processors.validate import ValidBatch, validate
from tests import factories
from tests.integration.test_api_series import api_settings

START = dt.date(2024, 11, 1)  # US clocks go back on 3 November 2024
DAYS = 4
PARTICIPANTS = (3, 4, 6, 8)  # Los Angeles, London, Berlin, New York
DATES = [START + dt.timedelta(days=i) for i in range(-1, DAYS + 1)]
NOW_MS = int(dt.datetime.combine(START, dt.time(), tzinfo=dt.UTC).timestamp() * 1000) + 14 * 86_400_000
DST_DAY = dt.date(2024, 11, 3)
# Held back and applied later: New York's early hours of the DST day (before retention), Los Angeles's early
# hours of 2 November (after retention).
LATE = ("P0008", DST_DAY)
AFTER_RETENTION = ("P0003", dt.date(2024, 11, 2))

# The API's definitions before summaries were stored (api/daily/services.py, api/sleep/services.py).
HR, STEPS, AZM = METRIC_IDS["heart_rate"], METRIC_IDS["steps"], METRIC_IDS["active_zone_minutes"]
REFERENCE_DAYS = f"""
WITH days AS (
    SELECT d AS day, d::timestamp AT TIME ZONE $2 AS day_start, (d + 1)::timestamp AT TIME ZONE $2 AS day_end,
           (d + time '07:00') AT TIME ZONE $2 AS rest_end
    FROM (SELECT $3::date + i AS d FROM generate_series(0, $4::date - $3::date - 1) i) x
)
SELECT d.day, coalesce(hr.minutes, 0) AS wear_minutes, coalesce(st.minutes, 0) AS steps_minutes,
       coalesce(az.minutes, 0) AS azm_minutes, st.sum AS steps, az.sum AS active_zone_minutes,
       rest.mean AS resting_hr, coalesce(rest.n, 0) AS resting_hr_minutes
FROM days d
LEFT JOIN rollup_1d hr ON hr.participant_id = $1 AND hr.metric_id = {HR} AND hr.bucket = d.day_start
LEFT JOIN rollup_1d st ON st.participant_id = $1 AND st.metric_id = {STEPS} AND st.bucket = d.day_start
LEFT JOIN rollup_1d az ON az.participant_id = $1 AND az.metric_id = {AZM} AND az.bucket = d.day_start
LEFT JOIN LATERAL (
    SELECT avg(h.sum / h.count) AS mean, count(*)::int AS n
    FROM rollup_1m h
    JOIN rollup_1m s ON s.participant_id = $1 AND s.metric_id = {STEPS} AND s.bucket = h.bucket AND s.sum = 0
    WHERE h.participant_id = $1 AND h.metric_id = {HR} AND h.bucket >= d.day_start AND h.bucket < d.rest_end
) rest ON true
ORDER BY d.day
"""
REFERENCE_NIGHTS = f"""
WITH nights AS (
    SELECT d AS night, (d - 1 + time '12:00') AT TIME ZONE $2 AS w_start, (d + time '12:00') AT TIME ZONE $2 AS w_end
    FROM (SELECT $3::date + i AS d FROM generate_series(0, $4::date - $3::date - 1) i) x
)
SELECT n.night, st.wake, st.light, st.deep, st.rem, st.onset, st.last_epoch,
       sp.mean AS spo2_mean, sp.min AS spo2_min, hrv.mean AS hrv_mean, br.value AS breathing_rate
FROM nights n
LEFT JOIN LATERAL (
    SELECT sum(stage_epochs[1]) AS wake, sum(stage_epochs[2]) AS light, sum(stage_epochs[3]) AS deep,
           sum(stage_epochs[4]) AS rem, min(first_time) AS onset, max(last_time) AS last_epoch
    FROM rollup_1m WHERE participant_id = $1 AND metric_id = {METRIC_IDS["sleep_stage"]}
      AND bucket >= n.w_start AND bucket < n.w_end
) st ON true
LEFT JOIN LATERAL (
    SELECT sum(sum) / sum(count) AS mean, min(min) AS min
    FROM rollup_1m WHERE participant_id = $1 AND metric_id = {METRIC_IDS["spo2"]}
      AND bucket >= n.w_start AND bucket < n.w_end
) sp ON true
LEFT JOIN LATERAL (
    SELECT sum(sum) / sum(count) AS mean
    FROM rollup_1m WHERE participant_id = $1 AND metric_id = {METRIC_IDS["hrv_rmssd"]}
      AND bucket >= n.w_start AND bucket < n.w_end
) hrv ON true
LEFT JOIN LATERAL (
    SELECT r.value FROM raw_readings($1, 'breathing_rate', n.w_start, n.w_end) r
    WHERE r.extra[1] = -1 ORDER BY r.time DESC LIMIT 1
) br ON true
ORDER BY n.night
"""
STORED_DAYS = """
SELECT d AS day, s.wear_minutes, s.steps_minutes, s.azm_minutes, s.steps, s.active_zone_minutes, s.resting_hr,
       s.resting_hr_minutes
FROM (SELECT $3::date + i AS d FROM generate_series(0, $4::date - $3::date - 1) i) x
LEFT JOIN daily_summary s ON s.participant_id = $1 AND s.day = x.d AND s.timezone = $2 ORDER BY d
"""
STORED_NIGHTS = """
SELECT d AS night, s.wake_epochs AS wake, s.light_epochs AS light, s.deep_epochs AS deep, s.rem_epochs AS rem,
       s.onset, s.last_epoch, s.spo2_mean, s.spo2_min, s.hrv_rmssd_mean AS hrv_mean, s.breathing_rate
FROM (SELECT $3::date + i AS d FROM generate_series(0, $4::date - $3::date - 1) i) x
LEFT JOIN sleep_nights s ON s.participant_id = $1 AND s.night = x.d AND s.timezone = $2 ORDER BY d
"""
EMPTY_DAY = {"wear_minutes": 0, "steps_minutes": 0, "azm_minutes": 0, "resting_hr_minutes": 0}


@dataclass
class Study:
    url: str
    records: dict[str, Participant]
    held: dict[tuple[str, dt.date], list[ValidBatch]]
    key: str


def early_hours(record: Participant, batch: ValidBatch, date: dt.date) -> bool:
    """A heart-rate or steps upload of `date` whose readings all lie before 07:00 local."""
    first = dt.datetime.fromtimestamp(int(batch.timestamps.min()) / 1000, ZoneInfo(record.timezone))
    last = dt.datetime.fromtimestamp(int(batch.timestamps.max()) / 1000, ZoneInfo(record.timezone))
    return batch.metric.name in ("heart_rate", "steps") and first.date() == last.date() == date and last.hour < 7


@pytest.fixture(scope="module")
async def study(database: str) -> Study:
    simulator = CohortSimulator(seed=5, start=START)
    records = {f"P{k:04d}": simulator.participant_record(k) for k in PARTICIPANTS}
    assert records["P0008"].timezone == "America/New_York"
    assert records["P0003"].timezone == "America/Los_Angeles"
    batches = sorted(
        (b for k in PARTICIPANTS for d in range(DAYS) for b in simulator.simulate_day(k, d).batches),
        key=lambda b: (b.sync_time, b.participant_id),
    )
    held: dict[tuple[str, dt.date], list[ValidBatch]] = {LATE: [], AFTER_RETENTION: []}
    now: list[ValidBatch] = []
    for i, b in enumerate(batches):
        envelope = Envelope(topic="t", partition=0, offset=i, payload=encode_batch(b))
        valid = validate(envelope, expected_metric=None, now_ms=NOW_MS)
        target = next(
            (key for key in held if key[0] == b.participant_id and early_hours(records[key[0]], valid, key[1])), None
        )
        (held[target] if target else now).append(valid)
    assert all(held.values())
    pool = await create_pool(database, size=2)
    try:
        sink = factories.sink(pool)
        await sink.upsert_participants(list(records.values()))
        for i in range(0, len(now), 300):
            await sink.apply(now[i : i + 300])
        key = (await create_key(pool, "researcher", None)).token
    finally:
        await pool.close()
    return Study(database, records, held, key)


@pytest.fixture(scope="module")
async def client(study: Study, settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(create_app(api_settings(settings, study.url))) as test_client:
        test_client.headers["Authorization"] = f"Bearer {study.key}"
        yield test_client


async def apply(study: Study, batches: list[ValidBatch]) -> None:
    pool = await create_pool(study.url, size=1)
    try:
        applied = await factories.sink(pool).apply(batches)
        assert applied.batches == len(batches)
    finally:
        await pool.close()


async def fetch(study: Study, sql: str, participant: str) -> list[dict[str, Any]]:
    connection = await asyncpg.connect(study.url)
    try:
        rows = await connection.fetch(
            sql, participant, study.records[participant].timezone, DATES[0], DATES[-1] + dt.timedelta(1)
        )
    finally:
        await connection.close()
    return [dict(row) for row in rows]


def same(stored: list[dict[str, Any]], reference: list[dict[str, Any]], empty: dict[str, Any]) -> None:
    """Stored rows equal the reference's; a date without a stored row has nothing in the reference."""
    assert [r.get("day", r.get("night")) for r in stored] == [r.get("day", r.get("night")) for r in reference]
    for got, expected in zip(stored, reference, strict=True):
        for name, value in expected.items():
            if got[name] is None and name in empty:
                assert value == empty[name], (expected, name)
            elif isinstance(value, float):
                assert got[name] == pytest.approx(value, rel=1e-12), (expected, name)
            else:
                assert got[name] == value, (expected, name)


async def assert_summaries_equal_the_definitions(study: Study) -> None:
    for participant in study.records:
        same(await fetch(study, STORED_DAYS, participant), await fetch(study, REFERENCE_DAYS, participant), EMPTY_DAY)
        same(await fetch(study, STORED_NIGHTS, participant), await fetch(study, REFERENCE_NIGHTS, participant), {})


async def answers(client: AsyncTestClient[Any], study: Study) -> dict[str, Any]:
    """Daily, sleep and `auto` heart rate per local day, of every participant."""
    found: dict[str, Any] = {}
    span = {"start": str(DATES[0]), "end": str(DATES[-1] + dt.timedelta(1))}
    for participant in study.records:
        for kind in ("daily", "sleep"):
            response = await client.get(f"/v1/participants/{participant}/{kind}", params=span)
            assert response.status_code == 200, response.text
            found[f"{participant} {kind}"] = response.json()
        for date in DATES[1:-1]:
            response = await client.get(
                f"/v1/participants/{participant}/series/heart_rate",
                params={"start": str(date), "end": str(date + dt.timedelta(1))},
            )
            assert response.status_code == 200, response.text
            found[f"{participant} auto {date}"] = response.json()
    return found


async def test_summaries_follow_late_data_and_survive_retention(study: Study, client: AsyncTestClient[Any]) -> None:
    await assert_summaries_equal_the_definitions(study)
    daily = await client.get("/v1/participants/P0008/daily", params={"start": str(DST_DAY), "end": str(DATES[-1])})
    dst = daily.json()["days"][0]
    assert dst["day_minutes"] == 1500
    before_late = (dst["wear_minutes"], dst["resting_hr_minutes"])

    # Late uploads of the DST day's early hours: the day is recomputed, equal to the definitions again.
    await apply(study, study.held[LATE])
    await assert_summaries_equal_the_definitions(study)
    daily = await client.get("/v1/participants/P0008/daily", params={"start": str(DST_DAY), "end": str(DATES[-1])})
    dst = daily.json()["days"][0]
    assert dst["wear_minutes"] > before_late[0]
    assert dst["resting_hr_minutes"] > before_late[1]

    before = await answers(client, study)
    assert before["P0008 auto 2024-11-03"]["resolution"] == "1m"
    assert before["P0008 auto 2024-11-03"]["points"]
    assert any(n["has_sleep"] for n in before["P0008 sleep"]["nights"])
    assert any(d["resting_hr"] is not None for d in before["P0003 daily"]["days"])

    # Data from 2024 is older than the default 180 days: every 1-minute rollup goes.
    connection = await asyncpg.connect(study.url)
    try:
        dropped = await apply_retention(connection, {"rollup_1m": 180, "raw_segments": 0, "daily_summary": 0})
        assert dropped["rollup_1m"] > 0
        assert await connection.fetchval("SELECT count(*) FROM rollup_1m") == 0
    finally:
        await connection.close()
    after = await answers(client, study)
    assert after.keys() == before.keys()
    for name, answer in before.items():
        assert after[name] == answer, name

    # Late data after the drop: wear and totals follow the day rollups; the resting HR computed from the
    # dropped minutes is kept (not replaced by the mean of the late minutes alone).
    participant, date = AFTER_RETENTION
    kept = next(d for d in before["P0003 daily"]["days"] if d["date"] == str(date))
    await apply(study, study.held[AFTER_RETENTION])
    day = next(
        d
        for d in (
            await client.get(
                "/v1/participants/P0003/daily", params={"start": str(date), "end": str(date + dt.timedelta(1))}
            )
        ).json()["days"]
        if d["date"] == str(date)
    )
    reference = next(r for r in await fetch(study, REFERENCE_DAYS, participant) if r["day"] == date)
    assert day["wear_minutes"] == reference["wear_minutes"] > kept["wear_minutes"]
    assert (day["resting_hr"], day["resting_hr_minutes"]) == (kept["resting_hr"], kept["resting_hr_minutes"])


async def test_rebuild_recomputes_what_ingest_stored(study: Study) -> None:
    connection = await asyncpg.connect(study.url)
    try:
        await connection.execute("TRUNCATE daily_summary, sleep_nights, retention_drops")
        days, nights = await rebuild(connection)
        assert days >= len(study.records) * DAYS
        assert nights >= len(study.records) * DAYS
        assert await connection.fetchval("SELECT count(*) FROM daily_summary WHERE wear_minutes > 0") >= 12
    finally:
        await connection.close()
    await assert_summaries_equal_the_definitions(study)
