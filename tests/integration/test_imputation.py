"""`wearstream impute` over a replayed cohort: imputed rows with provenance fill the not_worn gaps; running the
run again resumes it and changes nothing; deleting it removes its rows and nothing else; the raw data, rollups,
gaps and summaries are unchanged throughout (checksums before and after)."""

from __future__ import annotations

import asyncio
import datetime as dt

import asyncpg
import pytest
from typer.testing import CliRunner

from producers.simulator import CohortSimulator
from schemas.metrics import METRIC_IDS
from stream_processors.db import create_pool
from stream_processors.errors import ImputationError
from stream_processors.imputation import BridgeMethod, Linear, ProfileMethod
from stream_processors.imputation.job import Request, impute
from stream_processors.imputation.store import RunInfo, delete_run, list_runs
from tests import factories
from wearstream.cli import app

START = dt.date(2026, 3, 2)
DAYS = 6
PARTICIPANTS = (1, 2, 3, 4)
NOW_MS = int(dt.datetime.combine(START, dt.time(), tzinfo=dt.UTC).timestamp() * 1000) + 14 * 86_400_000
STORE_TABLES = ("raw_segments", "rollup_1m", "rollup_1h", "rollup_1d", "gaps", "daily_summary", "sleep_nights")


@pytest.fixture(scope="module")
async def cohort(database: str) -> str:
    simulator = CohortSimulator(seed=11, start=START)
    pool = await create_pool(database, size=2)
    try:
        await factories.store_simulated(pool, simulator, PARTICIPANTS, DAYS, now_ms=NOW_MS)
    finally:
        await pool.close()
    return database


async def checksums(url: str) -> dict[str, str]:
    connection = await asyncpg.connect(url)
    try:
        return {
            table: await connection.fetchval(
                f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t"
            )
            for table in STORE_TABLES
        }
    finally:
        await connection.close()


