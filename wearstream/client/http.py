"""The request policy both clients share: which answers are retried, how long to wait, which error to raise."""

from __future__ import annotations

import datetime as dt
import email.utils
from dataclasses import dataclass
from typing import Any, Final

import httpx

from wearstream.client.errors import (
    ApiError,
    AuthError,
    EndpointUnavailableError,
    NotFoundError,
    RateLimitedError,
    TransportError,
)

RETRIED_STATUS: Final = frozenset({502, 503, 504})
ARROW_MEDIA_TYPE: Final = "application/vnd.apache.arrow.stream"


@dataclass(frozen=True)
class Call:
    """One GET of the API: a path under the base URL and its query parameters. An `arrow` call asks for
    `format=arrow` and is answered with an `arrow_page` dict — or, from a server that refuses that format, with
    the JSON answer of the same call without it (and later arrow calls are then sent as JSON)."""

    path: str
    params: dict[str, str | int]
    arrow: bool = False

    def as_json(self) -> Call:
        return Call(self.path, {k: v for k, v in self.params.items() if k != "format"})

    def prepared(self, use_arrow: bool) -> Call:
        """The call as it is sent: `format=arrow` added, unless the client uses JSON only."""
        if not self.arrow:
            return self
        if not use_arrow:
            return self.as_json()
        return Call(self.path, {**self.params, "format": "arrow"}, arrow=True)


@dataclass(frozen=True)
class RetryPolicy:
    """`retries` further attempts after a network error or a 502/503/504 (exponential backoff from `backoff_s`);
    `rate_limit_retries` waits of `Retry-After` (at most `max_wait_s` each) after a 429."""

    retries: int = 4
    backoff_s: float = 0.5
    rate_limit_retries: int = 20
    max_wait_s: float = 120.0

    def backoff(self, attempt: int) -> float:
        return float(min(self.max_wait_s, self.backoff_s * 2**attempt))


def retry_after_s(response: httpx.Response, default: float) -> float:
    """Seconds the server asked to wait (`Retry-After` as seconds or an HTTP date), else `default`."""
    raw = response.headers.get("retry-after")
    if raw is None:
        return default
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return default
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])
    return str(body)[:500]


def error_of(response: httpx.Response) -> ApiError:
    """The exception for an error answer; a 404 whose detail names no unknown thing means the path itself."""
    detail = _detail(response)
    url = str(response.request.url.copy_with(query=None))
    status = response.status_code
    if status in (401, 403):
        return AuthError(status, detail, url)
    if status == 404:
        if detail.startswith("unknown "):
            return NotFoundError(status, detail, url)
        return EndpointUnavailableError(
            status, f"this server does not serve {response.request.url.path} ({detail})", url
        )
    if status == 429:
        return RateLimitedError(status, detail, url)
    return ApiError(status, detail, url)


class Attempts:
    """Counts the attempts at one call and says how long to wait before the next, or raises."""

    def __init__(self, policy: RetryPolicy, call: Call) -> None:
        self.policy = policy
        self.call = call
        self.failures = 0
        self.limited = 0

    def after_response(self, response: httpx.Response) -> float | None:
        """None when `response` is the answer; else seconds to wait before retrying. Raises when done."""
        status = response.status_code
        if status < 400:
            return None
        if status == 429 and self.limited < self.policy.rate_limit_retries:
            self.limited += 1
            return min(self.policy.max_wait_s, retry_after_s(response, self.policy.backoff(self.limited)))
        if status in RETRIED_STATUS and self.failures < self.policy.retries:
            self.failures += 1
            return self.policy.backoff(self.failures)
        raise error_of(response)

    def after_error(self, error: httpx.TransportError) -> float:
        if self.failures >= self.policy.retries:
            raise TransportError(f"GET {self.call.path} failed after {self.failures + 1} attempts: {error}") from error
        self.failures += 1
        return self.policy.backoff(self.failures)


def refuses_arrow(call: Call, response: httpx.Response) -> bool:
    """A server without `format=arrow` answers 400 naming the `format` parameter (the same call as JSON then
    gets any other 400 again, and raises it)."""
    return call.arrow and response.status_code == 400 and "format" in response.text


def answer_of(response: httpx.Response) -> Any:
    """The decoded answer: an Arrow IPC stream as an `arrow_page` dict, anything else as JSON."""
    if response.headers.get("content-type", "").startswith(ARROW_MEDIA_TYPE):
        return arrow_page(response)
    return json_of(response)


def arrow_page(response: httpx.Response) -> dict[str, Any]:
    """`{"table": pyarrow.Table, "resolution", "bucket_seconds", "next_cursor", "imputed", "imputation_run"}`,
    like a JSON page's keys."""
    import pyarrow as pa

    try:
        table = pa.ipc.open_stream(response.content).read_all()
    except pa.ArrowInvalid as error:
        raise ApiError(response.status_code, f"not an Arrow stream: {error}", str(response.url)) from error
    bucket = response.headers.get("x-bucket-seconds")
    facts = table.schema.metadata or {}
    return {
        "table": table,
        "resolution": response.headers.get("x-resolution") or facts.get(b"resolution", b"").decode(),
        "bucket_seconds": int(bucket) if bucket else None,
        "next_cursor": response.headers.get("x-next-cursor"),
        "imputed": facts.get(b"imputed", b"exclude").decode(),
        "imputation_run": facts.get(b"imputation_run", b"").decode() or None,
    }


def json_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as error:
        raise ApiError(response.status_code, f"not JSON: {response.text[:200]!r}", str(response.url)) from error
