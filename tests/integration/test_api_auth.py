"""Keys and roles on REST, rate limits, and errors: 401/403/404/400/405/429 as RFC 9457 problem details
(application/problem+json), never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.auth.store import create_key
from core.settings import Settings
from tests.integration.test_api_series import T0, Cohort, api_settings, iso, load_cohort


@pytest.fixture(scope="module")
async def cohort(database: str) -> Cohort:
    return await load_cohort(database, participants=2, days=1)


@pytest.fixture(scope="module")
async def client(cohort: Cohort, settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(create_app(api_settings(settings, cohort.url))) as test_client:
        yield test_client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


PARTICIPANT_PATHS = [
    "/v1/participants/{p}",
    "/v1/participants/{p}/series/heart_rate",
    "/v1/participants/{p}/daily",
    "/v1/participants/{p}/sleep",
    "/v1/participants/{p}/gaps",
]
COHORT_PATHS = ["/v1/participants", "/v1/adherence", "/v1/gaps", "/v1/notifications"]


@pytest.mark.parametrize("path", PARTICIPANT_PATHS + COHORT_PATHS)
async def test_requests_without_a_valid_key_are_401_with_json(client: AsyncTestClient[Any], path: str) -> None:
    path = path.format(p="P0001")
    for headers in ({}, bearer("wsk_000000000000_" + "x" * 43), bearer("not-a-key"), {"Authorization": "Basic eA=="}):
        response = await client.get(path, headers=headers)
        assert response.status_code == 401
        assert response.json()["status"] == 401
        assert response.json()["detail"]
        assert response.headers["www-authenticate"] == "Bearer"


async def test_public_paths_need_no_key(client: AsyncTestClient[Any]) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"
    assert ready.json()["kafka"] == "ok"
    metrics = (await client.get("/metrics")).text
    assert "wearstream_api_requests_total" in metrics
    assert "wearstream_api_auth_failures_total" in metrics
    assert (await client.get("/schema/openapi.json")).json()["info"]["title"] == "wearstream API"
    assert (await client.get("/schema")).status_code == 200


@pytest.mark.parametrize("path", PARTICIPANT_PATHS)
async def test_participant_key_reads_its_own_data_only(client: AsyncTestClient[Any], cohort: Cohort, path: str) -> None:
    headers = bearer(cohort.keys["participant"])
    assert (await client.get(path.format(p="P0001"), headers=headers)).status_code == 200
    for other in ("P0002", "P0999", "NOBODY"):
        response = await client.get(path.format(p=other), headers=headers)
        assert response.status_code == 403
        assert "own participant" in response.json()["detail"]


@pytest.mark.parametrize("path", COHORT_PATHS)
async def test_participant_key_cannot_read_cohort_views(
    client: AsyncTestClient[Any], cohort: Cohort, path: str
) -> None:
    response = await client.get(path, headers=bearer(cohort.keys["participant"]))
    assert response.status_code == 403
    assert response.json()["status"] == 403
    response = await client.post(
        "/v1/notifications", json={"flag": "low_wear"}, headers=bearer(cohort.keys["participant"])
    )
    assert response.status_code == 403
    for role in ("researcher", "admin"):
        assert (await client.get(path, headers=bearer(cohort.keys[role]))).status_code == 200


async def test_revoked_keys_are_refused_once_the_cache_expires(cohort: Cohort, settings: Settings) -> None:
    connection = await asyncpg.connect(cohort.url)
    key = await create_key(connection, "researcher", None)
    app = create_app(api_settings(settings, cohort.url, key_cache_s=0.0))
    async with AsyncTestClient(app) as client:
        assert (await client.get("/v1/gaps", headers=bearer(key.token))).status_code == 200
        await connection.execute("UPDATE api_keys SET revoked_at = now() WHERE key_id = $1", key.key_id)
        assert (await client.get("/v1/gaps", headers=bearer(key.token))).status_code == 401
    stored = await connection.fetchval("SELECT secret_sha256 FROM api_keys WHERE key_id = $1", key.key_id)
    await connection.close()
    assert key.secret.encode() not in stored
    assert len(stored) == 32


async def test_keys_are_rate_limited_per_key(cohort: Cohort, settings: Settings) -> None:
    app = create_app(api_settings(settings, cohort.url, rate_limit_per_minute=5))
    async with AsyncTestClient(app) as client:
        statuses = [(await client.get("/v1/gaps", headers=bearer(cohort.keys["admin"]))).status_code for _ in range(7)]
        assert statuses[:5] == [200] * 5
        assert statuses[5:] == [429, 429]
        limited = await client.get("/v1/gaps", headers=bearer(cohort.keys["admin"]))
        assert limited.json()["status"] == 429
        assert int(limited.headers["retry-after"]) >= 1
        # Another key has its own budget.
        assert (await client.get("/v1/gaps", headers=bearer(cohort.keys["researcher"]))).status_code == 200


BAD_REQUESTS = [
    ("/v1/participants/P0001/series/heart_rate", {"start": "yesterday"}, "start"),
    ("/v1/participants/P0001/series/heart_rate", {"start": "2026-03-06T00:00:00", "end": "2026-03-07"}, "start"),
    ("/v1/participants/P0001/series/heart_rate", {"start": "2026-03-07", "end": "2026-03-06"}, "end"),
    ("/v1/participants/P0001/series/heart_rate", {"start": "9999-12-31", "end": "2026-03-06"}, "start"),
    ("/v1/participants/P0001/series/heart_rate", {"resolution": "5m"}, "resolution"),
    ("/v1/participants/P0001/series/heart_rate", {"max_points": "5"}, "max_points"),
    ("/v1/participants/P0001/series/heart_rate", {"max_points": "lots"}, "max_points"),
    ("/v1/participants/P0001/series/heart_rate", {"format": "xlsx"}, "format"),
    ("/v1/participants/P0001/series/heart_rate", {"resolution": "raw", "cursor": "garbage!"}, "cursor"),
    ("/v1/participants/P0001/daily", {"start": "2026-02-30"}, "start"),
    ("/v1/participants/P0001/daily", {"start": "2020-01-01", "end": "2026-01-01"}, "end"),
    ("/v1/participants", {"sort": "mood"}, "sort"),
    ("/v1/participants", {"limit": "0"}, "limit"),
    ("/v1/participants", {"cursor": "eyJ2IjoxfQ"}, "cursor"),
    ("/v1/adherence", {"min_wear_pct": "140"}, "min_wear_pct"),
    ("/v1/adherence", {"flag": "sad"}, "flag"),
    ("/v1/gaps", {"status": "maybe"}, "status"),
]


@pytest.mark.parametrize(("path", "params", "field"), BAD_REQUESTS)
async def test_invalid_parameters_are_400_naming_the_field(
    client: AsyncTestClient[Any], cohort: Cohort, path: str, params: dict[str, str], field: str
) -> None:
    response = await client.get(path, params=params, headers=bearer(cohort.keys["admin"]))
    assert response.status_code == 400, response.text
    body = response.json()
    assert field in {item["key"] for item in body["extra"]}, body


async def test_a_cursor_of_another_query_is_refused(client: AsyncTestClient[Any], cohort: Cohort) -> None:
    headers = bearer(cohort.keys["admin"])
    params = {"start": iso(T0), "end": iso(T0 + 86_400_000), "resolution": "raw", "max_points": "10"}
    page = (await client.get("/v1/participants/P0001/series/heart_rate", params=params, headers=headers)).json()
    other = await client.get(
        "/v1/participants/P0002/series/heart_rate", params={**params, "cursor": page["next_cursor"]}, headers=headers
    )
    assert other.status_code == 400
    assert "another query" in other.json()["detail"]


async def test_bad_notification_bodies_are_400(client: AsyncTestClient[Any], cohort: Cohort) -> None:
    headers = bearer(cohort.keys["admin"])
    for body in (
        {},
        {"flag": "sad"},
        {"flag": "low_wear", "as_of": "2026-03-06T00:00:00"},
        {"flag": "low_wear", "x": 1},
        {"flag": "low_wear", "start": "2026-03-06", "end": "2026-03-01"},
        {"flag": "low_wear", "end": "0001-01-01"},
    ):
        response = await client.post("/v1/notifications", json=body, headers=headers)
        assert response.status_code == 400, (body, response.text)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/participants/NOBODY",
        "/v1/participants/NOBODY/series/heart_rate",
        "/v1/participants/P0001/series/mood",
        "/v1/participants/%00bad/daily",
        "/v1/participants/NOBODY/gaps",
        "/v1/nothing-here",
    ],
)
async def test_unknown_participants_and_metrics_are_404(
    client: AsyncTestClient[Any], cohort: Cohort, path: str
) -> None:
    response = await client.get(path, headers=bearer(cohort.keys["admin"]))
    assert response.status_code == 404
    assert response.json()["status"] == 404


async def test_every_client_error_is_problem_details(client: AsyncTestClient[Any], cohort: Cohort) -> None:
    """One request per kind of 4xx, over several endpoints: each answers application/problem+json with type,
    title, status and detail (and, for invalid parameters, the per-field list); the OpenAPI document says so."""
    admin, participant = bearer(cohort.keys["admin"]), bearer(cohort.keys["participant"])
    requests = [
        ("GET", "/v1/participants", {}, None, 401),
        ("GET", "/v1/participants/P0001/daily", bearer("not-a-key"), None, 401),
        ("GET", "/v1/adherence", participant, None, 403),
        ("GET", "/v1/participants/P0002/sleep", participant, None, 403),
        ("GET", "/v1/participants/NOBODY/gaps", admin, None, 404),
        ("GET", "/v1/nothing-here", admin, None, 404),
        ("GET", "/v1/gaps?status=maybe", admin, None, 400),
        ("GET", "/v1/participants/P0001/series/heart_rate?max_points=lots", admin, None, 400),
        ("POST", "/v1/notifications", admin, {"flag": "sad"}, 400),
        ("DELETE", "/v1/gaps", admin, None, 405),
    ]
    for method, path, headers, body, status in requests:
        response = await client.request(method, path, headers=headers, json=body)
        assert response.status_code == status, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json", (path, response.headers)
        problem = response.json()
        assert problem["type"] == "about:blank"
        assert problem["status"] == problem["status_code"] == status
        assert problem["title"] == HTTPStatus(status).phrase
        assert problem["detail"], problem
        if status == 400 and method == "GET":
            assert {item["key"] for item in problem["extra"]} & {"status", "max_points"}, problem

    document = (await client.get("/schema/openapi.json")).json()
    assert document["components"]["schemas"]["ProblemDetails"]["required"] == ["type", "title", "status", "detail"]
    gaps = document["paths"]["/v1/gaps"]["get"]["responses"]
    for code in ("400", "4XX"):
        assert set(gaps[code]["content"]) == {"application/problem+json"}, gaps[code]
    for path_item in document["paths"].values():
        for operation in path_item.values():
            for code, response in operation.get("responses", {}).items():
                if code.startswith("4"):
                    assert set(response.get("content", {})) == {"application/problem+json"}, (code, response)


async def test_dates_and_offsets_mean_the_same_instant(client: AsyncTestClient[Any], cohort: Cohort) -> None:
    """A date is local midnight in the participant's zone; the same instant written with an offset (even
    with its `+` unescaped in the URL) or in UTC gives the same answer."""
    timezone = cohort.participants["P0001"].timezone
    import datetime as dt
    from zoneinfo import ZoneInfo

    midnight = dt.datetime(2026, 3, 6, tzinfo=ZoneInfo(timezone))
    headers = bearer(cohort.keys["admin"])
    answers = []
    for start in ("2026-03-06", midnight.isoformat(), midnight.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")):
        response = await client.get(
            f"/v1/participants/P0001/series/steps?start={start}&end=2026-03-07&resolution=1h", headers=headers
        )
        assert response.status_code == 200, response.text
        answers.append(response.json())
    assert answers[0] == answers[1] == answers[2]
    assert answers[0]["start"] == midnight.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
