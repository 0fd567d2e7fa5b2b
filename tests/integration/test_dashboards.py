"""Every SQL query of the Grafana dashboards, run against the real TimescaleDB after a simulated load.

Queries are taken out of the dashboard JSON (panels, template variables, annotations), their variables and
Grafana's PostgreSQL macros expanded the way Grafana does (frontend variables first, then the backend macro
engine, TimescaleDB mode as provisioned), and each must return rows with the columns its panel needs. The
participant's panels run at the three zoom levels that pick the 1-minute, 1-hour and 1-day rollups.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
import pytest
import yaml
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.auth.store import create_key
from core.settings import Settings
from producers.simulator import CohortSimulator
from schemas.readings import encode_batch
from stream_processors.db import create_pool
from stream_processors.envelope import Envelope
from stream_processors.validate import ValidBatch, validate
from tests import factories
from tests.integration.test_api_series import api_settings

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))
DATASOURCES = yaml.safe_load((ROOT / "grafana" / "provisioning" / "datasources" / "wearstream.yaml").read_text())
PG_UID = "wearstream-timescaledb"

START = dt.date(2026, 9, 1)
DAYS = 3
PARTICIPANTS = 3
SEED = 5
REVOKED = "P0003"
ALERTED = "P0001"
"""Given an illness episode ending in the loaded days (alerts raised, upgraded and withdrawn)."""


def _literal(text: str) -> Callable[[re.Match[str]], str]:
    """A re.sub replacement that inserts `text` as it is (no backslash processing)."""
    return lambda _match: text


def utc(day: dt.date, days: int = 0) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=days), dt.time(), tzinfo=dt.UTC)


# ---------------------------------------------------------------------------------------------------- Grafana
INTERVAL_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def interval_seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)", text.strip().strip("'"))
    assert match, f"Grafana cannot parse the interval {text!r}"
    return float(match.group(1)) * INTERVAL_UNITS[match.group(2)]


def rfc3339(moment: dt.datetime) -> str:
    """Go's time.RFC3339Nano in UTC, as Grafana formats $__timeFrom()."""
    text = moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "Z"


class View(msgspec.Struct, frozen=True):
    """What Grafana substitutes: the time range, the interval, and the dashboard variables' values."""

    start: dt.datetime
    end: dt.datetime
    interval: str
    variables: dict[str, str]


def interpolate_variables(sql: str, view: View) -> str:
    """The frontend's step: $__interval, $__interval_ms, and dashboard variables ($name or ${name})."""
    seconds = interval_seconds(view.interval)
    sql = sql.replace("$__interval_ms", str(int(seconds * 1000))).replace("${__interval_ms}", str(int(seconds * 1000)))
    sql = sql.replace("$__interval", view.interval).replace("${__interval}", view.interval)
    for name, value in sorted(view.variables.items(), key=lambda item: -len(item[0])):
        # A single-value variable in a SQL datasource: single quotes doubled, not quoted (SqlDatasource).
        escaped = value.replace("'", "''")
        sql = re.sub(r"\$\{" + name + r"\}|\$" + name + r"\b", _literal(escaped), sql)
    leftover = re.findall(r"\$(?!__)\w+|\$\{\w+\}", sql)
    assert not leftover, f"undefined variables {leftover}"
    return sql


def expand_macros(sql: str, view: View, *, timescaledb: bool) -> str:
    """The backend's step: grafana-postgresql-datasource's macro engine (macros.go)."""

    def evaluate(match: re.Match[str]) -> str:
        name, args = match.group(1), [a.strip() for a in match.group(2).split(",")]
        frm, to = rfc3339(view.start), rfc3339(view.end)
        if name == "__time":
            return f'{args[0]} AS "time"'
        if name == "__timeEpoch":
            return f'extract(epoch from {args[0]}) as "time"'
        if name == "__timeFilter":
            return f"{args[0]} BETWEEN '{frm}' AND '{to}'"
        if name == "__timeFrom":
            return f"'{frm}'"
        if name == "__timeTo":
            return f"'{to}'"
        if name in {"__timeGroup", "__timeGroupAlias"}:
            seconds = interval_seconds(args[1])
            group = (
                f"time_bucket('{seconds:.3f}s',{args[0]})"
                if timescaledb
                else f"floor(extract(epoch from {args[0]})/{seconds:g})*{seconds:g}"
            )
            return group + (' AS "time"' if name == "__timeGroupAlias" else "")
        if name == "__unixEpochFilter":
            return f"{args[0]} >= {int(view.start.timestamp())} AND {args[0]} <= {int(view.end.timestamp())}"
        raise AssertionError(f"macro ${name} is not expanded by this test")

    return re.sub(r"\$([_a-zA-Z0-9]+)\(([^)]*)\)", evaluate, sql)


