"""The API's read endpoints in this process, over a database pool, for `wearstream export` without `--api`.

The export's tables (participants, daily, sleep, adherence, gaps, alerts) and rollup series come from the same
controllers and services as over HTTP — the same answers, without a server or a key: requests go through an
in-process transport, and every request is the study's (a researcher's view, as `wearstream_readonly` or the
database URL given). Nothing here listens on a port.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import asyncpg
import httpx
from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult, DefineMiddleware
from litestar.testing import TestClient
from litestar.testing.transport import TestClientTransport

from api.app import READ_CONTROLLERS, keep_session
from api.auth.keys import ApiKey
from api.deps import DEPENDENCIES
from api.errors import database_data_error
from core.settings import Settings
from wearstream.client import Client

BASE_URL: Final = "http://database.invalid"
STUDY: Final = ApiKey(key_id="database-export", role="researcher")


class _InProcess(httpx.BaseTransport):
    """An httpx transport that hands each request to the application in this process."""

    def __init__(self, app: TestClientTransport[Any]) -> None:
        self.app = app

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.app.handle_request(request)


class _Study(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        return AuthenticationResult(user=STUDY, auth=None)


def read_app(settings: Settings, dsn: str) -> Litestar:
    """The read endpoints over a pool of `dsn`, opened on start-up and closed on shutdown."""

    async def start(app: Litestar) -> None:
        app.state.pool = await asyncpg.create_pool(
            dsn, min_size=1, max_size=2, command_timeout=600, server_settings={"jit": "off"}, reset=keep_session
        )

    async def stop(app: Litestar) -> None:
        pool: asyncpg.Pool | None = app.state.get("pool")
        if pool is not None:
            await pool.close()

    return Litestar(
        route_handlers=list(READ_CONTROLLERS),
        middleware=[DefineMiddleware(_Study)],
        dependencies=DEPENDENCIES,
        exception_handlers={asyncpg.DataError: database_data_error},
        state=State({"settings": settings}),
        on_startup=[start],
        on_shutdown=[stop],
    )


@contextmanager
def local_client(settings: Settings, dsn: str, *, page_size: int = 100_000) -> Iterator[Client]:
    """A `Client` whose requests the read endpoints answer in this process (see the module docstring)."""
    with TestClient(read_app(settings, dsn), base_url=BASE_URL) as test_client:
        transport = _InProcess(TestClientTransport(client=test_client, raise_server_exceptions=False))
        with Client(BASE_URL, "", page_size=page_size, transport=transport) as client:
            client.base_url = f"the database ({dsn.rpartition('@')[2]})"
            yield client
