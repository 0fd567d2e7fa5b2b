"""HTTP to the Google Health API: one request, retried the way the service asks (tenacity, as the processor
retries), mapped to source errors.

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
from typing import Final, Literal

import httpx
from tenacity import AsyncRetrying, RetryCallState

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


class _Retry(Exception):
    """One answer worth trying again: `kind` says which budget it spends."""

    def __init__(
        self, kind: Literal["rate", "failure"], reason: str, *, detail: str = "", retry_after_s: float | None = None
    ) -> None:
        super().__init__(reason)
        self.kind, self.reason, self.detail, self.retry_after_s = kind, reason, detail, retry_after_s


class HealthClient:
    """GETs against `api_url` with a participant's bearer token; see the module docstring for retries."""

    def __init__(self, http: httpx.AsyncClient, api_url: str, policy: RetryPolicy | None = None) -> None:
        self.http = http
        self.api_url = api_url.rstrip("/")
        self.policy = policy or RetryPolicy()

    async def get_json(self, participant_id: str, access_token: str, path: str, params: dict[str, str]) -> bytes:
        """The body of a 200 answer to GET `{api_url}/{path}`; raises a `SourceError` subclass otherwise."""
        spent = {"rate": 0, "failure": 0}
        policy = self.policy

        def retry(state: RetryCallState) -> bool:
            error = state.outcome.exception() if state.outcome else None
            if isinstance(error, _Retry):
                spent[error.kind] += 1
                return True
            return False

        def last(state: RetryCallState) -> _Retry:
            error = state.outcome.exception() if state.outcome else None
            assert isinstance(error, _Retry)
            return error

        def stop(state: RetryCallState) -> bool:
            kind = last(state).kind
            return spent[kind] > policy.max_rate_limited_waits if kind == "rate" else spent[kind] >= policy.max_attempts

        def wait(state: RetryCallState) -> float:
            error = last(state)
            return error.retry_after_s if error.retry_after_s is not None else policy.backoff_s(spent[error.kind])

        try:
            async for attempt in AsyncRetrying(retry=retry, stop=stop, wait=wait, sleep=policy.wait, reraise=True):
                with attempt:
                    return await self._once(participant_id, access_token, path, params)
        except _Retry as exhausted:
            if exhausted.kind == "rate":
                raise RateLimited(participant_id, f"{path}: still rate limited", exhausted.retry_after_s) from None
            tries = f"{exhausted.reason} after {spent['failure']} tries{exhausted.detail}"
            raise Unavailable(participant_id, f"{path}: {tries}") from None
        raise AssertionError("unreachable: AsyncRetrying either returns or raises")

    async def _once(self, participant_id: str, token: str, path: str, params: dict[str, str]) -> bytes:
        try:
            response = await self.http.get(
                f"{self.api_url}/{path}", params=params, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.TransportError as error:
            raise _Retry("failure", type(error).__name__) from None
        status = response.status_code
        if status == 200:
            return response.content
        if status == 429:
            raise _Retry("rate", "rate limited", retry_after_s=_retry_after_s(response))
        if status >= 500:
            raise _Retry("failure", f"HTTP {status}", detail=f" ({_message(response)})")
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