class Query(msgspec.Struct, frozen=True):
    dashboard: str
    where: str
    sql: str
    format: str
    """time_series, table, annotation or variable."""
    link_fields: tuple[str, ...] = ()


def sql_queries(path: Path) -> Iterator[Query]:
    dashboard = json.loads(path.read_text())
    for panel in dashboard["panels"]:
        links = tuple(
            override["matcher"]["options"]
            for override in panel["fieldConfig"]["overrides"]
            if any(prop["id"] == "links" for prop in override["properties"])
        )
        for target in panel["targets"]:
            if target["datasource"]["uid"] == PG_UID:
                yield Query(dashboard["uid"], panel["title"], target["rawSql"], target["format"], links)
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query" and variable["datasource"]["uid"] == PG_UID:
            yield Query(dashboard["uid"], f"variable {variable['name']}", variable["query"], "variable")
    for annotation in dashboard["annotations"]["list"]:
        if annotation.get("datasource", {}).get("uid") == PG_UID:
            yield Query(
                dashboard["uid"], f"annotation {annotation['name']}", annotation["target"]["rawSql"], "annotation"
            )


QUERIES = [query for path in DASHBOARDS for query in sql_queries(path)]


def variable_defaults(dashboard_uid: str) -> dict[str, str]:
    dashboard = next(json.loads(p.read_text()) for p in DASHBOARDS if json.loads(p.read_text())["uid"] == dashboard_uid)
    return {v["name"]: v["query"] for v in dashboard["templating"]["list"] if v["type"] in {"textbox", "constant"}}


# ---------------------------------------------------------------------------------------------------- data
async def load_cohort(database_url: str) -> None:
    """A small simulated cohort written through the real sink; one participant's authorisation revoked, one with
    an illness episode in the nights before and during the loaded days."""
    simulator = CohortSimulator(seed=SEED, start=START)
    pool = await create_pool(database_url, size=2)
    try:
        sink = factories.sink(pool)
        records = [simulator.participant_record(k, as_of_day=DAYS - 1) for k in range(1, PARTICIPANTS + 1)]
        records = [
            msgspec.structs.replace(r, authorisation="revoked") if r.participant_id == REVOKED else r for r in records
        ]
        await sink.upsert_participants(records)
        now_ms = int(utc(START, DAYS + 1).timestamp() * 1000)
        for day in range(DAYS):
            by_metric: dict[str, list[ValidBatch]] = {}
            for k in range(1, PARTICIPANTS + 1):
                for batch in simulator.simulate_day(k, day).batches:
                    envelope = Envelope(topic=f"t.{batch.metric}", partition=0, offset=0, payload=encode_batch(batch))
                    valid = validate(envelope, expected_metric=batch.metric, now_ms=now_ms)
                    by_metric.setdefault(batch.metric, []).append(valid)
            for group in by_metric.values():
                await sink.apply(group)
        await sink.check_not_synced(now_ms)
        async with pool.acquire() as connection:
            await factories.alert_history(connection, ALERTED, START + dt.timedelta(days=1))
    finally:
        await pool.close()


@pytest.fixture(scope="module")
async def loaded(database: str) -> AsyncIterator[asyncpg.Connection]:
    await load_cohort(database)
    connection = await asyncpg.connect(database)
    try:
        yield connection
    finally:
        await connection.close()


# ---------------------------------------------------------------------------------------------------- tests
def views(query: Query) -> list[View]:
    variables = {**variable_defaults(query.dashboard), "participant": "P0001"}
    start, end = utc(START), utc(START, DAYS)
    if "$__interval_ms" in query.sql:
        # Zoom levels that select each rollup table (the interval Grafana derives from range / max points).
        return [View(start, end, interval, variables) for interval in ("1m", "2h", "1d")]
    return [View(start, end, "5m", variables)]


def check_columns(query: Query, records: list[asyncpg.Record], columns: list[str]) -> None:
    if query.format == "time_series":
        assert columns[0] == "time", columns
        for record in records[:50]:
            assert isinstance(record["time"], dt.datetime | int | float)
            for name in columns[1:]:
                if name == "metric":
                    assert isinstance(record[name], str)
                else:
                    assert record[name] is None or isinstance(record[name], int | float), (name, record[name])
        assert any(all(record[name] is not None for name in columns[1:]) for record in records), (
            "every value column has data somewhere"
        )
    elif query.format == "annotation":
        assert {"time", "timeend", "text", "tags"} <= set(columns)
    elif query.format == "variable":
        assert len(columns) == 1
        assert "P0001" in [record[0] for record in records]
    for field in query.link_fields:
        assert field in columns, f"the link on {field} needs the column"


