"""Apache Kafka, a single node in KRaft mode, run from Maven Central artifacts with the machine's Java (the
3-node cluster's nodes are this node with another identity: `deploy/local/kafka_cluster.py`)."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Final

from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaError

from deploy.local.daemon import Daemon, Log
from deploy.local.errors import StackError
from deploy.local.process import run
from deploy.local.status import ComponentStatus

KAFKA_VERSION: Final = "4.1.1"
POM: Final = Path(__file__).parent / "kafka" / "pom.xml"

LOG4J2: Final = """\
Configuration:
  name: wearstream-kafka
  Appenders:
    RollingFile:
      name: FILE
      fileName: "{log_dir}/server.log"
      filePattern: "{log_dir}/server.log.%i"
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
      Policies:
        SizeBasedTriggeringPolicy:
          size: 50MB
      DefaultRolloverStrategy:
        max: 3
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: FILE
    Logger:
      - name: kafka.request.logger
        level: WARN
      - name: org.apache.kafka.controller
        level: INFO
"""


class KafkaBroker(Daemon):
    """One broker+controller node. State (data, logs, pid, config) lives in `<state_dir>/kafka`."""

    name = "kafka"
    poll_interval_s = 0.5
    stop_timeout_s = 60.0
    port_variable = "WEARSTREAM_KAFKA_PORT"

    def __init__(self, *, state_dir: Path, cache_dir: Path, port: int, controller_port: int, heap: str) -> None:
        super().__init__(home=state_dir / "kafka", port=port)
        self.libs = cache_dir / f"kafka-{KAFKA_VERSION}" / "libs"
        self.controller_port = controller_port
        self.heap = heap

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "kafka.out"

    def install(self, log: Log) -> None:
        """Fetches the broker's jars once into the cache (Maven resolves them from Maven Central)."""
        marker = self.libs / ".complete"
        if marker.exists():
            return
        missing = [
            package
            for tool, package in (("java", "openjdk-17-jre-headless"), ("mvn", "maven"))
            if not shutil.which(tool)
        ]
        if missing:
            log(f"kafka: installing {' '.join(missing)}")
            run(["apt-get", "update", "-qq"])
            run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing])
        log(f"kafka: fetching Apache Kafka {KAFKA_VERSION} and its dependencies with Maven")
        if self.libs.exists():
            shutil.rmtree(self.libs)
        self.libs.mkdir(parents=True)
        run(
            [
                "mvn",
                "-q",
                "-B",
                "-f",
                POM,
                f"-Dkafka.version={KAFKA_VERSION}",
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={self.libs}",
            ]
        )
        marker.touch()

    def _java(self, *args: str) -> list[str]:
        return ["java", "-cp", f"{self.libs}/*", *args]

    def node_properties(self) -> list[str]:
        """What makes this node itself (identity, listeners, quorum) and how its cluster replicates."""
        return [
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
            f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
            *replication_properties(1),
        ]

    def cluster_id(self) -> str:
        """The id the log dir is formatted with (a single node makes its own)."""
        return str(run(self._java("kafka.tools.StorageTool", "random-uuid")).stdout.strip().splitlines()[-1])

    def _configure(self) -> Path:
        data_dir = self.home / "data"
        log_dir = self.home / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        config = self.home / "server.properties"
        config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    *self.node_properties(),
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"log.dirs={data_dir}",
                    "num.partitions=1",
                    "offsets.topic.num.partitions=12",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=false",
                    "message.max.bytes=16777216",
                    "log.retention.check.interval.ms=60000",
                    "",
                ]
            )
        )
        (self.home / "log4j2.yaml").write_text(LOG4J2.format(log_dir=log_dir))
        if not (data_dir / "meta.properties").exists():
            run(self._java("kafka.tools.StorageTool", "format", "-t", self.cluster_id(), "-c", str(config)))
        return config

    def ready(self) -> bool:
        return probe_metadata(self.address, timeout_s=3.0)

    def start(self, log: Log, *, timeout_s: float = 300.0) -> None:
        """Starts the broker unless ours is already running; returns once a metadata request succeeds."""
        if self.running_pid() is not None:
            self.wait_ready(timeout_s)
            log(f"{self.name}: already running on {self.address}")
            return
        self.wait_ready(timeout_s, process=self.launch(log))

    def launch(self, log: Log) -> subprocess.Popen[bytes]:
        """Configures (and formats, the first time) and spawns the node; does not wait for it."""
        if probe_metadata(self.address, timeout_s=2.0):
            raise StackError(
                f"{self.name}: port {self.port} already serves a broker that this stack did not start; "
                f"stop it or set {self.port_variable}"
            )
        self.home.mkdir(parents=True, exist_ok=True)
        config = self._configure()
        log(f"{self.name}: starting Apache Kafka {KAFKA_VERSION} on {self.address}")
        process = self.spawn(
            [
                "java",
                f"-Xms{self.heap}",
                f"-Xmx{self.heap}",
                "-XX:+UseG1GC",
                "-XX:MaxGCPauseMillis=20",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self.home / 'log4j2.yaml'}",
                f"-Dkafka.logs.dir={self.home / 'logs'}",
                "-cp",
                f"{self.libs}/*",
                "kafka.Kafka",
                str(config),
            ]
        )
        (self.home / "version").write_text(KAFKA_VERSION)
        return process

    def exited_message(self, returncode: int) -> str:
        return f"{self.name} exited with {returncode}; see {self.log_file} and {self.home / 'logs' / 'server.log'}"

    def not_ready_message(self, timeout_s: float) -> str:
        return f"{self.name} did not answer a metadata request on {self.address} in {timeout_s:.0f} s"

    def status(self) -> ComponentStatus:
        pid = self.running_pid()
        version_file = self.home / "version"
        version = version_file.read_text().strip() if pid is not None and version_file.exists() else "unknown"
        up = self.ready()
        return ComponentStatus(name=self.name, address=self.address, version=version, up=up, managed=pid is not None)


def replication_properties(brokers: int) -> list[str]:
    """Replication of a `brokers`-node cluster: new and internal topics on up to 3 nodes, and with 3 replicas a
    write acknowledged by all in-sync replicas needs 2 of them (one broker may be lost without losing a write)."""
    replicas = min(3, brokers)
    min_isr = 2 if replicas >= 3 else 1
    return [
        f"default.replication.factor={replicas}",
        f"min.insync.replicas={min_isr}",
        f"offsets.topic.replication.factor={replicas}",
        f"transaction.state.log.replication.factor={replicas}",
        f"transaction.state.log.min.isr={min_isr}",
        f"share.coordinator.state.topic.replication.factor={replicas}",
        f"share.coordinator.state.topic.min.isr={min_isr}",
    ]


def probe_metadata(bootstrap_servers: str, *, timeout_s: float) -> bool:
    """True when the broker answers a metadata request within `timeout_s`."""

    # aiokafka logs every refused connection at ERROR; while waiting for start-up that is expected.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)

    async def probe() -> bool:
        client = AIOKafkaClient(
            bootstrap_servers=bootstrap_servers,
            request_timeout_ms=int(timeout_s * 1000),
            client_id=f"wearstream-probe-{uuid.uuid4().hex[:6]}",
        )
        try:
            await asyncio.wait_for(client.bootstrap(), timeout_s)
            return True
        except (KafkaError, OSError, TimeoutError):
            return False
        finally:
            await client.close()

    return asyncio.run(probe())
