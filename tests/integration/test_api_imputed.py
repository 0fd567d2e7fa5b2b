"""Imputed minutes served beside observed data: a replayed cohort with not_worn gaps, a `wearstream impute` run,
then `imputed=exclude|include|only` on series and daily summaries against recomputations in SQL; deleting the
run makes `include` equal `exclude`; the store's tables are unchanged throughout (checksums before and after)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest
from litestar.testing import AsyncTestClient
from typer.testing import CliRunner

from api.app import create_app
from api.auth.store import create_key
from core.settings import Settings
from producers.simulator import CohortSimulator
from schemas.metrics import METRIC_IDS
from stream_processors.db import create_pool
from tests import factories
from tests.integration.api_server import serve_api
from tests.integration.test_api_series import api_settings
from tests.integration.test_imputation import checksums
from wearstream.cli import app
from wearstream.client import Client
from wearstream.client.plans import Resolution

START = dt.date(2026, 3, 2)
DAYS = 6
PARTICIPANTS = (1, 2, 3, 4)
NOW_MS = int(dt.datetime.combine(START, dt.time(), tzinfo=dt.UTC).timestamp() * 1000) + 14 * 86_400_000
RUN = "api-1"
RANGE = {"start": START.isoformat(), "end": (START + dt.timedelta(days=DAYS)).isoformat()}
PROVENANCE = ("imputed", "imputation_run", "standard_error", "lower", "upper")


@dataclass
class Imputed:
    url: str
    keys: dict[str, str]
    participant: str
    """A participant with imputed heart rate and steps."""
    timezone: str
    checksums: dict[str, str]
    before: dict[str, Any] = field(default_factory=dict)
    """Answers with `imputed=exclude` (and without the parameter) before the run, by request."""


async def replay(url: str) -> dict[str, str]:
    simulator = CohortSimulator(seed=11, start=START)
    pool = await create_pool(url, size=2)
    try:
        await factories.store_simulated(pool, simulator, PARTICIPANTS, DAYS, now_ms=NOW_MS)
        return {"researcher": (await create_key(pool, "researcher", None)).token}
    finally:
        await pool.close()


async def fetch(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(url)
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


REQUESTS: dict[str, dict[str, Any]] = {
    "raw": {"metric": "heart_rate", "resolution": "raw", "max_points": 20_000},
    "1m": {"metric": "steps", "resolution": "1m", "max_points": 700},
    "1h": {"metric": "heart_rate", "resolution": "1h", "max_points": 40},
    "1d": {"metric": "steps", "resolution": "1d", "max_points": 10},
    "auto": {"metric": "heart_rate", "resolution": "auto", "max_points": 300},
    "auto-steps": {"metric": "steps", "resolution": "auto", "max_points": 2000},
}


async def pages(client: AsyncTestClient[Any], participant: str, name: str, **extra: Any) -> dict[str, Any]:
    """Every page of a request (`REQUESTS[name]`), the points joined; the last page's other fields."""
    spec = dict(REQUESTS[name])
    metric = spec.pop("metric")
    params: dict[str, Any] = {**RANGE, **spec, **extra}
    points: list[dict[str, Any]] = []
    count = 0
    while True:
        response = await client.get(f"/v1/participants/{participant}/series/{metric}", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        points.extend(page["points"])
        count += 1
        if not page["next_cursor"]:
            return {**page, "points": points, "pages": count}
        params["cursor"] = page["next_cursor"]


@pytest.fixture(scope="module")
async def cohort(database: str, settings: Settings) -> Imputed:
    keys = await replay(database)
    before = await checksums(database)
    gaps = await fetch(
        database,
        "SELECT participant_id, count(*) AS n FROM gaps WHERE kind = 'not_worn' AND end_time IS NOT NULL"
        " GROUP BY 1 ORDER BY 2 DESC, 1",
    )
    assert gaps, "the cohort has not_worn gaps"
    participant = gaps[0]["participant_id"]
    timezone = (await fetch(database, "SELECT timezone FROM participants WHERE participant_id = $1", participant))[0][0]
    imputed = Imputed(database, keys, participant, timezone, before)
    async with api_client(imputed, settings) as client:
        for name in REQUESTS:
            imputed.before[name] = await pages(client, participant, name)
        daily = await client.get(f"/v1/participants/{participant}/daily", params=RANGE)
        imputed.before["daily"] = daily.json()
    ran = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["impute", "--run-id", RUN, "--method", "profile", "--metrics", "heart_rate,steps"],
        env={"WEARSTREAM_DATABASE_URL": database},
    )
    assert ran.exit_code == 0, ran.output
    return imputed


