"""`create_app(settings)`: the Litestar application — routes, authentication, plugins, lifecycle.

On start-up it opens the asyncpg pool and starts the live fan-out (one Kafka consumer); on shutdown it stops
both. OpenAPI is served at `/schema` (Swagger UI; also `/schema/scalar`, `/schema/redoc`,
`/schema/openapi.json`), Prometheus metrics at `/metrics`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Final

import asyncpg
from litestar import Litestar
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, RedocRenderPlugin, ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

from api.adherence.controllers import AdherenceController
from api.alerts.controllers import CohortAlertController, ParticipantAlertController
from api.auth import redact
from api.auth.controllers import KeyController
from api.auth.middleware import PUBLIC_PATHS, ApiKeyMiddleware
from api.auth.ratelimit import RateLimiter
from api.auth.store import KeyStore
from api.daily.controllers import DailyController
from api.deps import DEPENDENCIES
from api.enrolment.controllers import EnrolmentController
from api.errors import database_data_error
from api.gaps.controllers import CohortGapController, ParticipantGapController
from api.health.controllers import HealthController
from api.live.controllers import events_socket, live_socket
from api.live.hub import LiveHub
from api.metrics.controllers import MetricController
from api.notifications.controllers import NotificationController
from api.pages import pages_router
from api.participants.controllers import ParticipantController
from api.problems import document_problems, problem_details_plugin
from api.series.controllers import SeriesController
from api.sleep.controllers import SleepController
from api.sources.controllers import SourceController
from core.settings import Settings
from schemas.enrolment import Enrolment

LifecycleHook = Callable[[Litestar], Awaitable[None]]

DESCRIPTION: Final = """History, adherence, sleep, gaps and reminders of a wearable study.

Authenticate with `Authorization: Bearer <key>` (keys from `wearstream apikey create --role …` or, for admins,
`POST /v1/keys`; roles admin, researcher — the whole study — and participant — its own data only). A key in
the URL (`?token=`) is refused on REST; only the websockets accept it. Reminders and key management are for
admin keys. Dates (`YYYY-MM-DD`) mean midnight in the
participant's time zone (UTC on cohort-wide endpoints); date-times need a UTC offset or `Z`. Ranges are
[start, end). Errors are JSON: 400 names the field, 401/403 say why, 404 names what is unknown, 429 says when
to retry. Websockets `/v1/live` and `/v1/events` are described in the README."""


READ_CONTROLLERS: Final = (
    ParticipantController,
    SeriesController,
    DailyController,
    SleepController,
    ParticipantGapController,
    CohortGapController,
    ParticipantAlertController,
    CohortAlertController,
    AdherenceController,
)
"""The study's data, read: what `wearstream export` also serves in its own process (`wearstream.local_api`)."""

ROUTE_HANDLERS: Final = (
    HealthController,
    PrometheusController,
    MetricController,
    EnrolmentController,
    *READ_CONTROLLERS,
    NotificationController,
    KeyController,
    SourceController,
    live_socket,
    events_socket,
    pages_router,
)
"""Every route of the application, in the order OpenAPI lists them."""


def _openapi() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="wearstream API",
        version="1.0.0",
        description=DESCRIPTION,
        path="/schema",
        render_plugins=[
            SwaggerRenderPlugin(path=["/", "/swagger"]),
            ScalarRenderPlugin(),
            RedocRenderPlugin(),
            JsonRenderPlugin(),
        ],
        components=Components(security_schemes={"api_key": SecurityScheme(type="http", scheme="bearer")}),
        security=[{"api_key": []}],
    )


async def keep_session(connection: asyncpg.Connection) -> None:
    """A released connection's reset beyond asyncpg's own (an open transaction rolled back, listeners dropped):
    none. The API leaves no session state behind — no `SET`, `LISTEN`, cursor outside a transaction or
    session-level advisory lock — so asyncpg's default reset query (`RESET ALL`, `CLOSE ALL`, …) would be a
    database round trip per release that changes nothing; a raw page releases two connections."""
    del connection


def _lifecycle(settings: Settings, hub: LiveHub) -> tuple[LifecycleHook, LifecycleHook]:
    """Start-up opens the pool and key store and starts the live fan-out; shutdown stops both."""

    async def start(app: Litestar) -> None:
        pool = await asyncpg.create_pool(
            settings.database.api_dsn,
            min_size=1,
            max_size=max(2, settings.database.pool_size),
            command_timeout=120,
            server_settings={"jit": "off", "application_name": "wearstream-api"},
            reset=keep_session,
        )
        assert pool is not None
        app.state.pool = pool
        app.state.key_store = KeyStore(
            pool, cache_s=settings.api.key_cache_s, negative_cache_s=settings.api.negative_cache_s
        )
        await hub.start()

    async def stop(app: Litestar) -> None:
        await hub.stop()
        pool: asyncpg.Pool | None = app.state.get("pool")
        if pool is not None:
            await pool.close()

    return start, stop


def create_app(settings: Settings, *, enrolments: Mapping[str, Enrolment] | None = None) -> Litestar:
    """The application; `enrolments` are the device sources it can enrol with (by name; none: no enrolment)."""
    redact.install()
    hub = LiveHub(settings.kafka, queue_size=settings.api.live.queue_size, enabled=settings.api.live.enabled)
    start, stop = _lifecycle(settings, hub)
    prometheus = PrometheusConfig(
        app_name="wearstream_api", prefix="wearstream_api", group_path=True, exclude=["^/metrics", "^/schema"]
    )
    app = Litestar(
        route_handlers=list(ROUTE_HANDLERS),
        middleware=[prometheus.middleware, DefineMiddleware(ApiKeyMiddleware, exclude=PUBLIC_PATHS)],
        plugins=[
            OpenTelemetryPlugin(OpenTelemetryConfig(exclude=["^/metrics", "^/healthz", "^/readyz"])),
            problem_details_plugin(),
        ],
        dependencies=DEPENDENCIES,
        exception_handlers={asyncpg.DataError: database_data_error},
        state=State(
            {
                "settings": settings,
                "hub": hub,
                "enrolments": dict(enrolments or {}),
                "rate_limiter": RateLimiter(settings.api.rate_limit_per_minute),
                "auth_failure_limiter": RateLimiter(settings.api.auth_failures_per_minute),
            }
        ),
        on_startup=[start],
        on_shutdown=[stop],
        openapi_config=_openapi(),
    )
    document_problems(app.openapi_schema)
    return app
