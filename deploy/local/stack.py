"""The local stack without Docker: `wearstream stack up | down | status`.

`up` installs what is missing (Kafka jars via Maven, PostgreSQL + TimescaleDB via apt and a source build),
then starts each component unless it already runs; running it twice is harmless. `down` stops only the
processes that this stack started (pid files in the state dir),
including a demo's processor and API. The integration tests start the stack with
this same code.

Kafka is one node (`kafka_brokers` 1) or a 3-node cluster on its own ports and directory (`kafka_brokers` 3,
`stack up --brokers 3`); `down` stops whichever of the two this stack started.
"""

from __future__ import annotations

from collections.abc import Callable

from core.settings import StackSettings
from deploy.local.kafka import KafkaBroker
from deploy.local.kafka_cluster import KafkaCluster
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
        self.brokers = settings.kafka_brokers
        self.cluster = KafkaCluster(
            cluster_dir=settings.cluster_dir,
            cache_dir=settings.cache_dir,
            ports=settings.cluster_ports(),
            heap=settings.kafka_heap,
        )
        self.postgres = TimescaleCluster(
            state_dir=settings.state_dir,
            cache_dir=settings.cache_dir,
            port=settings.pg_port,
            pg_major=settings.pg_major,
        )

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka.address if self.brokers == 1 else self.cluster.bootstrap_servers

    def up(self, log: Log) -> None:
        self.postgres.install(log)
        self.kafka.install(log)
        self.postgres.start(log)
        if self.brokers == 1:
            self.kafka.start(log)
        else:
            self.cluster.start(log)
        if self.monitoring is not None:
            self.monitoring.install(log)
            self.monitoring.start(log)

    def down(self, log: Log) -> None:
        for service in services(self.state_dir):
            service.stop(log)
        if self.monitoring is not None:
            self.monitoring.stop(log)
        self.kafka.stop(log)
        if self.cluster.running():
            self.cluster.stop(log)
        self.postgres.stop(log)

    def status(self) -> list[ComponentStatus]:
        """The layout asked for (`kafka_brokers`), and the cluster also whenever this stack runs it (then the
        single broker only when it runs too)."""
        single = self.brokers == 1 and (self.kafka.running_pid() is not None or not self.cluster.running())
        kafka = [self.kafka.status()] if single else []
        if self.brokers > 1 or self.cluster.running():
            kafka += self.cluster.status()
        own = [*kafka, self.postgres.status()]
        return own + (self.monitoring.status() if self.monitoring is not None else [])