def api_client(cohort: Imputed, settings: Settings) -> AsyncTestClient[Any]:
    client = AsyncTestClient(create_app(api_settings(settings, cohort.url)))
    client.headers["Authorization"] = f"Bearer {cohort.keys['researcher']}"
    return client


@pytest.fixture(scope="module")
async def client(cohort: Imputed, settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with api_client(cohort, settings) as test_client:
        yield test_client


def ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def without_imputation_facts(page: dict[str, Any]) -> dict[str, Any]:
    assert page.get("imputed", "exclude") == "exclude"
    assert page.get("imputation_run") is None
    return {k: v for k, v in page.items() if k not in ("imputed", "imputation_run")}


async def run_points(cohort: Imputed, metric: str) -> list[asyncpg.Record]:
    rows = await fetch(
        cohort.url,
        "SELECT ts_to_ms(minute) AS t, value, std_error, lower, upper FROM imputed_points WHERE run_id = $1"
        " AND participant_id = $2 AND metric_id = $3 AND minute >= $4::date AND minute < $5::date ORDER BY minute",
        RUN,
        cohort.participant,
        METRIC_IDS[metric],
        START,
        START + dt.timedelta(days=DAYS),
    )
    assert rows, f"the run imputed {metric} minutes of {cohort.participant}"
    return rows


async def test_exclude_answers_equal_those_before_the_run(cohort: Imputed, client: AsyncTestClient[Any]) -> None:
    for name, before in cohort.before.items():
        if name == "daily":
            continue
        for extra in ({}, {"imputed": "exclude"}):
            after = await pages(client, cohort.participant, name, **extra)
            assert without_imputation_facts(after) == without_imputation_facts(before), name
            assert all(not set(PROVENANCE) & set(p) for p in after["points"])
    daily = (await client.get(f"/v1/participants/{cohort.participant}/daily", params=RANGE)).json()
    assert daily == cohort.before["daily"]


@pytest.mark.parametrize(("name", "metric"), [("raw", "heart_rate"), ("1m", "steps")])
async def test_include_adds_each_imputed_minute_once_with_its_run_and_uncertainty(
    cohort: Imputed, client: AsyncTestClient[Any], name: str, metric: str
) -> None:
    small = {"max_points": 500}
    page = await pages(client, cohort.participant, name, imputed="include", **small)
    assert page["imputed"] == "include"
    assert page["imputation_run"] == RUN
    assert page["pages"] > 1
    observed = [p for p in page["points"] if not p["imputed"]]
    imputed = [p for p in page["points"] if p["imputed"]]
    excluded = await pages(client, cohort.participant, name, **small)
    assert observed == [
        {**p, "imputed": False, **({"imputed_minutes": 0} if name == "1m" else {})} for p in excluded["points"]
    ]
    rows = await run_points(cohort, metric)
    assert [ms(p["time"]) for p in imputed] == [r["t"] for r in rows]
    for point, row in zip(imputed, rows, strict=True):
        assert point["imputation_run"] == RUN
        assert (point["standard_error"], point["lower"], point["upper"]) == (
            row["std_error"],
            row["lower"],
            row["upper"],
        )
        if name == "raw":
            assert point["value"] == row["value"]
        else:
            assert (point["count"], point["min"], point["max"], point["mean"]) == (1, *[row["value"]] * 3)
            assert point["sum"] == row["value"]
    times = [(ms(p["time"]), p["imputed"]) for p in page["points"]]
    assert times == sorted(times)


def recomputed_sql(bucket: str) -> str:
    """Buckets of observed 1-minute rollups plus the run's imputed minutes (each one value), recomputed."""
    return f"""
    WITH z AS (SELECT timezone AS tz FROM participants WHERE participant_id = $1), minutes AS (
        SELECT bucket AS minute, count, sum, min, max, 0 AS imputed FROM rollup_1m
        WHERE participant_id = $1 AND metric_id = $2 AND bucket >= $4::date - 2 AND bucket < $5::date + 2
        UNION ALL
        SELECT minute, 1, value, value, value, 1 FROM imputed_points
        WHERE run_id = $3 AND participant_id = $1 AND metric_id = $2 AND minute >= $4::date - 2
          AND minute < $5::date + 2
    )
    SELECT ts_to_ms(b) AS t, sum(count)::bigint AS count, sum(sum) AS sum, min(min) AS min, max(max) AS max,
           sum(imputed)::bigint AS imputed_minutes
    FROM (SELECT {bucket} AS b, m.* FROM minutes m, z) x
    WHERE b >= $6 AND b < $7 GROUP BY b ORDER BY b
    """


BUCKETS = {
    "1h": "time_bucket('1 hour', minute)",
    "1d": "(date_trunc('day', minute AT TIME ZONE z.tz) AT TIME ZONE z.tz)",
}


def assert_buckets_equal(points: list[dict[str, Any]], rows: list[asyncpg.Record], *, summed: bool) -> None:
    assert [ms(p["time"]) for p in points] == [r["t"] for r in rows]
    for point, row in zip(points, rows, strict=True):
        assert (point["count"], point["imputed_minutes"], point["imputed"]) == (
            row["count"],
            row["imputed_minutes"],
            False,
        )
        assert (point["min"], point["max"]) == (row["min"], row["max"])
        assert point["mean"] == pytest.approx(row["sum"] / row["count"], rel=1e-12)
        if summed:
            assert point["sum"] == pytest.approx(row["sum"], rel=1e-12)


@pytest.mark.parametrize(("name", "metric", "level"), [("1h", "heart_rate", "1h"), ("1d", "steps", "1d")])
async def test_include_rollups_equal_observed_minutes_plus_imputed_minutes_in_sql(
    cohort: Imputed, client: AsyncTestClient[Any], name: str, metric: str, level: str
) -> None:
    page = await pages(client, cohort.participant, name, imputed="include", imputation_run=RUN)
    assert page["imputation_run"] == RUN
    points = page["points"]
    first, last = ms(points[0]["time"]), ms(points[-1]["time"])
    rows = await fetch(
        cohort.url,
        recomputed_sql(BUCKETS[level]),
        cohort.participant,
        METRIC_IDS[metric],
        RUN,
        START,
        START + dt.timedelta(days=DAYS),
        dt.datetime.fromtimestamp(first / 1000, dt.UTC),
        dt.datetime.fromtimestamp(last / 1000 + 1, dt.UTC),
    )
    assert_buckets_equal(points, rows, summed=metric == "steps")
    assert sum(p["imputed_minutes"] for p in points) == len(await run_points(cohort, metric))
    # Observed data unchanged: without the imputed minutes each bucket is the stored one.
    stored = {ms(p["time"]): p for p in cohort.before[name]["points"]}
    for point in points:
        if point["imputed_minutes"] < point["count"]:
            assert stored[ms(point["time"])]["count"] == point["count"] - point["imputed_minutes"]


async def test_auto_with_imputed_minutes_rolls_up_and_keeps_every_minute(
    cohort: Imputed, client: AsyncTestClient[Any]
) -> None:
    excluded = cohort.before["auto"]
    page = await pages(client, cohort.participant, "auto", imputed="include")
    assert page["resolution"] == excluded["resolution"] != "raw"
    assert page["bucket_seconds"] == excluded["bucket_seconds"]
    imputed_total = sum(p["imputed_minutes"] for p in page["points"])
    assert imputed_total == len(await run_points(cohort, "heart_rate"))
    assert sum(p["count"] for p in page["points"]) == sum(p["count"] for p in excluded["points"]) + imputed_total
    steps = await pages(client, cohort.participant, "auto-steps", imputed="only")
    assert steps["resolution"] == "1m"
    assert steps["bucket_seconds"] > 60
    assert all(p["count"] == p["imputed_minutes"] for p in steps["points"])
    assert sum(p["count"] for p in steps["points"]) == len(await run_points(cohort, "steps"))


async def test_only_serves_the_imputed_minutes_alone(cohort: Imputed, client: AsyncTestClient[Any]) -> None:
    raw = await pages(client, cohort.participant, "raw", imputed="only", max_points=100)
    rows = await run_points(cohort, "heart_rate")
    assert raw["pages"] > 1
    assert [(ms(p["time"]), p["value"], p["imputed"]) for p in raw["points"]] == [
        (r["t"], r["value"], True) for r in rows
    ]
    hours = await pages(client, cohort.participant, "1h", imputed="only", max_points=10)
    assert all(p["count"] == p["imputed_minutes"] > 0 for p in hours["points"])
    assert sum(p["count"] for p in hours["points"]) == len(rows)
    assert [ms(p["time"]) for p in hours["points"]] == sorted({r["t"] // 3_600_000 * 3_600_000 for r in rows})


async def test_daily_summaries_count_the_imputed_minutes(cohort: Imputed, client: AsyncTestClient[Any]) -> None:
    answer = (
        await client.get(f"/v1/participants/{cohort.participant}/daily", params={**RANGE, "imputed": "include"})
    ).json()
    assert (answer["imputed"], answer["imputation_run"]) == ("include", RUN)
    rows = await fetch(
        cohort.url,
        "SELECT (minute AT TIME ZONE $3)::date AS day, metric_id, count(*) AS n FROM imputed_points"
        " WHERE run_id = $1 AND participant_id = $2 GROUP BY 1, 2",
        RUN,
        cohort.participant,
        cohort.timezone,
    )
    names = {v: k for k, v in METRIC_IDS.items()}
    expected: dict[str, dict[str, int]] = {}
    for row in rows:
        if START <= row["day"] < START + dt.timedelta(days=DAYS):
            expected.setdefault(row["day"].isoformat(), {})[names[row["metric_id"]]] = row["n"]
    assert {d["date"]: d["imputed_minutes"] for d in answer["days"] if d["imputed_minutes"]} == expected
    observed = [{k: v for k, v in d.items() if k != "imputed_minutes"} for d in answer["days"]]
    assert observed == [{k: v for k, v in d.items() if k != "imputed_minutes"} for d in cohort.before["daily"]["days"]]


@pytest.mark.parametrize("name", ["raw", "1h"])
async def test_arrow_pages_carry_the_same_columns(cohort: Imputed, client: AsyncTestClient[Any], name: str) -> None:
    spec = dict(REQUESTS[name])
    metric = spec.pop("metric")
    params = {**RANGE, **spec, "imputed": "include", "max_points": 100_000, "format": "arrow"}
    response = await client.get(f"/v1/participants/{cohort.participant}/series/{metric}", params=params)
    assert response.status_code == 200, response.text
    table = pa.ipc.open_stream(response.content).read_all()
    assert table.schema.metadata[b"imputation_run"] == RUN.encode()
    json_params = {k: v for k, v in params.items() if k != "format"}
    as_json = (await client.get(f"/v1/participants/{cohort.participant}/series/{metric}", params=json_params)).json()
    assert response.headers.get("x-next-cursor") == as_json["next_cursor"]
    assert table.num_rows == len(as_json["points"])
    for column in table.column_names[1:]:
        values = table.column(column).to_pylist()
        assert values == [p.get(column) for p in as_json["points"]], column
    assert table.schema.field("imputed").type == pa.bool_()
    assert table.schema.field("standard_error").metadata[b"unit"] == b"bpm"


async def test_bad_imputation_values_are_named(cohort: Imputed, client: AsyncTestClient[Any]) -> None:
    path = f"/v1/participants/{cohort.participant}/series/heart_rate"
    for params, key in [
        ({"imputed": "maybe"}, "imputed"),
        ({"imputed": "include", "imputation_run": "no-such-run"}, "imputation_run"),
        ({"imputation_run": "x" * 65}, "imputation_run"),
        ({"imputed": "include", "format": "csv"}, "imputed"),
    ]:
        response = await client.get(path, params={**RANGE, **params})
        assert response.status_code == 400, response.text
        assert key in [e["key"] for e in response.json()["extra"]], response.text
    daily = await client.get(f"/v1/participants/{cohort.participant}/daily", params={"imputed": "all"})
    assert daily.status_code == 400
    assert daily.json()["extra"][0]["key"] == "imputed"


@pytest.fixture(scope="module")
def served(cohort: Imputed, settings: Settings) -> Iterator[str]:
    with serve_api(api_settings(settings, cohort.url, rate_limit_per_minute=0)) as base:
        yield base


def same(values: list[Any], expected: list[Any]) -> bool:
    """Equal, a missing number (NaN, NA) standing for null."""
    return [None if v is None or v is pd.NA or v != v else v for v in values] == expected


@pytest.mark.parametrize(("resolution", "metric"), [("raw", "heart_rate"), ("1h", "steps")])
async def test_the_client_frame_equals_the_rest_answer(
    cohort: Imputed, client: AsyncTestClient[Any], served: str, resolution: Resolution, metric: str
) -> None:
    def frame() -> pd.DataFrame:
        with Client(served, cohort.keys["researcher"]) as api:
            got: pd.DataFrame = api.series(
                cohort.participant, metric, RANGE["start"], RANGE["end"], resolution, "include"
            )
            return got

    got = await asyncio.to_thread(frame)
    params = {**RANGE, "resolution": resolution, "imputed": "include", "max_points": 100_000}
    answer = await paged(client, f"/v1/participants/{cohort.participant}/series/{metric}", params)
    assert len(got) == len(answer) > 0
    assert [int(t.timestamp() * 1000) for t in got["time"]] == [ms(p["time"]) for p in answer]
    for column in got.columns[5:]:
        assert same(got[column].tolist(), [p.get(column) for p in answer]), column
    imputed_total = got["imputed"].sum() if resolution == "raw" else got["imputed_minutes"].sum()
    assert imputed_total == len(await run_points(cohort, metric))
    assert got.attrs["resolution"][cohort.participant]["imputation_run"] == RUN

    def daily() -> pd.DataFrame:
        with Client(served, cohort.keys["researcher"]) as api:
            days: pd.DataFrame = api.daily(cohort.participant, RANGE["start"], RANGE["end"], imputed="include")
            return days

    days = await asyncio.to_thread(daily)
    assert days["imputed_minutes_heart_rate"].fillna(0).sum() == len(await run_points(cohort, "heart_rate"))
    assert days.attrs["units"]["imputed_minutes_heart_rate"] == "min"


async def paged(client: AsyncTestClient[Any], path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = []
    while True:
        page = (await client.get(path, params=params)).json()
        points.extend(page["points"])
        if not page["next_cursor"]:
            return points
        params = {**params, "cursor": page["next_cursor"]}


async def test_export_with_imputed_include_has_the_provenance_columns_and_equals_the_api(
    cohort: Imputed, client: AsyncTestClient[Any], settings: Settings, tmp_path: Path
) -> None:
    readonly = urlsplit(settings.database.readonly_dsn)
    env = {
        "WEARSTREAM_CLIENT_URL": "",
        "WEARSTREAM_DATABASE_READONLY_URL": urlunsplit(readonly._replace(path=urlsplit(cohort.url).path)),
    }
    arguments = ["export", "--out", str(tmp_path), "--metrics", "heart_rate,steps", "--start", RANGE["start"]]
    arguments += ["--end", RANGE["end"], "--participants", cohort.participant, "--imputed", "include"]
    result = await asyncio.to_thread(CliRunner().invoke, app, arguments, env=env)
    assert result.exit_code == 0, result.output
    table = ds.dataset(tmp_path / "series", format="parquet", partitioning="hive").to_table()
    assert {"imputed", "imputation_run", "standard_error", "lower", "upper"} <= set(table.column_names)
    for metric in ("heart_rate", "steps"):
        rows = table.filter(pc.field("metric") == metric).sort_by([("time", "ascending")]).to_pylist()
        params = {**RANGE, "resolution": "raw", "imputed": "include", "max_points": 100_000}
        answer = await paged(client, f"/v1/participants/{cohort.participant}/series/{metric}", params)
        key = [(ms(p["time"]), bool(p["imputed"])) for p in answer]
        assert sorted(key) == [(int(r["time"].timestamp() * 1000), r["imputed"]) for r in rows]
        by_key = {(ms(p["time"]), bool(p["imputed"]), p.get("value")): p for p in answer}
        imputed_rows = [r for r in rows if r["imputed"]]
        assert len(imputed_rows) == len(await run_points(cohort, metric))
        for row in imputed_rows:
            point = by_key[(int(row["time"].timestamp() * 1000), True, row["value"])]
            assert row["imputation_run"] == point["imputation_run"] == RUN
            assert (row["standard_error"], row["lower"], row["upper"]) == (
                point["standard_error"],
                point["lower"],
                point["upper"],
            )
        observed = [r for r in rows if not r["imputed"]]
        assert all(r["imputation_run"] is None and r["standard_error"] is None for r in observed)
    book = json.loads((tmp_path / "codebook.json").read_text())
    columns = book["tables"]["series heart_rate"]["columns"]
    assert "imputation run" in columns["imputation_run"]["description"]
    assert columns["standard_error"]["unit"] == "bpm"
    assert "--imputed include" in book["tables"]["series heart_rate"]["note"]
    assert "imputed_minutes_heart_rate" in book["tables"]["daily"]["columns"]
    assert "imputed minutes" in (tmp_path / "README.md").read_text()


# Last in the module: deletes the run.
async def test_deleting_the_run_makes_include_equal_exclude_and_the_store_is_unchanged(
    cohort: Imputed, client: AsyncTestClient[Any]
) -> None:
    assert await checksums(cohort.url) == cohort.checksums, "serving imputed minutes never writes the store"
    deleted = await asyncio.to_thread(
        CliRunner().invoke, app, ["impute", "--delete", RUN], env={"WEARSTREAM_DATABASE_URL": cohort.url}
    )
    assert deleted.exit_code == 0, deleted.output
    for name, before in cohort.before.items():
        if name == "daily":
            continue
        included = await pages(client, cohort.participant, name, imputed="include")
        assert included["imputation_run"] is None
        rollup = included["resolution"] != "raw"
        marked = [{**p, "imputed": False, **({"imputed_minutes": 0} if rollup else {})} for p in before["points"]]
        assert included["points"] == marked, name
        assert (await pages(client, cohort.participant, name, imputed="only"))["points"] == []
    gone = await client.get(
        f"/v1/participants/{cohort.participant}/series/heart_rate", params={"imputed": "include", "imputation_run": RUN}
    )
    assert gone.status_code == 400
    assert await checksums(cohort.url) == cohort.checksums
