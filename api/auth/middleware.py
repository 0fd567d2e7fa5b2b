"""Authentication middleware: finds the API key of a request, verifies it, and applies the key's rate limit.

The key is read from `Authorization: Bearer <key>`, else the `token` query parameter, else the
`wearstream_token` cookie (browsers cannot set headers on websockets). Failures answer 401 (no or unknown
key) or 429 (rate limit) with a JSON body; websockets are closed with 4401 / 4429 instead.
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


def token_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else None
    return connection.query_params.get(TOKEN_QUERY) or connection.cookies.get(TOKEN_COOKIE)


class ApiKeyMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        websocket = connection.scope["type"] == ScopeType.WEBSOCKET
        state = connection.app.state
        store: KeyStore = state.key_store
        limiter: RateLimiter = state.rate_limiter
        token = token_of(connection)
        key = await store.verify(token) if token else None
        if key is None:
            reason = "missing" if not token else "invalid"
            metric_defs.AUTH_FAILURES.labels(reason=reason).inc()
            detail = "an API key is required" if not token else "unknown or revoked API key"
            if websocket:
                raise WebSocketException(detail=detail, code=4401)
            raise NotAuthorizedException(detail=detail, headers={"WWW-Authenticate": "Bearer"})
        wait_s = limiter.take(key.key_id)
        if wait_s > 0:
            metric_defs.RATE_LIMITED.inc()
            detail = f"rate limit of {int(limiter.capacity)} requests per minute exceeded"
            if websocket:
                raise WebSocketException(detail=detail, code=4429)
            raise TooManyRequestsException(
                detail=detail,
                headers={"Retry-After": str(math.ceil(wait_s))},
                extra={"retry_after_s": round(wait_s, 3)},
            )
        return AuthenticationResult(user=key, auth=token)
