"""The wearstream API for analysts: `Client` / `AsyncClient` return long-format DataFrames.

Needs only the `client` extra (httpx, pandas, pyarrow, websockets, tqdm): nothing of the server is imported.

    from wearstream.client import Client
    with Client("http://localhost:8000", api_key) as client:
        hr = client.series(["P0001", "P0002"], "heart_rate", "2026-03-06", "2026-03-09", resolution="1m")
"""

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