@pytest.mark.parametrize("query", QUERIES, ids=[f"{q.dashboard}: {q.where}" for q in QUERIES])
async def test_dashboard_query_runs_and_returns_rows(loaded: asyncpg.Connection, query: Query) -> None:
    timescaledb = next(d for d in DATASOURCES["datasources"] if d["uid"] == PG_UID)["jsonData"]["timescaledb"]
    for view in views(query):
        sql = expand_macros(interpolate_variables(query.sql, view), view, timescaledb=timescaledb)
        assert "$" not in sql.replace("$$", ""), sql
        statement = await loaded.prepare(sql)
        columns = [attribute.name for attribute in statement.get_attributes()]
        records = await statement.fetch()
        assert records, f"{query.where} at {view.interval}: no rows"
        check_columns(query, records, columns)


async def test_the_cohort_flags_name_the_revoked_participant_and_gaps_are_open(loaded: asyncpg.Connection) -> None:
    (flags,) = [q for q in QUERIES if q.where.startswith("Flags")]
    view = View(utc(START), utc(START, DAYS), "5m", variable_defaults(flags.dashboard))
    rows = await loaded.fetch(expand_macros(interpolate_variables(flags.sql, view), view, timescaledb=True))
    by_participant = {row["participant_id"]: row["flags"] for row in rows}
    assert "no authorisation" in by_participant[REVOKED]
    (gaps,) = [q for q in QUERIES if q.where == "Open gaps"]
    open_gaps = await loaded.fetch(expand_macros(interpolate_variables(gaps.sql, view), view, timescaledb=True))
    assert {row["kind"] for row in open_gaps} >= {"not_synced"}


def test_every_dashboard_query_is_covered_and_uses_provisioned_datasources() -> None:
    uids = {d["uid"] for d in DATASOURCES["datasources"]}
    assert uids == {"wearstream-timescaledb", "wearstream-prometheus"}
    dashboards = [json.loads(p.read_text()) for p in DASHBOARDS]
    assert {d["uid"] for d in dashboards} == {"wearstream-cohort", "wearstream-participant", "wearstream-pipeline"}
    text = "\n".join(p.read_text() for p in DASHBOARDS)
    for uid in re.findall(r'"uid": "([^"]+)"', text):
        assert uid in uids | {d["uid"] for d in dashboards} | {"-- Grafana --"}, uid
    for target in re.findall(r"/d/([\w-]+)/", text):
        assert target in {d["uid"] for d in dashboards}, f"link to unknown dashboard {target}"
    panels = sum(1 for d in dashboards for p in d["panels"] for t in p["targets"] if t["datasource"]["uid"] == PG_UID)
    assert len([q for q in QUERIES if q.format in {"time_series", "table"}]) == panels


def test_the_macro_expansion_matches_grafana() -> None:
    view = View(
        dt.datetime(2026, 9, 1, tzinfo=dt.UTC), dt.datetime(2026, 9, 2, 0, 0, 1, 500_000, tzinfo=dt.UTC), "1m", {}
    )
    sql = "SELECT $__timeGroupAlias(b, $__interval), x FROM t WHERE $__timeFilter(b) AND $__interval_ms < 10"
    expanded = expand_macros(interpolate_variables(sql, view), view, timescaledb=True)
    assert expanded == (
        "SELECT time_bucket('60.000s',b) AS \"time\", x FROM t WHERE b BETWEEN '2026-09-01T00:00:00Z'"
        " AND '2026-09-02T00:00:01.5Z' AND 60000 < 10"
    )
    assert expand_macros("$__timeGroup(b, '5m')", view, timescaledb=False) == "floor(extract(epoch from b)/300)*300"


async def test_the_cohort_wear_per_local_day_counts_whole_days_and_equals_the_api(
    loaded: asyncpg.Connection, database: str, settings: Settings
) -> None:
    (wear,) = [q for q in QUERIES if q.where.startswith("Wear time per participant")]
    # A range that starts and ends mid-day in every zone: only the local days wholly inside it count.
    view = View(utc(START) + dt.timedelta(hours=2), utc(START, DAYS), "5m", variable_defaults(wear.dashboard))
    rows = await loaded.fetch(expand_macros(interpolate_variables(wear.sql, view), view, timescaledb=True))
    shown = {(row["metric"], row["time"].date()): row["value"] for row in rows}
    zones = {r["participant_id"]: r["timezone"] for r in await loaded.fetch("SELECT * FROM participants")}
    enrolled = {r["participant_id"]: r["enrolled_on"] for r in await loaded.fetch("SELECT * FROM participants")}
    pool = await create_pool(database, size=1)
    try:
        key = (await create_key(pool, "researcher", None)).token
    finally:
        await pool.close()
    expected: dict[tuple[str, dt.date], float] = {}
    partial: set[tuple[str, dt.date]] = set()
    async with AsyncTestClient(create_app(api_settings(settings, database))) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        response = await client.get(
            "/v1/adherence",
            params={"start": str(START - dt.timedelta(1)), "end": str(START + dt.timedelta(DAYS + 1)), "daily": True},
        )
        assert response.status_code == 200, response.text
    for item in response.json()["items"]:
        zone = ZoneInfo(zones[item["participant_id"]])
        for day in item["daily"]:
            date = dt.date.fromisoformat(day["date"])
            start = dt.datetime.combine(date, dt.time(), tzinfo=zone)
            end = dt.datetime.combine(date + dt.timedelta(1), dt.time(), tzinfo=zone)
            inside = start >= view.start and end <= view.end
            if inside and date >= enrolled[item["participant_id"]]:
                expected[(item["participant_id"], date)] = round(100 * day["worn_minutes"] / day["day_minutes"], 1)
            elif start < view.end and end > view.start:
                partial.add((item["participant_id"], date))
    assert shown == expected
    assert len({pid for pid, _ in expected}) >= 2
    assert partial
    assert not partial & shown.keys()
    assert any(value > 0 for value in expected.values())


