"""`wearstream impute` with `not_synced` gaps asked for: the minutes missing inside a gap between uploads are
filled as stretches of their own and reported under that gap, never the minutes of a `not_worn` gap inside it
(those are filled, when asked, under their own gap); the default run fills `not_worn` gaps only."""

from __future__ import annotations

import datetime as dt

import asyncpg
import numpy as np
import pytest
from typer.testing import CliRunner

from schemas.metrics import METRIC_IDS
from stream_processors.db import create_pool
from stream_processors.imputation import Linear
from stream_processors.imputation.job import Request, impute
from tests import factories
from wearstream.cli import app

DAY_MS = 86_400_000
MINUTE_MS = 60_000
T0 = int(dt.datetime(2026, 4, 6, tzinfo=dt.UTC).timestamp() * 1000)
SILENT = (T0 + 3 * DAY_MS + 8 * 3_600_000, T0 + 3 * DAY_MS + 16 * 3_600_000)
"""No upload from 08:00 to 16:00 on day 3: a not_synced gap, its data delivered by the 16:00 upload."""
SHORT = (SILENT[0] + 2 * 3_600_000, SILENT[0] + 2 * 3_600_000 + 5 * MINUTE_MS)
"""10:00 – 10:05: five minutes without heart rate or steps (shorter than a not_worn gap)."""
OFF = (SILENT[0] + 4 * 3_600_000, SILENT[0] + 4 * 3_600_000 + 30 * MINUTE_MS)
"""12:00 – 12:30: half an hour without heart rate: a not_worn gap inside the not_synced one."""
END_MS = T0 + 5 * DAY_MS


def _readings(metric: str, low: int, high: int) -> tuple[np.ndarray, np.ndarray]:
    ts = factories.span(low, high)
    missing = (ts >= SHORT[0]) & (ts < SHORT[1])
    if metric == "heart_rate":
        missing |= (ts >= OFF[0]) & (ts < OFF[1])
    ts = ts[~missing]
    minute_of_day = (ts - T0) % DAY_MS / MINUTE_MS
    if metric == "steps":
        return ts, np.where(minute_of_day % 90 < 10, 100.0, 0.0)  # a ten-minute walk every hour and a half
    return ts, np.round(62 + 8 * np.sin(2 * np.pi * minute_of_day / 1440))


@pytest.fixture(scope="module")
async def cohort(database: str) -> str:
    uploads = [u for u in range(T0 + 15 * MINUTE_MS, END_MS + 1, 15 * MINUTE_MS) if not SILENT[0] < u < SILENT[1]]
    pool = await create_pool(database, size=2)
    try:
        sink = factories.sink(pool)
        await sink.upsert_participants(factories.cohort(["S0001"]))
        batches = [
            factories.reading_batch("S0001", m, *_readings(m, previous, sync), sync_time=sync)
            for previous, sync in zip([T0, *uploads], uploads, strict=False)
            for m in ("heart_rate", "steps")
        ]
        valid = [factories.valid_batch(b, now_ms=END_MS + 3_600_000) for b in batches]
        for i in range(0, len(valid), 100):
            await sink.apply(valid[i : i + 100])
    finally:
        await pool.close()
    return database


async def _points(url: str, run_id: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(url)
    try:
        return list(
            await connection.fetch(
                "SELECT metric_id, ts_to_ms(minute) AS m, gap_kind, ts_to_ms(gap_start) AS g FROM imputed_points"
                " WHERE run_id = $1 ORDER BY metric_id, minute",
                run_id,
            )
        )
    finally:
        await connection.close()


def _minutes(points: list[asyncpg.Record], metric: str, kind: str) -> list[int]:
    return [int(p["m"]) for p in points if p["metric_id"] == METRIC_IDS[metric] and p["gap_kind"] == kind]


async def test_not_synced_fills_the_minutes_missing_between_uploads(cohort: str) -> None:
    connection = await asyncpg.connect(cohort)
    try:
        gaps = await connection.fetch("SELECT kind, ts_to_ms(start_time) AS s, ts_to_ms(end_time) AS e FROM gaps")
    finally:
        await connection.close()
    assert ("not_synced", SILENT[0], SILENT[1]) in [(g["kind"], g["s"], g["e"]) for g in gaps]
    both = Request(run_id="both", metrics=["heart_rate", "steps"], gap_kinds=["not_worn", "not_synced"])
    outcome = await impute(cohort, Linear(), both)
    points = await _points(cohort, "both")
    short = list(range(SHORT[0], SHORT[1], MINUTE_MS))
    off = list(range(OFF[0], OFF[1], MINUTE_MS))
    assert _minutes(points, "heart_rate", "not_synced") == short
    assert _minutes(points, "steps", "not_synced") == short
    assert _minutes(points, "heart_rate", "not_worn") == off
    assert _minutes(points, "steps", "not_worn") == off  # a not_worn minute's steps are the device's zeros
    assert {int(p["g"]) for p in points if p["gap_kind"] == "not_synced"} == {SILENT[0]}
    assert outcome.points == len(points) == 2 * len(short) + 2 * len(off)
    worn_only = await impute(cohort, Linear(), Request(run_id="worn", metrics=["heart_rate", "steps"]))
    assert [p["gap_kind"] for p in await _points(cohort, "worn")] == ["not_worn"] * 2 * len(off)
    assert worn_only.points == 2 * len(off)
    synced_only = Request(run_id="synced", metrics=["heart_rate"], gap_kinds=["not_synced"])
    await impute(cohort, Linear(), synced_only)
    assert [int(p["m"]) for p in await _points(cohort, "synced")] == short


async def test_unknown_gap_kinds_are_refused(cohort: str) -> None:
    with pytest.raises(ValueError, match="unknown gap kind"):
        await impute(cohort, Linear(), Request(run_id="bad", gap_kinds=["asleep"]))


def test_the_command_takes_gap_kinds(cohort: str) -> None:
    env = {"WEARSTREAM_DATABASE_URL": cohort}
    args = ["impute", "--run-id", "cli", "--method", "linear", "--metrics", "steps", "--gaps", "not_synced"]
    ran = CliRunner().invoke(app, args, env=env)
    assert ran.exit_code == 0, ran.output
    assert "5 points" in ran.output
    bad = CliRunner().invoke(app, [*args[:-1], "worn"], env=env)
    assert bad.exit_code != 0
    assert "unknown gap kind(s) worn" in " ".join(bad.output.split())


async def test_a_not_worn_and_a_not_synced_gap_from_the_same_instant_are_both_reported(cohort: str) -> None:
    connection = await asyncpg.connect(cohort)
    try:  # the device synced on its last reading before the silence and was then taken off for three minutes
        await connection.execute(
            "INSERT INTO gaps (participant_id, metric_id, kind, start_time, end_time) VALUES"
            " ('S0001', $1, 'not_worn', to_timestamp($2 / 1000.0), to_timestamp($3 / 1000.0))",
            METRIC_IDS["heart_rate"],
            SILENT[0],
            SILENT[0] + 3 * MINUTE_MS,
        )
        request = Request(run_id="same-start", metrics=["heart_rate"], gap_kinds=["not_worn", "not_synced"])
        await impute(cohort, Linear(), request)
        reports = await connection.fetch(
            "SELECT gap_kind, minutes FROM imputation_gaps WHERE run_id = 'same-start' AND gap_start = $1"
            " ORDER BY gap_kind",
            dt.datetime.fromtimestamp(SILENT[0] / 1000, dt.UTC),
        )
    finally:
        await connection.close()
    assert [(r["gap_kind"], r["minutes"]) for r in reports] == [("not_synced", 5), ("not_worn", 2)]
