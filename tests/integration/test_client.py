"""The analyst client and `wearstream export` against a real API (uvicorn) on the real TimescaleDB: every
frame equals the REST answer it came from, paging and 429 are handled, the export reads back as one dataset."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import nbformat
import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pytest
from nbclient import NotebookClient
from typer.testing import CliRunner

from core.settings import Settings
from schemas.participants import Participant
from stream_processors.db import create_pool
from tests import factories
from tests.integration.api_server import serve_api
from tests.integration.test_api_series import START, Cohort, api_settings, load_cohort
from wearstream.cli import app
from wearstream.client import Client, NotFoundError, RetryPolicy
from wearstream.client.export import series_schema

EXTRA_PARTICIPANTS = 105
FIRST, END = START.isoformat(), (START + dt.timedelta(days=2)).isoformat()


@pytest.fixture(scope="module")
async def cohort(database: str) -> Cohort:
    """Six participants with two simulated days, plus 105 enrolled without data (for paging)."""
    loaded = await load_cohort(database, participants=6, days=2)
    pool = await create_pool(database, size=1)
    try:
        extra = [
            Participant(participant_id=f"Q{k:04d}", enrolled_on=START, timezone="America/New_York")
            for k in range(EXTRA_PARTICIPANTS)
        ]
        await factories.sink(pool).upsert_participants(extra)
    finally:
        await pool.close()
    return loaded


@pytest.fixture(scope="module")
def api(cohort: Cohort, settings: Settings) -> Iterator[str]:
    with serve_api(api_settings(settings, cohort.url, rate_limit_per_minute=0)) as base:
        yield base


@pytest.fixture(scope="module")
def rest(api: str, cohort: Cohort) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {cohort.keys['researcher']}"}) as http:
        yield http


def get(rest: httpx.Client, path: str, **params: Any) -> Any:
    response = rest.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def all_points(rest: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = []
    while True:
        page = get(rest, path, max_points=100_000, **params)
        points.extend(page["points"])
        if not page["next_cursor"]:
            return points
        params["cursor"] = page["next_cursor"]


def utc_ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def nums(values: list[Any]) -> list[float]:
    """JSON numbers with null as NaN (how a frame holds a missing number)."""
    return [float("nan") if v is None else float(v) for v in values]


def as_ms(column: pd.Series) -> list[int | None]:
    """Epoch milliseconds of a timestamp column (None for NaT), whatever its unit."""
    return [None if pd.isna(v) else int(v.timestamp() * 1000) for v in column]


def test_participants_follow_every_page(api: str, rest: httpx.Client, cohort: Cohort) -> None:
    with Client(api, cohort.keys["researcher"], page_size=7) as client:
        frame = client.participants()
        requests = client.requests
    expected = get(rest, "/v1/participants", limit=1000)
    assert expected["total"] == len(cohort.participants) + EXTRA_PARTICIPANTS > 100
    assert list(frame["participant_id"]) == [item["participant_id"] for item in expected["items"]]
    assert requests == -(-expected["total"] // 7)
    assert list(frame["timezone"]) == [item["timezone"] for item in expected["items"]]
    assert str(frame["last_upload"].dt.tz) == "UTC"


def test_the_codebook_frame_equals_the_metrics_endpoint(api: str, rest: httpx.Client, cohort: Cohort) -> None:
    with Client(api, cohort.keys["participant"]) as client:
        frame = client.metrics()
        table = client.metrics(frame="arrow")
    expected = get(rest, "/v1/metrics")
    assert list(frame["name"]) == [entry["name"] for entry in expected["metrics"]]
    assert list(frame["unit"]) == [entry["unit"] for entry in expected["metrics"]]
    assert list(frame["precision"]) == [entry["precision"] for entry in expected["metrics"]]
    assert [list(fields) for fields in frame["rollup_fields"]] == [e["rollup_fields"] for e in expected["metrics"]]
    assert frame.attrs["resolutions"] == expected["resolutions"]
    assert table.num_rows == len(expected["metrics"])


@pytest.mark.parametrize(
    ("metric", "resolution", "fields"),
    [
        ("heart_rate", "raw", ["value"]),
        ("hrv_rmssd", "raw", ["value", "coverage", "lf", "hf"]),
        ("steps", "1m", ["count", "min", "max", "mean", "sum"]),
        ("heart_rate", "1h", ["count", "min", "max", "mean"]),
        ("heart_rate", "auto", ["count", "min", "max", "mean"]),
    ],
)
def test_series_frames_equal_the_rest_points(
    api: str, rest: httpx.Client, cohort: Cohort, metric: str, resolution: str, fields: list[str]
) -> None:
    participants = ["P0001", "P0002", "P0003"]
    with Client(api, cohort.keys["researcher"], page_size=1000) as client:
        frame = client.series(participants, metric, FIRST, END, resolution=resolution)  # type: ignore[arg-type]
        requests = client.requests
    assert list(frame.columns[:5]) == ["participant_id", "metric", "time", "local_time", "timezone"]
    assert str(frame["time"].dt.tz) == "UTC"
    pages = 0
    for participant in participants:
        params: dict[str, Any] = {"start": FIRST, "end": END, "resolution": resolution}
        if resolution == "auto":
            points = get(rest, f"/v1/participants/{participant}/series/{metric}", **params)["points"]
        else:
            points = all_points(rest, f"/v1/participants/{participant}/series/{metric}", **params)
        pages += max(1, -(-len(points) // 1000))
        own = frame[frame["participant_id"] == participant]
        assert len(own) == len(points) > 0
        assert as_ms(own["time"]) == [utc_ms(p["time"]) for p in points]
        zone = ZoneInfo(cohort.participants[participant].timezone)
        local = [dt.datetime.fromtimestamp(utc_ms(p["time"]) / 1000, zone).replace(tzinfo=None) for p in points]
        assert list(own["local_time"].dt.to_pydatetime()) == local
        assert set(own["timezone"]) == {cohort.participants[participant].timezone}
        for name in fields:
            source = [p.get("extra", {}).get(name) if name in ("coverage", "lf", "hf") else p.get(name) for p in points]
            np.testing.assert_array_equal(own[name].to_numpy(dtype=float), np.array(source, dtype=float))
    if metric != "hrv_rmssd" and resolution in ("raw", "1m"):
        assert pages > len(participants)  # several pages per participant were followed
    assert requests == pages + len(participants)  # + one time-zone lookup each
    assert frame.attrs["units"].get("value", frame.attrs["units"].get("mean")) in ("bpm", "ms", "steps")


def test_daily_sleep_gaps_and_adherence_frames_equal_the_rest_answers(
    api: str, rest: httpx.Client, cohort: Cohort
) -> None:
    participants = ["P0001", "P0004"]
    with Client(api, cohort.keys["researcher"]) as client:
        daily = client.daily(participants, FIRST, END)
        sleep = client.sleep(participants, FIRST, END)
        gaps = client.gaps(participants, FIRST, END)
        cohort_gaps = client.gaps(None, FIRST, END)
        adherence = client.adherence(FIRST, END)
        per_day = client.adherence(FIRST, END, per_day=True)
    for participant in participants:
        days = get(rest, f"/v1/participants/{participant}/daily", start=FIRST, end=END)["days"]
        own = daily[daily["participant_id"] == participant]
        assert len(own) == len(days) == 2
        assert [d.date().isoformat() for d in own["date"]] == [d["date"] for d in days]
        assert list(own["wear_minutes"]) == [d["wear_minutes"] for d in days]
        assert own["resting_hr"].tolist() == pytest.approx(nums([d["resting_hr"] for d in days]), nan_ok=True)
        assert own["sleep_minutes_asleep"].tolist() == pytest.approx(
            nums([d["sleep"]["minutes_asleep"] for d in days]), nan_ok=True
        )
        assert list(own["coverage_pct_heart_rate"]) == [d["coverage_pct"]["heart_rate"] for d in days]
        nights = get(rest, f"/v1/participants/{participant}/sleep", start=FIRST, end=END)["nights"]
        own_nights = sleep[sleep["participant_id"] == participant]
        assert len(own_nights) == len(nights)
        assert as_ms(own_nights["onset"]) == [utc_ms(n["onset"]) if n["onset"] else None for n in nights]
        items = get(rest, f"/v1/participants/{participant}/gaps", start=FIRST, end=END, status="all")["items"]
        own_gaps = gaps[gaps["participant_id"] == participant]
        assert len(own_gaps) == len(items)
        assert as_ms(own_gaps["start"]) == [utc_ms(g["start"]) for g in items]
        zone = ZoneInfo(cohort.participants[participant].timezone)
        assert list(own_gaps["local_start"].dt.to_pydatetime()) == [
            dt.datetime.fromtimestamp(utc_ms(g["start"]) / 1000, zone).replace(tzinfo=None) for g in items
        ]
    assert len(cohort_gaps) == len(get(rest, "/v1/gaps", start=FIRST, end=END, status="all", limit=10_000)["items"])
    report = get(rest, "/v1/adherence", start=FIRST, end=END)
    assert list(adherence["participant_id"]) == [i["participant_id"] for i in report["items"]]
    assert adherence["wear_pct"].tolist() == pytest.approx(nums([i["wear_pct"] for i in report["items"]]), nan_ok=True)
    assert len(per_day) == sum(len(i["daily"]) for i in report["items"])
    assert adherence.attrs["thresholds"] == report["thresholds"]


def test_unknown_things_raise_clear_errors(api: str, cohort: Cohort) -> None:
    with Client(api, cohort.keys["researcher"]) as client:
        with pytest.raises(NotFoundError, match="unknown participant"):
            client.series("P7777", "heart_rate", FIRST, END)
        with pytest.raises(ValueError, match="metric: unknown"):
            client.series("P0001", "blood_pressure")
        # The server serves alerts; the replayed cohort had no illness episode, so there are none.
        assert len(client.alerts("P0001")) == 0
        assert len(client.alerts()) == 0
        with pytest.raises(NotFoundError, match="unknown participant"):
            client.alerts("P7777")


def test_rate_limited_requests_wait_retry_after_and_lose_nothing(cohort: Cohort, settings: Settings) -> None:
    limits = api_settings(settings, cohort.url, rate_limit_per_minute=20)
    with serve_api(limits) as base, Client(base, cohort.keys["researcher"], page_size=5, retry=RetryPolicy()) as client:
        frame = client.participants()
        limited, requests = client.rate_limited, client.requests
    assert len(frame) == len(cohort.participants) + EXTRA_PARTICIPANTS
    assert frame["participant_id"].is_unique
    assert limited >= 1
    assert requests == -(-len(frame) // 5) + limited


def _export(api: str, key: str, out: Path, *extra: str) -> str:
    result = CliRunner().invoke(
        app,
        [
            "export",
            "--out",
            str(out),
            "--participants",
            "P0001,P0002",
            "--metrics",
            "heart_rate,steps,hrv_rmssd",
            "--start",
            FIRST,
            "--end",
            END,
            "--api",
            api,
            "--key",
            key,
            *extra,
        ],
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_export_reads_back_as_one_dataset_equal_to_the_api(
    api: str, rest: httpx.Client, cohort: Cohort, tmp_path: Path
) -> None:
    out = tmp_path / "study"
    _export(api, cohort.keys["researcher"], out)
    dataset = ds.dataset(out / "series", format="parquet", partitioning="hive")
    assert {"value", "coverage", "lf", "hf", "metric", "participant"} <= set(dataset.schema.names)
    table = dataset.to_table()
    for participant in ("P0001", "P0002"):
        for metric in ("heart_rate", "steps", "hrv_rmssd"):
            rows = table.filter((pc.field("participant") == participant) & (pc.field("metric") == metric))
            points = all_points(
                rest, f"/v1/participants/{participant}/series/{metric}", start=FIRST, end=END, resolution="raw"
            )
            assert rows.num_rows == len(points) > 0
            values = rows.column("value").to_numpy()
            assert values.sum() == pytest.approx(sum(p["value"] for p in points), rel=1e-12)
            assert values.min() == min(p["value"] for p in points)
            assert values.max() == max(p["value"] for p in points)
            assert as_ms(rows.column("time").to_pandas()) == [utc_ms(p["time"]) for p in points]
            if metric == "hrv_rmssd":
                coverage = rows.column("coverage").to_numpy(zero_copy_only=False)
                np.testing.assert_array_equal(coverage, [p["extra"]["coverage"] for p in points])
            # per local day, as the daily summaries count them
            days = rows.column("local_time").to_pandas().dt.date.value_counts().to_dict()
            assert sum(days.values()) == len(points)
    metadata = ds.dataset(out / "series" / "metric=heart_rate", format="parquet").files
    assert len(metadata) == 2
    assert all(f.endswith("part-0.parquet") for f in metadata)
    assert not list(out.rglob("*.tmp"))

    book = json.loads((out / "codebook.json").read_text())
    assert book["metrics"]["heart_rate"]["unit"] == "bpm"
    assert set(book["metrics"]) == {"heart_rate", "steps", "hrv_rmssd"}
    assert book["metrics"]["hrv_rmssd"]["precision"] == 0.001
    assert set(book["tables"]) >= {"series heart_rate", "participants", "daily", "sleep", "adherence", "gaps"}
    assert "alerts" in book["tables"]
    hr = book["tables"]["series heart_rate"]["columns"]
    assert hr["value"]["unit"] == "bpm"
    assert hr["time"]["time_zone"].startswith("UTC")
    assert hr["local_time"]["time_zone"].startswith("the participant's local")
    for name, entry in book["tables"].items():
        path = out / entry["path"] if "*" not in entry["path"] else None
        if path is not None:
            columns = pd.read_parquet(path).columns
            assert set(entry["columns"]) == set(columns), name
            assert entry["rows"] == len(pd.read_parquet(path))
        assert [c for c, facts in entry["columns"].items() if not facts["description"]] == [], name
    daily = pd.read_parquet(out / "daily.parquet")
    assert len(daily) == 4
    assert "contact_email" not in pd.read_parquet(out / "participants.parquet").columns
    readme = (out / "README.md").read_text()
    assert "| heart_rate | bpm | 1 |" in readme
    assert "## daily" in readme

    before = {p: p.read_bytes() for p in out.rglob("*.parquet")}
    assert "0 new and 6 kept" in _export(api, cohort.keys["researcher"], out)
    resumed = {p: p.read_bytes() for p in out.rglob("*.parquet")}
    assert resumed == before
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["done"]) == 6
    _export(api, cohort.keys["researcher"], out, "--fresh")
    assert {p: p.read_bytes() for p in out.rglob("*.parquet")} == before


def test_an_interrupted_export_resumes_to_the_same_files(api: str, cohort: Cohort, tmp_path: Path) -> None:
    whole, partial = tmp_path / "whole", tmp_path / "partial"
    _export(api, cohort.keys["researcher"], whole)
    _export(api, cohort.keys["researcher"], partial)
    # An interruption after some parts: the manifest lists them, a later part is half-written and unlisted.
    manifest = json.loads((partial / "manifest.json").read_text())
    dropped = sorted(manifest["done"])[3:]
    for name in dropped:
        metric, participant = name.split("/")
        part = partial / "series" / f"metric={metric}" / f"participant={participant}" / "part-0.parquet"
        part.unlink(missing_ok=True)
        del manifest["done"][name]
    (partial / "manifest.json").write_text(json.dumps(manifest))
    output = _export(api, cohort.keys["researcher"], partial)
    assert f"{len(dropped)} new and {6 - len(dropped)} kept" in output
    for path in (whole / "series").rglob("*.parquet"):
        assert (partial / path.relative_to(whole)).read_bytes() == path.read_bytes()


def test_export_refuses_a_folder_holding_another_export(api: str, cohort: Cohort, tmp_path: Path) -> None:
    _export(api, cohort.keys["researcher"], tmp_path)
    result = CliRunner().invoke(
        app, ["export", "--out", str(tmp_path), "--metrics", "steps", "--api", api, "--key", cohort.keys["researcher"]]
    )
    assert result.exit_code == 1
    assert "other parameters" in result.output


def test_export_names_bad_metrics_and_missing_keys(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["export", "--out", str(tmp_path), "--metrics", "bp", "--key", "k"])
    assert result.exit_code == 2
    assert "--metrics: unknown bp" in result.output
    result = CliRunner().invoke(
        app, ["export", "--out", str(tmp_path), "--api", "http://127.0.0.1:9"], env={"WEARSTREAM_CLIENT_KEY": ""}
    )
    assert result.exit_code == 2
    assert "--api needs --key" in result.output


def test_the_day_window_is_the_participants_local_days(api: str, cohort: Cohort) -> None:
    """Dates mean each participant's local midnights: the first raw reading is at or after it."""
    with Client(api, cohort.keys["researcher"]) as client:
        frame = client.series(["P0001", "P0002"], "heart_rate", FIRST, END, resolution="raw")
    for participant, own in frame.groupby("participant_id"):
        zone = ZoneInfo(cohort.participants[str(participant)].timezone)
        midnight = dt.datetime.combine(START, dt.time(), tzinfo=zone)
        assert own["time"].min() >= pd.Timestamp(midnight)
        assert own["local_time"].min().date() == START


