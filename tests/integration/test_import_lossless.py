"""wearipedia's Charge 6 outputs (one participant, 7 days) through the real pipeline: one `wearstream import`
of the folder, the worker, compaction, then the API. Every value comes back exactly as in the JSON; every day's
count, sum, mean, min and max equal numpy over the JSON. Also: bytes per stored heart-rate reading."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import gzip
import io
import json
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.auth.store import create_key
from bench.ingest import raw_bytes_per_reading
from core.settings import Settings
from core.topics import ensure_topics
from producers.fitbit import import_files
from schemas.migrate import migrate
from schemas.readings import encode_batch
from stream_processors.db import create_pool, drop_database
from stream_processors.envelope import Envelope
from stream_processors.validate import validate
from tests import factories
from tests.integration.conftest import database_url
from tests.integration.pipeline import isolated, start_processor, stop_processor, wait_for_readings
from tests.integration.test_api_series import api_settings

DATA = Path(__file__).parents[1] / "data" / "fitbit" / "wearipedia_7d"
PARTICIPANT = "W0001"
DAYS = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(7)]
DAY_MS = 86_400_000


def day_ms(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp() * 1000)


def iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat().replace("+00:00", "Z")


def unpack_folder(target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for packed in sorted(DATA.glob("*.json.gz")):
        (target / packed.name.removesuffix(".gz")).write_bytes(gzip.decompress(packed.read_bytes()))
    # A response wearstream has no home for, beside them: skipped with a warning, never aborting the rest.
    summary = {"activities-active-zone-minutes": [{"dateTime": "2024-01-01", "value": {"activeZoneMinutes": 3}}]}
    (target / "azm_summary.json").write_text(json.dumps(summary))
    return target


def truth(folder: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(UTC epoch ms, value) per metric straight from the JSON (the wearer's zone is UTC), sorted by time."""
    found: dict[str, list[tuple[int, float]]] = defaultdict(list)

    def at(text: str) -> int:
        return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp() * 1000)

    for element in json.loads((folder / "hr.json").read_text()):
        for day in element["heart_rate_day"]:
            date = day["activities-heart"][0]["dateTime"]
            found["heart_rate"] += [
                (at(f"{date}T{p['time']}"), p["value"]) for p in day["activities-heart-intraday"]["dataset"]
            ]
    for element in json.loads((folder / "azm.json").read_text()):
        for day in element["activities-active-zone-minutes-intraday"]:
            found["active_zone_minutes"] += [
                (at(f"{day['dateTime']}T{m['minute']}"), m["value"]["activeZoneMinutes"]) for m in day["minutes"]
            ]
    for element in json.loads((folder / "spo2.json").read_text()):
        found["spo2"] += [(at(m["minute"]), m["value"]) for m in element.get("minutes", [])]
    for element in json.loads((folder / "hrv.json").read_text()):
        for day in element.get("hrv", []):
            found["hrv_rmssd"] += [(at(m["minute"]), m["value"]["rmssd"]) for m in day["minutes"]]
    for element in json.loads((folder / "br.json").read_text()):
        for day in element.get("br", []):
            midnight = at(f"{day['dateTime']}T00:00:00")
            found["breathing_rate"] += [(midnight, stage["breathingRate"]) for stage in day["value"].values()]
    out = {}
    for metric, pairs in found.items():
        pairs.sort(key=lambda p: p[0])
        out[metric] = (np.array([p[0] for p in pairs], dtype=np.int64), np.array([p[1] for p in pairs], dtype=float))
    return out


class Imported:
    def __init__(self, url: str, folder: Path, stdout: str, stderr: str, keys: dict[str, str]) -> None:
        self.url, self.folder, self.stdout, self.stderr, self.keys = url, folder, stdout, stderr, keys
        self.truth = truth(folder)


