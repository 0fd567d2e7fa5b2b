"""`GET /v1/metrics`: the registry's codebook, readable with every role's key, the same entries as an export's
`codebook.json`, and listed in the OpenAPI schema."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from schemas.metrics import METRICS
from tests.integration.test_api_series import Cohort, api_settings, load_cohort
from wearstream.client.codebook import metric_entry


@pytest.fixture(scope="module")
async def cohort(database: str) -> Cohort:
    return await load_cohort(database, participants=1, days=1)


@pytest.fixture(scope="module")
async def client(cohort: Cohort, settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(create_app(api_settings(settings, cohort.url))) as test_client:
        yield test_client


def bearer(cohort: Cohort, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {cohort.keys[role]}"}


@pytest.mark.parametrize("role", ["admin", "researcher", "participant"])
async def test_every_role_reads_the_codebook_of_every_metric(
    client: AsyncTestClient[Any], cohort: Cohort, role: str
) -> None:
    response = await client.get("/v1/metrics", headers=bearer(cohort, role))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [entry["name"] for entry in body["metrics"]] == list(METRICS)
    assert body["resolutions"] == ["raw", "1m", "1h", "1d"]
    by_name = {entry["name"]: entry for entry in body["metrics"]}
    heart_rate = by_name["heart_rate"]
    assert heart_rate["unit"] == "bpm"
    assert heart_rate["valid_range"] == [25, 250]
    assert heart_rate["native_resolution_s"] == 1
    assert heart_rate["precision"] == 1
    assert heart_rate["gap_threshold_s"] == 600
    assert heart_rate["raw_fields"] == ["time", "value"]
    assert heart_rate["rollup_fields"] == ["time", "count", "min", "max", "mean"]
    assert heart_rate["units"]["mean"] == "bpm"
    assert by_name["breathing_rate"]["native_resolution_s"] is None
    assert by_name["spo2"]["precision"] == 0.1
    assert by_name["steps"]["rollup"] == "sum"
    assert "sum" in by_name["steps"]["rollup_fields"]
    assert by_name["sleep_stage"]["codes"] == {"0": "wake", "1": "light", "2": "deep", "3": "rem"}
    assert by_name["sleep_stage"]["rollup_fields"][-4:] == ["wake_epochs", "light_epochs", "deep_epochs", "rem_epochs"]
    assert by_name["hrv_rmssd"]["extra_columns"] == ["coverage", "lf", "hf"]
    for name, entry in by_name.items():  # the export's codebook.json holds the same entries
        assert entry == json.loads(json.dumps(metric_entry(name)))


async def test_one_metric_and_an_unknown_one(client: AsyncTestClient[Any], cohort: Cohort) -> None:
    response = await client.get("/v1/metrics/spo2", headers=bearer(cohort, "participant"))
    assert response.status_code == 200
    assert response.json()["unit"] == "%"
    response = await client.get("/v1/metrics/blood_pressure", headers=bearer(cohort, "researcher"))
    assert response.status_code == 404
    assert "blood_pressure" in response.json()["detail"]


async def test_the_codebook_needs_a_key(client: AsyncTestClient[Any], cohort: Cohort) -> None:
    assert (await client.get("/v1/metrics")).status_code == 401
    assert (await client.get("/v1/metrics", headers={"Authorization": "Bearer wsk_nope"})).status_code == 401


async def test_the_openapi_schema_lists_the_codebook(client: AsyncTestClient[Any]) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/v1/metrics"]["get"]
    assert operation["summary"] == "The metric codebook"
    entry = schema["components"]["schemas"]["MetricEntry"]
    assert {"unit", "valid_range", "native_resolution_s", "precision", "rollup_fields"} <= set(entry["properties"])
    series = schema["paths"]["/v1/participants/{participant_id}/series/{metric}"]["get"]
    formats = next(p for p in series["parameters"] if p["name"] == "format")
    assert "arrow" in json.dumps(formats["schema"])
    assert "X-Next-Cursor" in series["responses"]["200"]["headers"]
