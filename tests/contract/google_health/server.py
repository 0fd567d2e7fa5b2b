"""The contract server as a Litestar app on a free loopback port (uvicorn in a thread), for one test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from litestar import Litestar, get

from tests.contract.google_health.data_routes import data_handlers
from tests.contract.google_health.oauth_routes import oauth_handlers
from tests.contract.google_health.state import ContractState
from tests.serving import free_port as free_port
from tests.serving import serve


def create_contract_app(state: ContractState) -> Litestar:
    @get("/healthz", sync_to_thread=False)
    def healthz() -> str:
        return "ok"

    return Litestar(route_handlers=[healthz, *oauth_handlers(state), *data_handlers(state)], debug=False)


@contextmanager
def serve_contract(state: ContractState, timeout_s: float = 20.0) -> Iterator[str]:
    """Serves the contract server until the block ends; yields its base URL once it answers."""
    with serve(create_contract_app(state), "the contract server", timeout_s=timeout_s) as base:
        yield base
