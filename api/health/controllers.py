"""`/healthz` (the process serves) and `/readyz` (the database and Kafka are reachable)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Final, Literal

import asyncpg
import msgspec
from aiokafka import AIOKafkaConsumer
from litestar import Controller, Request, Response, get
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from api.live.hub import LiveHub
from core.settings import Settings

TIMEOUT_S: Final = 3.0

Check = Literal["ok", "unreachable"]


class Health(msgspec.Struct, frozen=True, kw_only=True):
    status: Literal["ok"]


class Readiness(msgspec.Struct, frozen=True, kw_only=True):
    status: Literal["ready", "not_ready"]
    database: Check
    kafka: Check
    live: Literal["ready", "starting", "disabled"]
    """The websocket fan-out: positioned on the live and gaps topics, still connecting, or switched off."""


async def _database_ok(pool: asyncpg.Pool) -> bool:
    try:
        return bool(await asyncio.wait_for(pool.fetchval("SELECT 1"), TIMEOUT_S) == 1)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
        return False


async def _kafka_ok(bootstrap_servers: str) -> bool:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, request_timeout_ms=int(TIMEOUT_S * 1000))
    try:
        await asyncio.wait_for(consumer.start(), TIMEOUT_S)
        await asyncio.wait_for(consumer.topics(), TIMEOUT_S)
        return True
    except Exception:  # any failure to reach the broker is "unreachable"
        return False
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()


class HealthController(Controller):
    tags = ("health",)

    @get("/healthz", exclude_from_auth=True, summary="Liveness")
    async def healthz(self) -> Health:
        return Health(status="ok")

    @get("/readyz", exclude_from_auth=True, summary="Readiness: database and Kafka reachable")
    async def readyz(self, request: Request[Any, Any, Any]) -> Response[Readiness]:
        state = request.app.state
        settings: Settings = state.settings
        hub: LiveHub = state.hub
        database, kafka = await asyncio.gather(_database_ok(state.pool), _kafka_ok(settings.kafka.bootstrap_servers))
        live = "disabled" if not hub.enabled else "ready" if hub.ready.is_set() else "starting"
        ready = database and kafka
        body = Readiness(
            status="ready" if ready else "not_ready",
            database="ok" if database else "unreachable",
            kafka="ok" if kafka else "unreachable",
            live=live,  # type: ignore[arg-type]
        )
        return Response(body, status_code=HTTP_200_OK if ready else HTTP_503_SERVICE_UNAVAILABLE)
