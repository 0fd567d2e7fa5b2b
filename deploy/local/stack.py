"""The local stack without Docker: `wearstream stack up | down | status`.

`up` installs what is missing (Kafka jars via Maven, PostgreSQL + TimescaleDB via apt and a source build),
then starts each component unless it already runs; running it twice is harmless. `down` stops only the
processes that this stack started (pid files in the state dir). The integration tests start the stack with
this same code.
"""

from __future__ import annotations

from collections.abc import Callable

from deploy.local.kafka import KafkaBroker
from deploy.local.postgres import TimescaleCluster
from deploy.local.status import ComponentStatus
from wearstream.settings import StackSettings

Log = Callable[[str], None]


class LocalStack:
    def __init__(self, settings: StackSettings) -> None:
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

    def down(self, log: Log) -> None:
        self.kafka.stop(log)
        self.postgres.stop(log)

    def status(self) -> list[ComponentStatus]:
        return [self.kafka.status(), self.postgres.status()]
