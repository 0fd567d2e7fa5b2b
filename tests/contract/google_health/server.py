"""The contract server as a Litestar app on a free loopback port (uvicorn in a thread), for one test."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from litestar import Litestar, get

from tests.contract.google_health.data_routes import data_handlers
from tests.contract.google_health.oauth_routes import oauth_handlers
from tests.contract.google_health.state import ContractState


def create_contract_app(state: ContractState) -> Litestar:
    @get("/healthz", sync_to_thread=False)
    def healthz() -> str:
        return "ok"

    return Litestar(route_handlers=[healthz, *oauth_handlers(state), *data_handlers(state)], debug=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_contract(state: ContractState, timeout_s: float = 20.0) -> Iterator[str]:
    """Serves the contract server until the block ends; yields its base URL once it answers."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_contract_app(state), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name=f"google-health-{port}", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError(f"the contract server did not start on {base}")
            time.sleep(0.05)
        yield base
    finally:
        server.should_exit = True
        thread.join(20)
