"""`wearstream export` without `--api`: straight from the database (as `wearstream_readonly`), the same dataset
as through the API; resumable; Open mHealth data points that validate against the published schemas' shapes."""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import httpx
import jsonschema_rs
import pandas as pd
import pyarrow.dataset as ds
import pytest
from typer.testing import CliRunner

from core.settings import Settings
from tests.integration.api_server import serve_api
from tests.integration.test_api_series import START, Cohort, api_settings, load_cohort
from wearstream.cli import app

FIRST, END = START.isoformat(), (START + dt.timedelta(days=2)).isoformat()
METRICS = "heart_rate,steps,hrv_rmssd,spo2,sleep_stage"
OMH_SCHEMAS = Path(__file__).parents[1] / "data" / "omh"


@pytest.fixture(scope="module")
async def cohort(database: str) -> Cohort:
    return await load_cohort(database, participants=3, days=2)


@pytest.fixture(scope="module")
def api(cohort: Cohort, settings: Settings) -> Iterator[str]:
    with serve_api(api_settings(settings, cohort.url, rate_limit_per_minute=0)) as base:
        yield base


@pytest.fixture(scope="module")
def readonly_env(cohort: Cohort, settings: Settings) -> dict[str, str]:
    """The environment of a `wearstream export` reading the cohort's database as `wearstream_readonly`."""
    readonly = urlsplit(settings.database.readonly_dsn)
    assert readonly.username == "wearstream_readonly"
    database = urlsplit(cohort.url).path
    return {"WEARSTREAM_DATABASE_READONLY_URL": urlunsplit(readonly._replace(path=database))}


def export(out: Path, env: dict[str, str], *extra: str, metrics: str = METRICS) -> str:
    arguments = ["export", "--out", str(out), "--metrics", metrics, "--start", FIRST, "--end", END, *extra]
    result = CliRunner().invoke(app, arguments, env={"WEARSTREAM_CLIENT_URL": "", **env})
    assert result.exit_code == 0, result.output
    return result.output


def by_day(frame: pd.DataFrame) -> pd.DataFrame:
    """Count, sum, min and max of `value` per participant × metric × local date."""
    frame = frame.assign(date=pd.to_datetime(frame["local_time"]).dt.date)
    return frame.groupby(["participant", "metric", "date"])["value"].agg(["count", "sum", "min", "max"])


def api_points(api: str, key: str, participant: str, metric: str) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = []
    params: dict[str, Any] = {"start": FIRST, "end": END, "resolution": "raw", "max_points": 100_000}
    with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {key}"}) as http:
        while True:
            page = http.get(f"/v1/participants/{participant}/series/{metric}", params=params).json()
            points.extend(page["points"])
            if not page["next_cursor"]:
                return points
            params["cursor"] = page["next_cursor"]


def test_the_database_export_equals_the_api_export_and_answers(
    api: str, cohort: Cohort, readonly_env: dict[str, str], tmp_path: Path
) -> None:
    from_db, from_api = tmp_path / "db", tmp_path / "api"
    output = export(from_db, readonly_env)
    assert "20 new and 0 kept" in " ".join(output.split()), output[-600:]
    export(from_api, {}, "--api", api, "--key", cohort.keys["researcher"])

    # Series: the same files, byte for byte.
    db_files = sorted(p.relative_to(from_db) for p in (from_db / "series").rglob("*.parquet"))
    assert len(db_files) == 15
    assert db_files == sorted(p.relative_to(from_api) for p in (from_api / "series").rglob("*.parquet"))
    for path in db_files:
        assert (from_db / path).read_bytes() == (from_api / path).read_bytes(), path
    # Tables: the same rows.
    for name in ("participants", "daily", "sleep", "adherence", "adherence_summary", "gaps", "alerts"):
        left, right = pd.read_parquet(from_db / f"{name}.parquet"), pd.read_parquet(from_api / f"{name}.parquet")
        assert len(left) == len(right), name
        volatile = [c for c in left.columns if c in ("as_of", "hours_since_last_upload")]
        pd.testing.assert_frame_equal(left.drop(columns=volatile), right.drop(columns=volatile), obj=name)

    # Read back with pyarrow: per participant × metric × local day, what the API's raw points give.
    table = ds.dataset(from_db / "series", format="parquet", partitioning="hive").to_table().to_pandas()
    exported = by_day(table)
    for participant in ("P0001", "P0002", "P0003"):
        zone = ZoneInfo(cohort.participants[participant].timezone)
        for metric in METRICS.split(","):
            points = api_points(api, cohort.keys["researcher"], participant, metric)
            times = pd.to_datetime([p["time"] for p in points], utc=True, format="ISO8601")
            frame = pd.DataFrame(
                {
                    "participant": participant,
                    "metric": metric,
                    "local_time": times.tz_convert(zone).tz_localize(None),
                    "value": [p["value"] for p in points],
                }
            )
            expected = by_day(frame)
            assert len(expected) > 0
            got, want = exported.loc[(participant, metric)], expected.loc[(participant, metric)]
            exact = ["count", "min", "max"]
            pd.testing.assert_frame_equal(got[exact], want[exact], check_exact=True)
            pd.testing.assert_series_equal(got["sum"], want["sum"], rtol=1e-12)  # summation order may differ
    codebook = json.loads((from_db / "codebook.json").read_text())
    assert codebook["export"]["api"].startswith("the database")


