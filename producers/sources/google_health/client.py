"""HTTP to the Google Health API: one request, retried the way the service asks, mapped to source errors.

- 429 (the per-user 300/min or per-project quota): waits the `Retry-After` the service gave (or a capped,
  jittered backoff when it gave none) and tries again, up to `max_rate_limited_waits` times, then raises
  `RateLimited` carrying the last `Retry-After`. Nothing is skipped: the same request is repeated.
- 5xx, timeouts, reset connections: capped, jittered exponential backoff ("full jitter"), `max_attempts`
  tries, then `Unavailable`.
- 401 → `Unauthenticated` (the caller refreshes once, then gives up with `NotAuthorised`); 403 →
  `NotAuthorised` (scope not granted, or access withdrawn); 410 → `Gone`; another 4xx → `SourceError` with
  the service's message.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

import httpx

from producers.sources.base import Gone, NotAuthorised, RateLimited, SourceError, Unavailable

BACKOFF_BASE_S: Final = 0.5


class Unauthenticated(NotAuthorised):
    """HTTP 401: the access token was refused (expired early, or its grant revoked)."""


@dataclass
class RetryPolicy:
    max_attempts: int = 5
    max_rate_limited_waits: int = 30
    backoff_cap_s: float = 30.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    jitter: Callable[[], float] = random.random
    waited_s: float = field(default=0.0)
    """Total time slept so far (rate limits and backoff), for logs and tests."""

    def backoff_s(self, attempt: int) -> float:
        return float(self.jitter() * min(self.backoff_cap_s, BACKOFF_BASE_S * 2.0**attempt))

    async def wait(self, seconds: float) -> None:
        self.waited_s += seconds
        await self.sleep(seconds)


class HealthClient:
    """GETs against `api_url` with a participant's bearer token; see the module docstring for retries."""

    def __init__(self, http: httpx.AsyncClient, api_url: str, policy: RetryPolicy | None = None) -> None:
        self.http = http
        self.api_url = api_url.rstrip("/")
        self.policy = policy or RetryPolicy()

    async def get_json(self, participant_id: str, access_token: str, path: str, params: dict[str, str]) -> bytes:
        """The body of a 200 answer to GET `{api_url}/{path}`; raises a `SourceError` subclass otherwise."""
        url = f"{self.api_url}/{path}"
        headers = {"Authorization": f"Bearer {access_token}"}
        failures = rate_limited = 0
        while True:
            try:
                response = await self.http.get(url, params=params, headers=headers)
            except httpx.TransportError as error:
                failures += 1
                if failures >= self.policy.max_attempts:
                    raise Unavailable(
                        participant_id, f"{path}: {type(error).__name__} after {failures} tries"
                    ) from None
                await self.policy.wait(self.policy.backoff_s(failures))
                continue
            status = response.status_code
            if status == 200:
                return response.content
            if status == 429:
                retry_after = _retry_after_s(response)
                if rate_limited >= self.policy.max_rate_limited_waits:
                    raise RateLimited(participant_id, f"{path}: still rate limited", retry_after)
                rate_limited += 1
                await self.policy.wait(retry_after if retry_after is not None else self.policy.backoff_s(rate_limited))
                continue
            if status >= 500:
                failures += 1
                if failures >= self.policy.max_attempts:
                    raise Unavailable(
                        participant_id, f"{path}: HTTP {status} after {failures} tries ({_message(response)})"
                    )
                await self.policy.wait(self.policy.backoff_s(failures))
                continue
            raise _client_error(participant_id, path, response)


def _client_error(participant_id: str, path: str, response: httpx.Response) -> SourceError:
    status, message = response.status_code, _message(response)
    if status == 401:
        return Unauthenticated(participant_id, f"{path}: the access token was refused ({message})")
    if status == 403:
        return NotAuthorised(participant_id, f"{path}: permission denied ({message})")
    if status == 410:
        return Gone(participant_id, f"{path}: gone ({message})")
    return SourceError(participant_id, f"{path}: HTTP {status} ({message})")


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare for APIs; fall back to backoff


def _message(response: httpx.Response) -> str:
    """The `error.message` of Google's error body (`{"error": {"code", "message", "status"}}`), else the text."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return f"{error.get('status', '')}: {error.get('message', '')}".strip(": ")
    return response.text[:200]
