"""The connector's HTTP client with a fake transport: Retry-After honoured, capped jittered backoff, and the
mapping of 401/403/410/4xx/5xx and transport failures to the source errors (no real clock, no network)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import httpx
import pytest

from producers.sources.base import Gone, NotAuthorised, RateLimited, SourceError, Unavailable
from producers.sources.google_health.client import HealthClient, RetryPolicy, Unauthenticated


def client(
    given: Sequence[httpx.Response | Exception], **policy: int | float
) -> tuple[HealthClient, list[float], list[httpx.Request]]:
    answers = list(given)
    slept: list[float] = []
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    retry = RetryPolicy(sleep=sleep, jitter=lambda: 1.0, **policy)  # type: ignore[arg-type]
    http = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    return HealthClient(http, "https://health.example/v4/", retry), slept, seen


def error(status: int, message: str = "no", headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": status, "message": message, "status": "X"}}, headers=headers)


async def test_a_200_body_is_returned_with_the_bearer_token_and_params() -> None:
    health, slept, seen = client([httpx.Response(200, content=b'{"dataPoints": []}')])
    body = await health.get_json("P1", "tok", "users/me/dataTypes/steps/dataPoints", {"pageSize": "10"})
    assert body == b'{"dataPoints": []}'
    assert seen[0].headers["Authorization"] == "Bearer tok"
    assert str(seen[0].url) == "https://health.example/v4/users/me/dataTypes/steps/dataPoints?pageSize=10"
    assert slept == []


async def test_429_waits_the_retry_after_it_was_given_then_succeeds() -> None:
    answers = [error(429, headers={"Retry-After": "7"}), error(429, headers={"Retry-After": "2"}), httpx.Response(200)]
    health, slept, _ = client(answers)
    await health.get_json("P1", "t", "p", {})
    assert slept == [7.0, 2.0]
    assert health.policy.waited_s == 9.0


async def test_429_without_retry_after_backs_off_and_gives_up_with_rate_limited() -> None:
    health, slept, _ = client([error(429)] * 4, max_rate_limited_waits=3)
    with pytest.raises(RateLimited) as raised:
        await health.get_json("P1", "t", "p", {})
    assert slept == [1.0, 2.0, 4.0]  # 0.5 s · 2^n, jitter 1.0
    assert raised.value.retry_after_s is None


async def test_5xx_backs_off_capped_then_raises_unavailable() -> None:
    health, slept, seen = client([error(503)] * 6, max_attempts=6, backoff_cap_s=3.0)
    with pytest.raises(Unavailable, match="HTTP 503 after 6 tries"):
        await health.get_json("P1", "t", "p", {})
    assert len(seen) == 6
    assert slept == [1.0, 2.0, 3.0, 3.0, 3.0]


async def test_transport_failures_are_retried_like_5xx() -> None:
    health, slept, _ = client([httpx.ConnectError("reset"), httpx.ReadTimeout("slow"), httpx.Response(200)])
    await health.get_json("P1", "t", "p", {})
    assert len(slept) == 2
    health, _, _ = client([httpx.ConnectError("reset")] * 3, max_attempts=3)
    with pytest.raises(Unavailable, match="ConnectError after 3 tries"):
        await health.get_json("P1", "t", "p", {})


@pytest.mark.parametrize(
    ("status", "kind", "check"),
    [
        (401, Unauthenticated, lambda e: isinstance(e, NotAuthorised)),
        (403, NotAuthorised, lambda e: "permission denied" in e.reason),
        (410, Gone, lambda e: "gone" in e.reason),
        (400, SourceError, lambda e: "HTTP 400 (X: bad filter)" in e.reason),
    ],
)
async def test_client_errors_map_to_source_errors_without_retrying(
    status: int, kind: type[SourceError], check: Callable[[SourceError], bool]
) -> None:
    health, slept, seen = client([error(status, "bad filter")])
    with pytest.raises(kind) as raised:
        await health.get_json("P7", "t", "p", {})
    assert raised.value.participant_id == "P7"
    assert check(raised.value)
    assert len(seen) == 1
    assert slept == []