@asynccontextmanager
async def researcher_client(settings: Settings, database: str) -> AsyncIterator[AsyncTestClient[Any]]:
    pool = await create_pool(database, size=1)
    try:
        key = (await create_key(pool, "researcher", None)).token
    finally:
        await pool.close()
    async with AsyncTestClient(create_app(api_settings(settings, database))) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield client


def _panel_sql(where: str, view: View) -> str:
    (query,) = [q for q in QUERIES if q.where == where]
    return expand_macros(interpolate_variables(query.sql, view), view, timescaledb=True)


async def test_the_alert_panels_show_the_apis_open_alerts_and_nights(
    loaded: asyncpg.Connection, database: str, settings: Settings
) -> None:
    variables = {"participant": ALERTED}
    view = View(utc(START, -60), utc(START, DAYS), "1h", variables)
    async with researcher_client(settings, database) as client:
        served = (await client.get("/v1/alerts", params={"limit": 1000})).json()["items"]
        params = {"start": str(START - dt.timedelta(61)), "end": str(START + dt.timedelta(DAYS + 1))}
        nights = (await client.get(f"/v1/participants/{ALERTED}/nights", params=params)).json()["items"]

    # The cohort's table: the open alerts the API serves, with their state; withdrawn ones left out.
    rows = await loaded.fetch(_panel_sql("Open illness alerts", view))
    shown = {(r["participant_id"], r["detector"], r["night"].isoformat(), r["level"], r["state"]) for r in rows}
    expected = {(a["participant_id"], a["detector"], a["night"], a["level"], a["state"]) for a in served}
    assert shown == {key for key in expected if key[4] != "withdrawn"}
    assert {"raised", "upgraded"} <= {key[4] for key in shown}
    assert any(key[4] == "withdrawn" for key in expected)
    assert any(key[3] == "red" and key[1] == "nightsignal" for key in shown)

    # The participant's nights: NightSignal's value and baseline per night, thresholds 3 and 4 bpm above.
    zone = ZoneInfo(await loaded.fetchval("SELECT timezone FROM participants WHERE participant_id = $1", ALERTED))
    points = await loaded.fetch(_panel_sql("Nightly resting HR vs baseline (NightSignal)", view))
    by_night = {r["time"].astimezone(zone).date().isoformat(): r for r in points}
    assert all(r["time"].astimezone(zone).time() == dt.time(7) for r in points)

    def morning(night: str) -> dt.datetime:
        return dt.datetime.combine(dt.date.fromisoformat(night), dt.time(7), tzinfo=zone)

    verdicts = {
        n["night"]: v
        for n in nights
        for v in n["detectors"]
        if v["detector"] == "nightsignal" and view.start <= morning(n["night"]) <= view.end
    }
    assert len(verdicts) >= 44
    assert set(by_night) == set(verdicts)
    for night, verdict in verdicts.items():
        row = by_night[night]
        assert row["resting_hr"] == pytest.approx(verdict["value"])
        assert row["baseline"] == pytest.approx(verdict["baseline"])
        assert row["yellow_threshold"] == pytest.approx(verdict["baseline"] + 3)
        assert row["red_threshold"] == pytest.approx(verdict["baseline"] + 4)

    # Its alert markers and table: one marker per open alert of the range, every alert in the table.
    (annotation,) = [q for q in QUERIES if q.where == "annotation Alerts"]
    markers = await loaded.fetch(expand_macros(interpolate_variables(annotation.sql, view), view, timescaledb=True))
    own = [a for a in served if a["participant_id"] == ALERTED]
    assert len(markers) == sum(a["state"] != "withdrawn" for a in own)
    assert {m["tags"] for m in markers} <= {"yellow", "red"}
    table = await loaded.fetch(_panel_sql("Alerts", view))
    assert len(table) == len(own)
