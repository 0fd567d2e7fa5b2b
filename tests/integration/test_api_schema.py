"""A property-based run over the OpenAPI schema (schemathesis) against a real uvicorn server: whatever the
parameters and bodies, and whichever role's key sends them, no request gets a 5xx, and every 4xx is problem
details (application/problem+json)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
import uvicorn

from api.app import create_app
from core.settings import Settings
from tests.integration.test_api_series import Cohort, api_settings, load_cohort


@pytest.fixture(scope="module")
async def cohort(database: str) -> Cohort:
    return await load_cohort(database, participants=2, days=1)


@pytest.fixture(scope="module")
def server_url(cohort: Cohort, settings: Settings) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    configured = api_settings(settings, cohort.url)
    # Nothing listens here: real (non-dry-run) reminders fail fast and are audited as failed.
    configured = configured.model_copy(update={"smtp": configured.smtp.model_copy(update={"port": 9, "timeout_s": 1})})
    server = uvicorn.Server(uvicorn.Config(create_app(configured), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        assert thread.is_alive(), "uvicorn stopped"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def api_schema(server_url: str) -> Any:
    return schemathesis.openapi.from_url(f"{server_url}/schema/openapi.json")


def content_type(headers: Any) -> str:
    """The Content-Type of a schemathesis response (whose header values are lists)."""
    value = headers.get("content-type") or headers.get("Content-Type") or ""
    return str(value[0] if isinstance(value, list) and value else value)


EXAMPLES = {"admin": 20, "researcher": 10, "participant": 10}
"""Examples per operation and role: bounded so that the whole run takes well under two minutes."""


@pytest.mark.parametrize("role", sorted(EXAMPLES))
def test_no_input_gets_a_server_error(api_schema: Any, cohort: Cohort, server_url: str, role: str) -> None:
    """Every operation of the schema, with generated path, query and body values (schemathesis's pytest
    plugin cannot load a schema lazily under pytest 9, so its strategies are driven here directly)."""
    headers = {"Authorization": f"Bearer {cohort.keys[role]}"}
    failures: list[str] = []
    statuses: list[int] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 15
    assert {"/v1/keys", "/v1/notifications"} <= {operation.path.rstrip("/") for operation in operations}

    for operation in operations:

        @hypothesis.settings(
            max_examples=EXAMPLES[role],
            deadline=None,
            suppress_health_check=list(hypothesis.HealthCheck),
            derandomize=True,
            database=None,
        )
        @hypothesis.given(case=operation.as_strategy())
        def check(case: Any) -> None:
            response = case.call(base_url=server_url, headers=headers)
            statuses.append(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.query} {case.body}: {response.text[:300]}")
            elif response.status_code >= 400 and content_type(response.headers) != "application/problem+json":
                kind = content_type(response.headers)
                failures.append(f"{case.method} {case.formatted_path} {case.query}: {response.status_code} {kind}")

        check()
    assert failures == []
    assert len(statuses) >= 5 * len(operations)
    # Admin keys reach every operation; the others are refused (403) where their role ends, before validation.
    assert {200, 400} <= set(statuses) if role != "participant" else {200, 403} <= set(statuses)
    if role != "admin":
        assert 403 in statuses