FIGURES = ("adherence.png", "participant_week.png", "heart_rate_distribution.png")


def test_the_quickstart_notebook_runs_against_the_api(
    api: str, cohort: Cohort, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Executes docs/notebooks/quickstart.ipynb in a kernel; `WEARSTREAM_README_FIGURES=1` keeps its figures
    in docs/notebooks/figures/ (the README shows them)."""
    notebook_path = Path(__file__).parents[2] / "docs" / "notebooks" / "quickstart.ipynb"
    figures = notebook_path.parent / "figures" if os.environ.get("WEARSTREAM_README_FIGURES") else tmp_path / "figures"
    monkeypatch.setenv("WEARSTREAM_CLIENT_URL", api)
    monkeypatch.setenv("WEARSTREAM_CLIENT_KEY", cohort.keys["researcher"])
    monkeypatch.setenv("WEARSTREAM_NOTEBOOK_OUT", str(tmp_path / "export"))
    monkeypatch.setenv("WEARSTREAM_NOTEBOOK_FIGURES", str(figures))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(notebook_path, as_version=4)  # type: ignore[no-untyped-call]
    run = NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    run.execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    text = "".join(output.get("text", "") for output in outputs if output.output_type == "stream")
    assert "the exported minutes add up to the daily step totals" in text
    assert f"{len(cohort.participants) + EXTRA_PARTICIPANTS} participants" in text
    assert sum("image/png" in output.get("data", {}) for output in outputs) == len(FIGURES)
    for name in FIGURES:
        assert (figures / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert (tmp_path / "export" / "codebook.json").exists()


def test_a_csv_export_has_the_same_rows_as_the_parquet_one(api: str, cohort: Cohort, tmp_path: Path) -> None:
    parquet, csv = tmp_path / "parquet", tmp_path / "csv"
    _export(api, cohort.keys["researcher"], parquet)
    _export(api, cohort.keys["researcher"], csv, "--format", "csv")
    from_parquet = ds.dataset(parquet / "series", format="parquet", partitioning="hive").to_table()
    # CSV carries no types: a reader takes them from the export's schema (as the codebook lists them).
    types = pacsv.ConvertOptions(column_types={f.name: f.type for f in series_schema("raw")})
    csv_format = ds.CsvFileFormat(convert_options=types)
    from_csv = ds.dataset(csv / "series", format=csv_format, partitioning="hive").to_table()
    assert from_csv.num_rows == from_parquet.num_rows
    key = ["metric", "participant", "time"]
    left = from_parquet.select([*key, "value"]).to_pandas().sort_values(key, ignore_index=True)
    right = from_csv.select([*key, "value"]).to_pandas().sort_values(key, ignore_index=True)
    assert as_ms(left["time"]) == as_ms(pd.to_datetime(right["time"], utc=True))
    np.testing.assert_array_equal(left["value"].to_numpy(), right["value"].to_numpy())
    participants = pd.read_csv(csv / "participants.csv")
    assert list(participants["participant_id"]) == ["P0001", "P0002"]
    assert (csv / "codebook.json").exists()