def test_an_interrupted_database_export_resumes_to_the_same_files(
    cohort: Cohort, readonly_env: dict[str, str], tmp_path: Path
) -> None:
    whole, partial = tmp_path / "whole", tmp_path / "partial"
    export(whole, readonly_env)
    export(partial, readonly_env)
    manifest = json.loads((partial / "manifest.json").read_text())
    dropped = sorted(manifest["done"])[5:]
    for name in dropped:
        metric, participant = name.split("/")
        part = partial / "series" / f"metric={metric}" / f"participant={participant}" / "part-0.parquet"
        part.unlink(missing_ok=True)  # P0999 has no data: no file
        del manifest["done"][name]
    # …and a half-written temporary file of the part that was being written.
    metric, participant = dropped[0].split("/")
    (partial / "series" / f"metric={metric}" / f"participant={participant}" / ".part-0.parquet.tmp").write_bytes(b"x")
    (partial / "manifest.json").write_text(json.dumps(manifest))
    assert f"{len(dropped)} new and 5 kept" in " ".join(export(partial, readonly_env).split())
    for path in (whole / "series").rglob("*.parquet"):
        assert (partial / path.relative_to(whole)).read_bytes() == path.read_bytes()
    assert not list(partial.rglob("*.tmp"))


def test_omh_data_points_validate_against_the_schemas(
    cohort: Cohort, readonly_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "omh"
    export(out, readonly_env, "--format", "omh", metrics="heart_rate,steps,spo2,sleep_stage")
    checked: dict[str, int] = {}
    for name, schema_file in (
        ("heart_rate", "heart-rate-2.0.json"),
        ("spo2", "oxygen-saturation-2.0.json"),
        ("steps", "step-count-3.0.json"),
        ("sleep_stage", "sleep-episode-1.1.json"),
    ):
        validator = jsonschema_rs.validator_for(json.loads((OMH_SCHEMAS / schema_file).read_text()))
        for path in (out / "series" / f"metric={name}").rglob("part-0.jsonl"):
            for line in path.read_text().splitlines():
                point = json.loads(line)
                errors = [str(e) for e in validator.iter_errors(point)]
                assert errors == [], (path, line[:300])
                checked[name] = checked.get(name, 0) + 1
    assert set(checked) == {"heart_rate", "spo2", "steps", "sleep_stage"}
    assert len(pd.read_parquet(out / "daily.parquet")) > 0  # the tables in Parquet beside the data points
    # hrv_rmssd has no OMH schema: named, not silently dropped.
    result = CliRunner().invoke(
        app, ["export", "--out", str(tmp_path / "x"), "--format", "omh", "--metrics", "hrv_rmssd"], env=readonly_env
    )
    assert result.exit_code == 2
    assert "without an Open mHealth schema hrv_rmssd" in result.output


def test_a_database_export_stays_within_a_generous_memory_bound(
    cohort: Cohort, readonly_env: dict[str, str], tmp_path: Path
) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "wearstream", "export", "--out", str(tmp_path), "--metrics", METRICS],
        env={**os.environ, "WEARSTREAM_CLIENT_URL": "", **readonly_env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert peak_kib < 1024 * 1024  # KiB (Linux): the largest child so far stayed under 1 GiB
    assert "exported" in run.stderr


def test_an_unreachable_database_is_named_not_a_traceback(tmp_path: Path) -> None:
    env = {"WEARSTREAM_CLIENT_URL": "", "WEARSTREAM_DATABASE_READONLY_URL": "postgresql://x:y@127.0.0.1:1/none"}
    result = CliRunner().invoke(app, ["export", "--out", str(tmp_path)], env=env)
    assert result.exit_code == 1
    assert "cannot read the database" in result.output
    assert "Traceback" not in result.output
