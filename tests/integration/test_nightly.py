"""The nightly step against the real database: alerts from stored minute rollups, revised by late data."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import asyncpg
import numpy as np
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.auth.store import create_key
from core.settings import Settings
from schemas.participants import Participant
from stream_processors.db import create_pool
from stream_processors.detectors import CusumDetector
from stream_processors.nightly import HR_ID, STEPS_ID, complete_through, update_nights
from stream_processors.resting_hr import night_inputs
from tests import factories
from tests.integration.test_api_series import api_settings

D0 = dt.date(2026, 2, 1)
PID = "P-night"
ZONE = "Europe/Berlin"
LATE = "P-late-minutes"


@pytest.fixture
async def connection(database: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database)
    try:
        yield conn
    finally:
        await conn.close()


async def _store_night(
    connection: asyncpg.Connection, n: int, level_bpm: float, seed: int, participant_id: str = PID
) -> None:
    """Night n (morning D0 + n): 00:00–06:59 local, one HR minute each, still (steps 0)."""
    midnight = dt.datetime.combine(D0 + dt.timedelta(days=n), dt.time(0), tzinfo=dt.timezone(dt.timedelta(hours=1)))
    start_ms = int(midnight.timestamp() * 1000)
    minutes = start_ms + 60_000 * np.arange(420, dtype=np.int64)
    hr = level_bpm + np.random.default_rng(seed).normal(0.0, 1.5, size=420)
    rows = [
        (participant_id, metric, t, 1, value, value, value)
        for t, bpm in zip(minutes.tolist(), hr.tolist(), strict=True)
        for metric, value in ((HR_ID, bpm), (STEPS_ID, 0.0))
    ]
    await connection.executemany(
        "INSERT INTO rollup_1m (participant_id, metric_id, bucket, count, sum, min, max, first_time, last_time)"
        " VALUES ($1, $2, ms_to_ts($3), $4, $5, $6, $7, ms_to_ts($3), ms_to_ts($3))"
        " ON CONFLICT (participant_id, metric_id, bucket) DO UPDATE SET sum = EXCLUDED.sum, min = EXCLUDED.min,"
        " max = EXCLUDED.max",
        rows,
    )


async def test_episode_raises_an_alert_and_late_data_withdraws_it(connection: asyncpg.Connection) -> None:
    for n in range(40):
        await _store_night(connection, n, 68.0 if n in (30, 31, 32) else 58.0, seed=n)
    async with connection.transaction():
        changes = await update_nights(connection, PID, ZONE, D0, D0 + dt.timedelta(days=39))
    raised = [c for c in changes if c.detector == "nightsignal"]
    assert [(c.night, c.level, c.state) for c in raised] == [
        (D0 + dt.timedelta(days=31), "red", "raised"),
        (D0 + dt.timedelta(days=32), "red", "raised"),
    ]
    assert await connection.fetchval("SELECT count(*) FROM nightly_values WHERE participant_id = $1", PID) == 40
    row = await connection.fetchrow(
        "SELECT level, state, value, baseline FROM alerts WHERE participant_id = $1 AND detector = 'nightsignal'"
        " AND night = $2",
        PID,
        D0 + dt.timedelta(days=31),
    )
    assert (row["level"], row["state"]) == ("red", "raised")
    assert row["value"] > row["baseline"] + 4

    # Running again changes nothing.
    async with connection.transaction():
        assert [
            c
            for c in await update_nights(connection, PID, ZONE, D0, D0 + dt.timedelta(days=39))
            if c.detector == "nightsignal"
        ] == []

    # A corrected upload for night 31 arrives late: its value is ordinary, so nights 31 and 32 no longer alert.
    await _store_night(connection, 31, 58.0, seed=99)
    async with connection.transaction():
        late = await update_nights(connection, PID, ZONE, D0 + dt.timedelta(days=31), D0 + dt.timedelta(days=31))
    assert [(c.night, c.state) for c in late if c.detector == "nightsignal"] == [
        (D0 + dt.timedelta(days=31), "withdrawn"),
        (D0 + dt.timedelta(days=32), "withdrawn"),
    ]
    history = await connection.fetch(
        "SELECT state FROM alert_changes WHERE participant_id = $1 AND detector = 'nightsignal' AND night = $2"
        " ORDER BY changed_at",
        PID,
        D0 + dt.timedelta(days=31),
    )
    assert [r["state"] for r in history] == ["raised", "withdrawn"]
    outcomes = await connection.fetchval(
        "SELECT count(*) FROM night_outcomes WHERE participant_id = $1 AND detector = 'nightsignal'", PID
    )
    assert outcomes == 40


def test_a_night_is_complete_after_seven_local() -> None:
    six = int(dt.datetime(2026, 2, 10, 6, 59, tzinfo=dt.timezone(dt.timedelta(hours=1))).timestamp() * 1000)
    assert complete_through(six, ZONE) == dt.date(2026, 2, 9)
    assert complete_through(six + 60_000, ZONE) == dt.date(2026, 2, 10)


async def test_alerts_and_nights_on_the_rest_api(
    connection: asyncpg.Connection, database: str, settings: Settings
) -> None:
    for participant_id in ("P-api1", "P-api2"):
        for n in range(35):
            await _store_night(connection, n, 69.0 if n in (30, 31) else 57.0, seed=n, participant_id=participant_id)
        async with connection.transaction():
            await update_nights(connection, participant_id, ZONE, D0, D0 + dt.timedelta(days=34))
    pool = await create_pool(database, size=1)
    try:
        await factories.sink(pool, not_synced_after_s=3600).upsert_participants(
            [Participant(participant_id=p, enrolled_on=D0, timezone=ZONE) for p in ("P-api1", "P-api2")]
        )
        researcher = (await create_key(pool, "researcher", None)).token
        own = (await create_key(pool, "participant", "P-api1")).token
    finally:
        await pool.close()
    async with AsyncTestClient(create_app(api_settings(settings, database))) as client:
        client.headers["Authorization"] = f"Bearer {researcher}"
        page = (await client.get("/v1/participants/P-api1/alerts", params={"detector": "nightsignal"})).json()
        assert [(a["night"], a["level"], a["state"]) for a in page["items"]] == [
            (str(D0 + dt.timedelta(days=31)), "red", "raised")
        ]
        assert set(page["items"][0]) == {
            "participant_id",
            "detector",
            "level",
            "night",
            "value",
            "baseline",
            "state",
            "created_at",
            "updated_at",
        }
        assert page["next_cursor"] is None
        # The cohort view pages by (night, participant, detector) with a cursor.
        first = (await client.get("/v1/alerts", params={"detector": "nightsignal", "limit": 1})).json()
        assert first["items"][0]["participant_id"] == "P-api1"
        second = (
            await client.get(
                "/v1/alerts", params={"detector": "nightsignal", "limit": 1, "cursor": first["next_cursor"]}
            )
        ).json()
        assert second["items"][0]["participant_id"] == "P-api2"
        assert (await client.get("/v1/alerts", params={"level": "yellow", "detector": "nightsignal"})).json()[
            "items"
        ] == []
        bad = await client.get("/v1/alerts", params={"start": "2026-02-10", "end": "2026-02-01"})
        assert bad.status_code == 400
        assert "end" in bad.text
        nights = (
            await client.get("/v1/participants/P-api1/nights", params={"start": "2026-02-01", "end": "2026-03-08"})
        ).json()["items"]
        assert len(nights) == 35
        raised = next(n for n in nights if n["night"] == str(D0 + dt.timedelta(days=31)))
        verdict = next(v for v in raised["detectors"] if v["detector"] == "nightsignal")
        assert verdict["level"] == "red"
        assert verdict["value"] > verdict["baseline"] + 4
        # A participant key reads its own participant only.
        client.headers["Authorization"] = f"Bearer {own}"
        assert (await client.get("/v1/participants/P-api1/alerts")).status_code == 200
        assert (await client.get("/v1/participants/P-api2/alerts")).status_code == 403
        assert (await client.get("/v1/alerts")).status_code == 403


def _day_minutes(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local day D0 + n (UTC+1 in February), one minute each: HR about 58 by night and 66 by day, steps 0
    but a walk at noon; on day 3 the last eight minutes before midnight at 85 bpm."""
    midnight = dt.datetime.combine(D0 + dt.timedelta(days=n), dt.time(0), tzinfo=dt.timezone(dt.timedelta(hours=1)))
    minutes = int(midnight.timestamp() * 1000) + 60_000 * np.arange(1440, dtype=np.int64)
    of_day = np.arange(1440)
    hr = np.where(of_day < 420, 58.0, 66.0) + np.random.default_rng(n).normal(0.0, 2.0, size=1440)
    if n == 3:
        hr[-8:] = 85.0
    steps = np.where((of_day >= 720) & (of_day < 750), 40.0, 0.0)
    return minutes, hr, steps