async def fetch(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(url)
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


async def test_a_run_fills_gaps_with_provenance_resumes_and_deletes_cleanly(cohort: str) -> None:
    before = await checksums(cohort)
    gaps = await fetch(cohort, "SELECT * FROM gaps WHERE kind = 'not_worn' AND end_time IS NOT NULL")
    assert gaps, "the cohort has not_worn gaps to fill"
    method = ProfileMethod()
    outcome = await impute(cohort, method, Request(run_id="profile-1"))
    assert outcome.points > 0
    assert outcome.gaps_filled > 0
    points = await fetch(cohort, "SELECT * FROM imputed_points WHERE run_id = 'profile-1'")
    assert len(points) == outcome.points
    assert {p["metric_id"] for p in points} >= {METRIC_IDS["heart_rate"], METRIC_IDS["steps"]}
    by_gap = {(g["participant_id"], g["start_time"]): g["end_time"] for g in gaps}
    for p in points:
        end = by_gap[(p["participant_id"], p["gap_start"])]
        assert p["gap_start"] < p["minute"]
        assert p["minute"] + dt.timedelta(minutes=1) <= end
        assert p["lower"] <= p["value"] <= p["upper"]
        assert p["std_error"] >= 0
    hr = [p for p in points if p["metric_id"] == METRIC_IDS["heart_rate"]]
    assert all(25 <= p["value"] <= 250 for p in hr)
    observed = await fetch(
        cohort,
        "SELECT count(*) AS n FROM imputed_points i JOIN rollup_1m r ON r.participant_id = i.participant_id"
        " AND r.metric_id = i.metric_id AND r.bucket = i.minute WHERE i.metric_id = $1",
        METRIC_IDS["heart_rate"],
    )
    assert observed[0]["n"] == 0, "heart rate is imputed only where none was stored"
    reports = await fetch(cohort, "SELECT * FROM imputation_gaps WHERE run_id = 'profile-1'")
    assert sum(r["filled"] for r in reports) == outcome.points
    [run] = [r for r in await list_runs(await asyncpg.connect(cohort)) if r.run_id == "profile-1"]
    assert (run.method, run.method_version, run.status) == ("profile", "1", "complete")
    assert run.parameters == method.parameters()
    assert run.points == outcome.points

    again = await impute(cohort, method, Request(run_id="profile-1"))
    assert again.resumed == again.participants
    assert again.points == 0
    assert len(await fetch(cohort, "SELECT 1 FROM imputed_points WHERE run_id = 'profile-1'")) == len(points)
    with pytest.raises(ImputationError, match="exists with method profile"):
        await impute(cohort, ProfileMethod(tau=5.0), Request(run_id="profile-1"))
    with pytest.raises(ImputationError, match="exists with method profile"):
        await impute(cohort, method, Request(run_id="profile-1", metrics=["heart_rate"]))

    other = await impute(cohort, Linear(), Request(run_id="linear-1", metrics=["heart_rate"]))
    assert other.points > 0
    assert await checksums(cohort) == before, "imputation never writes the store's tables"

    connection = await asyncpg.connect(cohort)
    try:
        assert await delete_run(connection, "profile-1") == len(points)
        with pytest.raises(ImputationError, match="no imputation run"):
            await delete_run(connection, "profile-1")
    finally:
        await connection.close()
    for table in ("imputed_points", "imputation_gaps", "imputation_run_participants", "imputation_runs"):
        assert not await fetch(cohort, f"SELECT 1 FROM {table} WHERE run_id = 'profile-1'")
    assert len(await fetch(cohort, "SELECT 1 FROM imputed_points WHERE run_id = 'linear-1'")) == other.points
    assert await checksums(cohort) == before


async def test_a_resumed_run_redoes_an_interrupted_participant(cohort: str) -> None:
    """A participant whose rows were written without its completion mark (an interrupted run) is redone."""
    first = await impute(cohort, Linear(), Request(run_id="resume-1", metrics=["heart_rate"]))
    rows = await fetch(cohort, "SELECT * FROM imputed_points WHERE run_id = 'resume-1' ORDER BY 2, 3, 4")
    [victim] = await fetch(
        cohort, "SELECT participant_id FROM imputation_run_participants WHERE run_id = 'resume-1' LIMIT 1"
    )
    connection = await asyncpg.connect(cohort)
    try:
        await connection.execute(
            "DELETE FROM imputation_run_participants WHERE run_id = 'resume-1' AND participant_id = $1", victim[0]
        )
    finally:
        await connection.close()
    again = await impute(cohort, Linear(), Request(run_id="resume-1", metrics=["heart_rate"]))
    assert again.resumed == first.participants - 1
    assert await fetch(cohort, "SELECT * FROM imputed_points WHERE run_id = 'resume-1' ORDER BY 2, 3, 4") == rows


def test_the_command_runs_lists_and_deletes_a_run(cohort: str) -> None:
    env = {"WEARSTREAM_DATABASE_URL": cohort}
    ran = CliRunner().invoke(
        app, ["impute", "--run-id", "cli-1", "--method", "neighbour_median", "--metrics", "heart_rate"], env=env
    )
    assert ran.exit_code == 0, ran.output
    assert "run cli-1 (neighbour_median 1)" in ran.output
    listed = CliRunner().invoke(app, ["impute", "--list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "cli-1  neighbour_median 1  complete" in listed.output
    deleted = CliRunner().invoke(app, ["impute", "--delete", "cli-1"], env=env)
    assert deleted.exit_code == 0, deleted.output
    assert "deleted run cli-1" in deleted.output
    again = CliRunner().invoke(app, ["impute", "--delete", "cli-1"], env=env)
    assert again.exit_code == 1
    assert "no imputation run 'cli-1'" in " ".join(again.output.split())
    bad = CliRunner().invoke(app, ["impute", "--run-id", "no spaces"], env=env)
    assert bad.exit_code == 1
    assert "run id 'no spaces'" in " ".join(bad.output.split())


def test_the_default_method_is_bridge_with_its_provenance(cohort: str) -> None:
    env = {"WEARSTREAM_DATABASE_URL": cohort}
    ran = CliRunner().invoke(app, ["impute", "--run-id", "bridge-1", "--metrics", "heart_rate,steps"], env=env)
    assert ran.exit_code == 0, ran.output
    assert "run bridge-1 (bridge 3)" in ran.output
    run = asyncio.run(_run_info(cohort, "bridge-1"))
    assert (run.method, run.method_version, run.status) == ("bridge", "3", "complete")
    assert run.parameters == BridgeMethod().parameters()
    points = asyncio.run(fetch(cohort, "SELECT * FROM imputed_points WHERE run_id = 'bridge-1'"))
    assert points
    by_metric = {m: [p for p in points if p["metric_id"] == METRIC_IDS[m]] for m in ("heart_rate", "steps")}
    assert by_metric["heart_rate"]
    assert by_metric["steps"]
    assert all(25 <= p["value"] <= 250 for p in by_metric["heart_rate"])
    assert all(0 <= p["value"] <= 300 and p["value"] == int(p["value"]) for p in by_metric["steps"])
    assert all(p["lower"] <= p["value"] <= p["upper"] and p["std_error"] >= 0 for p in points)


async def _run_info(url: str, run_id: str) -> RunInfo:
    connection = await asyncpg.connect(url)
    try:
        [run] = [r for r in await list_runs(connection) if r.run_id == run_id]
        return run
    finally:
        await connection.close()
