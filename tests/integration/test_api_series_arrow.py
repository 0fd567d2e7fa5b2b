"""`format=arrow` on the real TimescaleDB: every page holds the JSON page's points and fields, pages by the
same cursors (in `X-Next-Cursor`), carries units in its metadata, and refuses what JSON refuses."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import pyarrow as pa
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from tests.integration.test_api_series import DAY, T0, Cohort, api_settings, iso, load_cohort, ms

ARROW = "application/vnd.apache.arrow.stream"


@pytest.fixture(scope="module")
async def cohort(database: str) -> Cohort:
    return await load_cohort(database, participants=2, days=2)


@pytest.fixture(scope="module")
async def client(cohort: Cohort, settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(create_app(api_settings(settings, cohort.url))) as test_client:
        test_client.headers["Authorization"] = f"Bearer {cohort.keys['researcher']}"
        yield test_client


def json_columns(points: list[dict[str, Any]], names: list[str]) -> dict[str, list[Any]]:
    """The JSON points as the Arrow page's columns (epoch ms; `extra` and `stage_epochs` spread out)."""
    out: dict[str, list[Any]] = {name: [] for name in names}
    for point in points:
        for name in names:
            if name == "time":
                out[name].append(ms(point["time"]))
            elif name.endswith("_epochs"):
                stage = ["wake", "light", "deep", "rem"].index(name.removesuffix("_epochs"))
                out[name].append(point["stage_epochs"][stage] if "stage_epochs" in point else None)
            elif name in point:
                out[name].append(point[name])
            else:
                out[name].append((point.get("extra") or {}).get(name))
    return out


def same(left: list[Any], right: list[Any]) -> bool:
    def norm(v: Any) -> Any:
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)

    return [norm(v) for v in left] == [norm(v) for v in right]


@pytest.mark.parametrize(
    ("participant", "metric", "resolution", "max_points"),
    [
        ("P0001", "heart_rate", "raw", 5000),
        ("P0002", "hrv_rmssd", "raw", 100),
        ("P0001", "steps", "1m", 1000),
        ("P0002", "sleep_stage", "1m", 500),
        ("P0001", "heart_rate", "1h", 10),
        ("P0002", "heart_rate", "auto", 200),
        ("P0001", "spo2", "auto", 50),
    ],
)
async def test_arrow_pages_hold_the_json_pages_points(
    client: AsyncTestClient[Any], participant: str, metric: str, resolution: str, max_points: int
) -> None:
    path = f"/v1/participants/{participant}/series/{metric}"
    params: dict[str, Any] = {"start": iso(T0), "end": iso(T0 + 2 * DAY), "resolution": resolution}
    params["max_points"] = max_points
    pages = rows = 0
    while True:
        as_json = (await client.get(path, params=params)).json()
        response = await client.get(path, params={**params, "format": "arrow"})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(ARROW)
        table = pa.ipc.open_stream(response.content).read_all()
        facts = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        assert facts["resolution"] == as_json["resolution"] == response.headers["x-resolution"]
        assert facts["unit"] == as_json["unit"]
        assert response.headers.get("x-next-cursor") == as_json["next_cursor"]
        assert facts["next_cursor"] == (as_json["next_cursor"] or "")
        assert str(as_json["bucket_seconds"] or "") == response.headers.get("x-bucket-seconds", "")
        assert table.num_rows == len(as_json["points"])
        expected = json_columns(as_json["points"], table.column_names)
        assert table.column("time").cast(pa.int64()).to_pylist() == expected["time"]
        for name in table.column_names[1:]:
            assert same(table.column(name).to_pylist(), expected[name]), name
        unit_field = "value" if as_json["resolution"] == "raw" else "mean"
        assert table.schema.field(unit_field).metadata == {b"unit": as_json["unit"].encode()}
        pages += 1
        rows += table.num_rows
        if not as_json["next_cursor"]:
            break
        params["cursor"] = as_json["next_cursor"]
    assert rows > 0
    if resolution in ("raw", "1m") and metric in ("heart_rate", "steps"):
        assert pages > 1  # the cursor was followed


async def test_arrow_refuses_what_json_refuses(client: AsyncTestClient[Any], cohort: Cohort) -> None:
    path = "/v1/participants/P0001/series/heart_rate"
    bad_cursor = await client.get(path, params={"format": "arrow", "resolution": "raw", "cursor": "nope"})
    assert bad_cursor.status_code == 400
    assert "cursor" in bad_cursor.json()["detail"]
    unknown = await client.get("/v1/participants/P0001/series/bp", params={"format": "arrow"})
    assert unknown.status_code == 404
    other = await client.get(
        "/v1/participants/P0002/series/heart_rate",
        params={"format": "arrow"},
        headers={"Authorization": f"Bearer {cohort.keys['participant']}"},
    )
    assert other.status_code == 403
    bad_format = await client.get(path, params={"format": "feather"})
    assert bad_format.status_code == 400
