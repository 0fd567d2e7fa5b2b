"""The wearstream API for analysts: `Client` / `AsyncClient` return long-format DataFrames.

Needs only the `client` extra (httpx, pandas, pyarrow, websockets, tqdm): nothing of the server is imported.

    from wearstream.client import Client
    with Client("http://localhost:8000", api_key) as client:
        hr = client.series(["P0001", "P0002"], "heart_rate", "2026-03-06", "2026-03-09", resolution="1m")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wearstream.client.aio import AsyncClient
    from wearstream.client.errors import (
        ApiError,
        AuthError,
        ClientError,
        EndpointUnavailableError,
        LiveClosedError,
        NotFoundError,
        RateLimitedError,
        TransportError,
    )
    from wearstream.client.http import RetryPolicy
    from wearstream.client.sync import Client

# Imported on first use, so that `wearstream` commands (which register `export` from this package) start
# without loading pandas and pyarrow.
_HOMES = {
    "AsyncClient": "wearstream.client.aio",
    "Client": "wearstream.client.sync",
    "RetryPolicy": "wearstream.client.http",
    **dict.fromkeys(
        [
            "ApiError",
            "AuthError",
            "ClientError",
            "EndpointUnavailableError",
            "LiveClosedError",
            "NotFoundError",
            "RateLimitedError",
            "TransportError",
        ],
        "wearstream.client.errors",
    ),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'wearstream.client' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


__all__ = [
    "ApiError",
    "AsyncClient",
    "AuthError",
    "Client",
    "ClientError",
    "EndpointUnavailableError",
    "LiveClosedError",
    "NotFoundError",
    "RateLimitedError",
    "RetryPolicy",
    "TransportError",
]
