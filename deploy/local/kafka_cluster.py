"""A 3-node Apache Kafka cluster in KRaft mode: every node a broker and a controller, a controller quorum of
three, topics replicated on all three nodes and a write acknowledged once two hold it.

Each node runs like the single broker (`deploy/local/kafka.py`) with its own identity, ports and directory
(`<cluster dir>/node-<i>`); all three log dirs are formatted with one cluster id, kept in `<cluster dir>/cluster.id`.
The cluster is ready when every node answers a metadata request that lists all of them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaError

from deploy.local.daemon import Log
from deploy.local.errors import StackError
from deploy.local.kafka import KafkaBroker, replication_properties
from deploy.local.status import ComponentStatus


class KafkaNode(KafkaBroker):
    """Node `node_id` of a cluster whose voters are `quorum` ((node id, controller port) of every node)."""

    port_variable = "WEARSTREAM_KAFKA_CLUSTER_PORT"

    def __init__(
        self, *, cluster_dir: Path, cache_dir: Path, node_id: int, port: int, quorum: list[tuple[int, int]], heap: str
    ) -> None:
        controller_port = dict(quorum)[node_id]
        super().__init__(
            state_dir=cluster_dir, cache_dir=cache_dir, port=port, controller_port=controller_port, heap=heap
        )
        self.name = f"kafka-{node_id}"
        self.home = cluster_dir / f"node-{node_id}"
        self.cluster_dir = cluster_dir
        self.node_id = node_id
        self.quorum = quorum

    def node_properties(self) -> list[str]:
        voters = ",".join(f"{node}@127.0.0.1:{controller}" for node, controller in self.quorum)
        return [
            f"node.id={self.node_id}",
            f"controller.quorum.voters={voters}",
            f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
            *replication_properties(len(self.quorum)),
        ]

    def cluster_id(self) -> str:
        """One id for the whole cluster: made by the first node formatted, read by the others."""
        id_file = self.cluster_dir / "cluster.id"
        if not id_file.exists():
            self.cluster_dir.mkdir(parents=True, exist_ok=True)
            id_file.write_text(super().cluster_id() + "\n")
        return id_file.read_text().strip()


class KafkaCluster:
    """Three `KafkaNode`s on 127.0.0.1: node i has client port `ports[i-1][0]`, controller `ports[i-1][1]`."""

    def __init__(self, *, cluster_dir: Path, cache_dir: Path, ports: list[tuple[int, int]], heap: str) -> None:
        quorum = [(i, controller) for i, (_, controller) in enumerate(ports, start=1)]
        self.cluster_dir = cluster_dir
        self.nodes = [
            KafkaNode(cluster_dir=cluster_dir, cache_dir=cache_dir, node_id=i, port=port, quorum=quorum, heap=heap)
            for i, (port, _) in enumerate(ports, start=1)
        ]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.address for node in self.nodes)

    def install(self, log: Log) -> None:
        self.nodes[0].install(log)

    def running(self) -> bool:
        """True when a node this stack started still runs."""
        return any(node.running_pid() is not None for node in self.nodes)

    def start(self, log: Log, *, timeout_s: float = 300.0) -> None:
        """Starts the nodes not already running (all before waiting: none is ready without a quorum), then returns
        once every node answers with all of them registered. Safe to call twice."""
        launched = {node.name: node.launch(log) for node in self.nodes if node.running_pid() is None}
        deadline = time.monotonic() + timeout_s
        for node in self.nodes:
            node.wait_ready(max(1.0, deadline - time.monotonic()), process=launched.get(node.name))
        while (seen := registered_brokers(self.bootstrap_servers, timeout_s=3.0)) < len(self.nodes):
            if time.monotonic() > deadline:
                raise StackError(f"kafka cluster: {seen} of {len(self.nodes)} brokers registered in {timeout_s:.0f} s")
            time.sleep(0.5)
        if not launched:
            log(f"kafka cluster: already running on {self.bootstrap_servers}")

    def stop(self, log: Log) -> None:
        """Stops this stack's nodes together (one left alone would wait for a quorum to shut down)."""
        with ThreadPoolExecutor(max_workers=len(self.nodes)) as pool:
            list(pool.map(lambda node: node.stop(log), self.nodes))

    def status(self) -> list[ComponentStatus]:
        return [node.status() for node in self.nodes]


def registered_brokers(bootstrap_servers: str, *, timeout_s: float) -> int:
    """How many brokers the cluster's metadata lists (0 when none answers within `timeout_s`)."""

    async def probe() -> int:
        client = AIOKafkaClient(
            bootstrap_servers=bootstrap_servers,
            request_timeout_ms=int(timeout_s * 1000),
            client_id=f"wearstream-probe-{uuid.uuid4().hex[:6]}",
        )
        try:
            await asyncio.wait_for(client.bootstrap(), timeout_s)
            return len(client.cluster.brokers())
        except (KafkaError, OSError, TimeoutError):
            return 0
        finally:
            await client.close()

    return asyncio.run(probe())
