"""A real API server (uvicorn on a free port, in a thread of the test process) for clients that speak HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from api.app import create_app
from core.settings import Settings
from tests.serving import free_port as free_port
from tests.serving import serve


@contextmanager
def serve_api(settings: Settings, timeout_s: float = 30.0) -> Iterator[str]:
    """Serves `create_app(settings)` until the block ends; yields its base URL once /healthz answers."""
    with serve(create_app(settings), "the API", timeout_s=timeout_s, ws="websockets", lifespan="on") as base:
        yield base
