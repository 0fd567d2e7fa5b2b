"""Authentication middleware: finds the API key of a request, verifies it, and applies the rate limits.

REST reads the key from `Authorization: Bearer <key>`, else the pages' `wearstream_token` cookie; a `token`
query parameter on REST is refused (401: URLs land in access logs and browser history). Websockets may also
pass `?token=` (browsers cannot set headers on them). Failures answer 401 (no or unknown key) or 429 (rate
limit, or too many failed attempts from one client address) with a JSON body; websockets are closed with
4401 / 4429 instead.

A flood of bad tokens cannot reach the database: a token that failed is refused from memory for
`negative_cache_s`, and each client address may fail `auth_failures_per_minute` times per minute, after which
it gets 429 without a query (a key verified before is still served from the cache).
"""

from __future__ import annotations

import math
from typing import Any, Final

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, TooManyRequestsException, WebSocketException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from api import metric_defs
from api.auth.ratelimit import RateLimiter
from api.auth.store import KeyStore

TOKEN_QUERY: Final = "token"
TOKEN_COOKIE: Final = "wearstream_token"
PUBLIC_PATHS: Final = ["^/healthz$", "^/readyz$", "^/metrics", "^/schema"]


class TokenInQueryError(ValueError):
    """A REST request carried its key in the URL."""


def token_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The request's key; raises `TokenInQueryError` for `?token=` on REST."""
    websocket = connection.scope["type"] == ScopeType.WEBSOCKET
    if not websocket and TOKEN_QUERY in connection.query_params:
        raise TokenInQueryError
    header = connection.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else None
    if websocket and connection.query_params.get(TOKEN_QUERY):
        return connection.query_params.get(TOKEN_QUERY)
    return connection.cookies.get(TOKEN_COOKIE)


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    client = connection.client
    return client.host if client is not None else "unknown"


def _limited(detail: str, wait_s: float, websocket: bool) -> Exception:
    if websocket:
        return WebSocketException(detail=detail, code=4429)
    return TooManyRequestsException(
        detail=detail, headers={"Retry-After": str(math.ceil(wait_s))}, extra={"retry_after_s": round(wait_s, 3)}
    )


def _unauthorised(detail: str, websocket: bool) -> Exception:
    if websocket:
        return WebSocketException(detail=detail, code=4401)
    return NotAuthorizedException(detail=detail, headers={"WWW-Authenticate": "Bearer"})


class ApiKeyMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        websocket = connection.scope["type"] == ScopeType.WEBSOCKET
        state = connection.app.state
        store: KeyStore = state.key_store
        limiter: RateLimiter = state.rate_limiter
        failures: RateLimiter = state.auth_failure_limiter
        try:
            token = token_of(connection)
        except TokenInQueryError:
            metric_defs.AUTH_FAILURES.labels(reason="token_in_query").inc()
            raise _unauthorised(
                "pass the API key in the Authorization header, not in the URL (`?token=` is for websockets)",
                websocket,
            ) from None
        if not token:
            metric_defs.AUTH_FAILURES.labels(reason="missing").inc()
            raise _unauthorised("an API key is required", websocket)
        key = store.cached(token)
        if key is None:
            address = client_address(connection)
            wait_s = failures.wait(address)
            if wait_s > 0:
                metric_defs.AUTH_FAILURES.labels(reason="blocked").inc()
                detail = f"too many failed authentications from this address; retry in {math.ceil(wait_s)} s"
                raise _limited(detail, wait_s, websocket)
            key = await store.verify(token)
            if key is None:
                failures.take(address)
                metric_defs.AUTH_FAILURES.labels(reason="invalid").inc()
                raise _unauthorised("unknown, expired or revoked API key", websocket)
        wait_s = limiter.take(key.key_id)
        if wait_s > 0:
            metric_defs.RATE_LIMITED.inc()
            raise _limited(f"rate limit of {int(limiter.capacity)} requests per minute exceeded", wait_s, websocket)
        return AuthenticationResult(user=key, auth=None)