@pytest.fixture(scope="module")
async def imported(settings: Settings, database: str, tmp_path_factory: pytest.TempPathFactory) -> Imported:
    folder = unpack_folder(tmp_path_factory.mktemp("wearipedia") / "W0001")
    expected = import_files([folder], participant_id=PARTICIPANT, device_id="charge6")
    env = isolated(settings, database)
    await ensure_topics(env.settings.kafka)
    worker = start_processor(env.env, tmp_path_factory.mktemp("logs") / "worker.log")
    try:
        result = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "wearstream",
                "import",
                "--participant",
                PARTICIPANT,
                "--metrics-port",
                "0",
                str(folder),
            ],
            env=env.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        await wait_for_readings(database, sum(expected.readings.values()), timeout_s=600, process=worker)
    finally:
        stop_processor(worker)
    pool = await create_pool(database, size=2)
    try:
        # Compacted rows must give the same values: everything below reads after compaction.
        from stream_processors.compaction import compact

        while (await compact(pool, settle_s=0)).periods:
            pass
        keys = {"researcher": (await create_key(pool, "researcher", None)).token}
    finally:
        await pool.close()
    return Imported(database, folder, result.stdout, result.stderr, keys)


@pytest.fixture(scope="module")
async def client(imported: Imported, settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(create_app(api_settings(settings, imported.url))) as test_client:
        test_client.headers["Authorization"] = f"Bearer {imported.keys['researcher']}"
        yield test_client


def test_the_folder_imports_in_one_command_and_what_has_no_home_is_a_warning(imported: Imported) -> None:
    assert "imported 7 file(s) for W0001" in imported.stdout
    summary = imported.folder / "azm_summary.json"
    stderr = " ".join(imported.stderr.split())
    assert f"warning: {summary}: $: skipped: a daily active-zone-minutes summary" in stderr


async def test_device_reported_daily_steps_and_resting_hr_are_served(
    client: AsyncTestClient[Any], imported: Imported
) -> None:
    steps = {e["dateTime"]: e["value"] for e in json.loads((imported.folder / "activity.json").read_text())}
    resting = {
        day["activities-heart"][0]["dateTime"]: day["activities-heart"][0]["value"]["restingHeartRate"]
        for element in json.loads((imported.folder / "hr.json").read_text())
        for day in element["heart_rate_day"]
    }
    params = {"start": "2024-01-01", "end": "2024-01-08"}
    report = (await client.get(f"/v1/participants/{PARTICIPANT}/daily", params=params)).json()
    assert [day["date"] for day in report["days"]] == sorted(steps)
    for day in report["days"]:
        reported = day["device_reported"]
        assert reported["steps"] == steps[day["date"]]
        assert reported["resting_heart_rate"] == resting[day["date"]]
        assert day["steps"] is None  # wearipedia has no intraday steps: nothing is computed from daily totals


@pytest.mark.parametrize("metric", ["heart_rate", "active_zone_minutes", "spo2", "hrv_rmssd", "breathing_rate"])
async def test_every_days_rollup_equals_numpy_over_the_json(
    client: AsyncTestClient[Any], imported: Imported, metric: str
) -> None:
    ts, values = imported.truth[metric]
    params: dict[str, Any] = {"start": "2024-01-01", "end": "2024-01-09", "resolution": "1d", "max_points": 100}
    response = await client.get(f"/v1/participants/{PARTICIPANT}/series/{metric}", params=params)
    assert response.status_code == 200, response.text
    points = {p["time"]: p for p in response.json()["points"]}
    expected_days = sorted({int(t) // DAY_MS * DAY_MS for t in ts})
    assert sorted(points) == [iso(d) for d in expected_days]
    for start in expected_days:
        mask = (ts >= start) & (ts < start + DAY_MS)
        point = points[iso(start)]
        assert point["count"] == int(mask.sum())
        assert point["min"] == values[mask].min()
        assert point["max"] == values[mask].max()
        assert point["mean"] == pytest.approx(values[mask].mean(), rel=1e-12)
        assert point["mean"] * point["count"] == pytest.approx(values[mask].sum(), rel=1e-12)
        if "sum" in point:
            assert point["sum"] == pytest.approx(values[mask].sum(), rel=1e-12)


async def test_raw_heart_rate_from_the_api_equals_the_json_bit_for_bit(
    client: AsyncTestClient[Any], imported: Imported
) -> None:
    ts, values = imported.truth["heart_rate"]
    assert np.count_nonzero(values % 1) > 100_000  # wearipedia's fractional heart rate
    # One day as JSON pages, the whole week as a CSV export.
    first = day_ms(DAYS[2])
    got: list[tuple[int, float]] = []
    params: dict[str, Any] = {
        "start": iso(first),
        "end": iso(first + DAY_MS),
        "resolution": "raw",
        "max_points": 100_000,
    }
    while True:
        page = (await client.get(f"/v1/participants/{PARTICIPANT}/series/heart_rate", params=params)).json()
        got += [(int(dt.datetime.fromisoformat(p["time"]).timestamp() * 1000), p["value"]) for p in page["points"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    mask = (ts >= first) & (ts < first + DAY_MS)
    assert [t for t, _ in got] == ts[mask].tolist()
    assert [v for _, v in got] == values[mask].tolist()

    export = await client.get(
        f"/v1/participants/{PARTICIPANT}/series/heart_rate",
        params={"start": "2024-01-01", "end": "2024-01-08", "resolution": "raw", "format": "csv"},
    )
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert len(rows) == len(values)
    exported = np.array([float(row["value"]) for row in rows])
    assert exported.view(np.int64).tolist() == values.view(np.int64).tolist()


async def test_daily_active_zone_minutes_equal_the_json(client: AsyncTestClient[Any], imported: Imported) -> None:
    ts, values = imported.truth["active_zone_minutes"]
    report = (
        await client.get(f"/v1/participants/{PARTICIPANT}/daily", params={"start": "2024-01-01", "end": "2024-01-08"})
    ).json()
    for day in report["days"]:
        start = day_ms(dt.date.fromisoformat(day["date"]))
        assert day["active_zone_minutes"] == values[(ts >= start) & (ts < start + DAY_MS)].sum()


async def _fresh_database(settings: Settings) -> str:
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(settings.database.url)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    url = database_url(settings.database.url, name)
    await migrate(url)
    return url


async def _drop_database(settings: Settings, url: str) -> None:
    await drop_database(settings.database.url, url.rsplit("/", 1)[1])


async def test_bytes_per_stored_heart_rate_reading_integer_and_float(
    settings: Settings, imported: Imported, tmp_path: Path, record_property: Any
) -> None:
    """The week of heart rate as wearipedia gave it (float) and rounded to whole bpm (integer), each stored
    through validate + Sink and compacted in a database of its own."""
    document = json.loads((imported.folder / "hr.json").read_text())
    rounded = json.loads(json.dumps(document))
    for element in rounded:
        for day in element["heart_rate_day"]:
            for point in day["activities-heart-intraday"]["dataset"]:
                point["value"] = float(round(point["value"]))
    sizes = {}
    for label, content in (("float", document), ("integer", rounded)):
        path = tmp_path / f"hr-{label}.json"
        path.write_text(json.dumps(content))
        batches = import_files(
            [path], participant_id=PARTICIPANT, device_id="charge6", sync_time=day_ms(DAYS[-1]) + DAY_MS
        ).batches
        url = await _fresh_database(settings)
        try:
            pool = await create_pool(url, size=2)
            try:
                sink = factories.sink(pool)
                valid = [
                    validate(
                        Envelope(topic="t", partition=0, offset=i, payload=encode_batch(b)),
                        expected_metric=None,
                        now_ms=day_ms(DAYS[-1]) + 2 * DAY_MS,
                    )
                    for i, b in enumerate(batches)
                ]
                for i in range(0, len(valid), 50):
                    await sink.apply(valid[i : i + 50])
            finally:
                await pool.close()
            sizes[label] = await raw_bytes_per_reading(url)
        finally:
            await _drop_database(settings, url)
    record_property("raw_bytes_per_reading", sizes)
    print(f"raw bytes per heart-rate reading after compaction: {sizes}")
    assert sizes["integer"] <= 1.75
    assert sizes["float"] < 9.0  # float64 where no decimal scale is exact, compressed by TOAST