async def test_minutes_before_midnight_arriving_late_recompute_their_own_day(database: str) -> None:
    """Day 3 arrives in two transactions, the second from 23:52 local: those minutes belong to day 3's hour 23
    (CuSum's hourly medians), so the night of day 3 is recomputed and every stored value and CuSum verdict
    equals the detectors run on all the data at once."""
    days = [_day_minutes(n) for n in range(18)]
    minutes, hr, steps = (np.concatenate([d[i] for d in days]) for i in range(3))
    split = int(np.searchsorted(minutes, days[3][0][-8]))
    pieces = [(int(days[n][0][0]), int(days[n][0][-1]) + 1) for n in range(18) if n not in (3, 4)]
    pieces += [(int(days[3][0][0]), int(minutes[split])), (int(minutes[split]), int(days[4][0][-1]) + 1)]
    pool = await create_pool(database, size=1)
    try:
        sink = factories.sink(pool)
        await sink.upsert_participants(factories.cohort([LATE], timezone=ZONE, enrolled_on=D0 - dt.timedelta(days=1)))
        now_ms = int(minutes[-1]) + 3_600_000
        for begin, end in sorted(pieces):
            part = (minutes >= begin) & (minutes < end)
            await sink.apply(
                [
                    factories.valid_batch(
                        factories.reading_batch(LATE, metric, minutes[part], values[part]), now_ms=now_ms
                    )
                    for metric, values in (("heart_rate", hr), ("steps", steps))
                ]
            )
        connection = await asyncpg.connect(database)
        try:
            stored = await connection.fetch(
                "SELECT night, hourly FROM nightly_values WHERE participant_id = $1 ORDER BY night", LATE
            )
            outcomes = await connection.fetch(
                "SELECT night, value, baseline, level FROM night_outcomes WHERE participant_id = $1"
                " AND detector = 'cusum' ORDER BY night",
                LATE,
            )
        finally:
            await connection.close()
    finally:
        await pool.close()
    direct = night_inputs(minutes, hr, steps, ZONE)
    before_late = night_inputs(minutes[:split], hr[:split], steps[:split], ZONE)
    assert before_late[3].hourly[23] != direct[3].hourly[23]  # the late minutes move day 3's hour 23
    expected = CusumDetector().batch(direct)
    assert sum(o.value is not None for o in expected) == 4  # the days with 14 baseline days were judged
    assert [(r["night"], r["value"], r["baseline"], r["level"]) for r in outcomes] == [
        (o.night, pytest.approx(o.value, abs=1e-9), pytest.approx(o.baseline, abs=1e-9), o.level) for o in expected
    ]
    assert [r["night"] for r in stored] == [n.night for n in direct]
    for row, night in zip(stored, direct, strict=True):
        assert list(row["hourly"]) == pytest.approx(list(night.hourly), abs=1e-9, nan_ok=True), night.night
