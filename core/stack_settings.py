"""The local stack's settings: where it keeps its state and downloads, and which ports it listens on."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BROKER_COUNTS: Final = (1, 3)
"""The Kafka layouts `stack up --brokers` offers: one node, or a cluster of three with a quorum of three."""


def _default_state_dir() -> Path:
    # As root, PostgreSQL runs as `postgres`, which cannot enter /root: keep the state where it can.
    if os.geteuid() == 0:
        return Path("/var/lib/wearstream")
    return Path.home() / ".local" / "state" / "wearstream"


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "wearstream"


class StackSettings(BaseSettings):
    """Where the local stack keeps its state and downloads, and which ports it listens on."""

    model_config = SettingsConfigDict(env_prefix="WEARSTREAM_", frozen=True, extra="ignore")

    state_dir: Path = Field(default_factory=_default_state_dir)
    """Data, logs and pid files of the local stack (outside the source tree)."""
    cache_dir: Path = Field(default_factory=_default_cache_dir)
    """Kafka jars and the TimescaleDB source build, shared by every checkout."""
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_heap: str = "768m"
    """Java heap of each Kafka node."""
    kafka_brokers: int = 1
    """Kafka nodes of the local stack: 1 (on `kafka_port`) or 3 (a cluster on `kafka_cluster_port` and the next two)."""
    kafka_cluster_port: int = 9192
    """The 3-broker cluster's first client port; node i (1–3) listens on this + i − 1."""
    kafka_cluster_controller_port: int = 9292
    """The cluster's first controller port; node i's controller listens on this + i − 1."""
    kafka_cluster_dir: Path | None = None
    """Data, logs and pid files of the cluster's nodes (`node-<i>/`). None: `<state_dir>/kafka-cluster`."""
    pg_port: int = 5433
    pg_major: int = 15
    prometheus_port: int = 9090
    """Local Prometheus (`stack up --with-monitoring`)."""
    alertmanager_port: int = 9095
    """Local Alertmanager (9093 is Kafka's controller port, 9094 Alertmanager's cluster port)."""
    zipkin_port: int = 9411
    """Local Zipkin (`stack up --with-monitoring`): its API and UI; every process exports traces to it while it runs."""
    zipkin_max_spans: int = Field(default=200_000, gt=0)
    """The local Zipkin keeps spans in memory, at most this many (the oldest traces are dropped first)."""
    zipkin_heap: str = "384m"

    @field_validator("kafka_brokers")
    @classmethod
    def _offered_layout(cls, value: int) -> int:
        if value not in BROKER_COUNTS:
            raise ValueError(f"{value} Kafka brokers: the local stack runs 1 or 3")
        return value

    @property
    def cluster_dir(self) -> Path:
        return self.kafka_cluster_dir or self.state_dir / "kafka-cluster"

    def cluster_ports(self, brokers: int = 3) -> list[tuple[int, int]]:
        """(client port, controller port) of each node of a `brokers`-node cluster."""
        return [(self.kafka_cluster_port + i, self.kafka_cluster_controller_port + i) for i in range(brokers)]

    @property
    def kafka_bootstrap(self) -> str:
        """The local stack's brokers, as a client's bootstrap list."""
        if self.kafka_brokers == 1:
            return f"127.0.0.1:{self.kafka_port}"
        return ",".join(f"127.0.0.1:{port}" for port, _ in self.cluster_ports(self.kafka_brokers))
