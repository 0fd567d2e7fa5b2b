"""The local stack without Docker: `wearstream stack up | down | status`.

`up` installs what is missing (Kafka jars via Maven, PostgreSQL + TimescaleDB via apt and a source build),
then starts each component unless it already runs; running it twice is harmless. `down` stops only the
processes that this stack started (pid files in the state dir),
including a demo's processor and API. The integration tests start the stack with
this same code.
"""

from __future__ import annotations

from collections.abc import Callable

from core.settings import StackSettings
from deploy.local.kafka import KafkaBroker
from deploy.local.monitoring import LocalMonitoring
from deploy.local.postgres import TimescaleCluster
from deploy.local.services import services
from deploy.local.status import ComponentStatus

Log = Callable[[str], None]


class LocalStack:
    """Kafka and TimescaleDB; with `monitoring`, also Prometheus, Alertmanager and Zipkin (started after them)."""

    def __init__(self, settings: StackSettings, *, monitoring: LocalMonitoring | None = None) -> None:
        self.monitoring = monitoring
        self.state_dir = settings.state_dir
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        self.kafka = KafkaBroker(
            state_dir=settings.state_dir,
            cache_dir=settings.cache_dir,
            port=settings.kafka_port,
            controller_port=settings.kafka_controller_port,
            heap=settings.kafka_heap,
        )
        self.postgres = TimescaleCluster(
            state_dir=settings.state_dir,
            cache_dir=settings.cache_dir,
            port=settings.pg_port,
            pg_major=settings.pg_major,
        )

    def up(self, log: Log) -> None:
        for component in (self.postgres, self.kafka):
            component.install(log)
        self.postgres.start(log)
        self.kafka.start(log)
        if self.monitoring is not None:
            self.monitoring.install(log)
            self.monitoring.start(log)

    def down(self, log: Log) -> None:
        for service in services(self.state_dir):
            service.stop(log)
        if self.monitoring is not None:
            self.monitoring.stop(log)
        self.kafka.stop(log)
        self.postgres.stop(log)

    def status(self) -> list[ComponentStatus]:
        own = [self.kafka.status(), self.postgres.status()]
        return own + (self.monitoring.status() if self.monitoring is not None else [])
