"""A 3-broker Kafka cluster, started by the local stack's own code on free ports: wearstream's topics are
replicated on all three brokers with min.insync.replicas=2, and one broker killed with SIGKILL in the middle
of a replay loses no reading and counts none twice, while two workers share the partitions."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from core.settings import Settings, load_settings
from core.topics import ensure_topics
from deploy.local.kafka_cluster import KafkaCluster, registered_brokers
from deploy.local.services import start_workers, stop
from producers.replay import ReplayPlan, replay
from producers.simulator import CohortSimulator
from schemas import topics
from tests.integration.pipeline import (
    Truth,
    assert_database_matches,
    ground_truth,
    isolated,
    stored_readings,
    wait_for_readings,
)

START = dt.date(2026, 9, 1)
SEED = 23
PARTICIPANTS = 6
DAYS = 2
REPLAY_S = 16
SPEED = DAYS * 86_400 / REPLAY_S
"""The replay is paced to last about 16 s, so that the broker dies while it publishes."""
KILL_AFTER_S = 5
READINGS = re.compile(r'^wearstream_processor_readings_total\{metric="[a-z_0-9]+"\} ([0-9.e+]+)$', re.M)


def free_ports(count: int) -> list[int]:
    """`count` distinct ports free now (all bound at once, so none repeats)."""
    with ExitStack() as sockets:
        probes = [sockets.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]


def free_port_runs(count: int, length: int) -> list[int]:
    """The first ports of `count` runs of `length` consecutive ports, all free now (the stack's layout: node i on
    first + i − 1)."""
    found: list[int] = []
    taken: set[int] = set()
    while len(found) < count:
        # Below the kernel's ephemeral range: a port found free there may be some connection's by the time a
        # JVM binds it.
        first = random.randrange(20_000, 32_768 - length)
        run = set(range(first, first + length))
        if run & taken:
            continue
        with ExitStack() as sockets:
            try:
                for port in run:
                    sockets.enter_context(socket.socket()).bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(first)
        taken |= run
    return found


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """Three KRaft nodes (broker + controller each) on free ports in a directory of their own, laid out as
    `stack up --brokers 3` lays them out; stopped and removed afterwards. The shared single broker is not touched."""
    first_port, first_controller = free_port_runs(2, 3)
    cluster = KafkaCluster(
        cluster_dir=tmp_path_factory.mktemp("kafka-cluster"),
        cache_dir=load_settings().stack.cache_dir,
        ports=[(first_port + i, first_controller + i) for i in range(3)],
        heap="384m",
    )
    cluster.install(print)
    try:
        cluster.start(print, timeout_s=120)
        yield cluster
    finally:
        cluster.stop(print)
        shutil.rmtree(cluster.cluster_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def truth() -> Truth:
    return ground_truth(CohortSimulator(seed=SEED, start=START), PARTICIPANTS, DAYS)


def on_cluster(settings: Settings, cluster: KafkaCluster) -> Settings:
    kafka = settings.kafka.model_copy(update={"bootstrap_servers": cluster.bootstrap_servers})
    return settings.model_copy(update={"kafka": kafka})


async def describe(bootstrap: str, names: list[str]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Each topic's partitions, and the first topic's min.insync.replicas."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(names)
        configs = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, names[0])])
    finally:
        await admin.close()
    entries = {entry[0]: entry[1] for entry in configs[0].resources[0][4]}
    return described, entries


async def test_every_topic_is_replicated_on_the_three_brokers_with_two_in_sync_required(
    cluster: KafkaCluster, settings: Settings
) -> None:
    assert await asyncio.to_thread(registered_brokers, cluster.bootstrap_servers, timeout_s=5) == 3
    kafka = on_cluster(settings, cluster).kafka.model_copy(update={"topic_prefix": "r3-" + os.urandom(4).hex()})
    created = await ensure_topics(kafka)
    assert len(created) == len(topics.readings_topics(kafka.topic_prefix)) + 7
    described, config = await describe(kafka.bootstrap_servers, created)
    assert config["min.insync.replicas"] == "2"
    for topic in described:
        assert topic["partitions"], topic["topic"]
        for partition in topic["partitions"]:
            assert sorted(partition["replicas"]) == [1, 2, 3], (topic["topic"], partition)


def test_stack_status_shows_each_node_of_the_cluster(cluster: KafkaCluster) -> None:
    first_port, first_controller = cluster.nodes[0].port, cluster.nodes[0].controller_port
    env = {
        **os.environ,
        "WEARSTREAM_KAFKA_CLUSTER_DIR": str(cluster.cluster_dir),
        "WEARSTREAM_KAFKA_CLUSTER_PORT": str(first_port),
        "WEARSTREAM_KAFKA_CLUSTER_CONTROLLER_PORT": str(first_controller),
    }
    result = subprocess.run(
        [sys.executable, "-m", "wearstream", "stack", "status", "--brokers", "3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line.split()[:2] for line in result.stdout.splitlines()[:3]] == [
        [f"kafka-{i}", node.address] for i, node in enumerate(cluster.nodes, start=1)
    ]


def stored_by_worker(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(float(value) for value in READINGS.findall(text))


async def assigned_members(bootstrap: str, group: str) -> int:
    """Members of the consumer group holding partitions, once it is stable (0 before, or while the coordinator
    is not known yet)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        response = (await admin.describe_consumer_groups([group]))[0].to_object()
    except KafkaError:
        return 0
    finally:
        await admin.close()
    described = response["groups"][0]
    if described["state"] != "Stable":
        return 0
    return sum(1 for member in described["members"] if member["member_assignment"])


async def wait_for_members(bootstrap: str, group: str, count: int, workers: list[subprocess.Popen[bytes]]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 90
    while await assigned_members(bootstrap, group) < count:
        assert all(worker.poll() is None for worker in workers)
        assert loop.time() < deadline, f"{count} workers did not share the partitions of {group} in 90 s"
        await asyncio.sleep(0.5)


async def leader_of(bootstrap: str, topic: str) -> int:
    described, _ = await describe(bootstrap, [topic])
    return int(described[0]["partitions"][0]["leader"])


async def test_a_broker_killed_mid_replay_loses_nothing_and_counts_nothing_twice_with_two_workers(
    cluster: KafkaCluster, settings: Settings, database: str, truth: Truth, tmp_path: Path
) -> None:
    env = isolated(on_cluster(settings, cluster), database)
    kafka = env.settings.kafka
    await ensure_topics(kafka)
    metrics_ports = free_ports(2)
    workers = [
        start_workers(
            {
                **env.env,
                "WEARSTREAM_KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap_servers,
                "WEARSTREAM_PROCESSOR_METRICS_PORT": str(port),
            },
            1,
            tmp_path / f"worker-{i}",
        )[0]
        for i, port in enumerate(metrics_ports)
    ]
    await wait_for_members(kafka.bootstrap_servers, env.settings.processor.group_id, 2, workers)
    replaying = asyncio.create_task(
        replay(kafka, ReplayPlan(participants=PARTICIPANTS, days=DAYS, seed=SEED, start=START, speed=SPEED))
    )
    try:
        started = time.monotonic()
        while await stored_readings(database) == 0 or time.monotonic() - started < KILL_AFTER_S:
            assert all(worker.poll() is None for worker in workers)
            assert not replaying.done(), "the replay ended before the workers stored its first readings"
            await asyncio.sleep(0.1)
        # The broker leading the heart-rate topic's first partition: producer, consumers and the group move.
        victim = cluster.nodes[
            await leader_of(kafka.bootstrap_servers, topics.readings_topic(kafka.topic_prefix, "heart_rate")) - 1
        ]
        pid = victim.running_pid()
        assert pid is not None
        mid_replay = not replaying.done()
        os.kill(pid, signal.SIGKILL)
        assert mid_replay, "the broker must die while the replay still publishes"
        report = await replaying
        assert report.total_readings == truth.total
        await wait_for_readings(database, truth.total, timeout_s=120)
        await asyncio.sleep(6)  # the not-synced timer (every 2 s) opens the trailing gaps
        assert all(worker.poll() is None for worker in workers)
        assert await stored_readings(database) == truth.total
        await assert_database_matches(database, truth)
        shares = [stored_by_worker(port) for port in metrics_ports]
        assert all(share > 0 for share in shares), shares  # both workers stored readings: they shared partitions
        # The group's offsets were replicated ×3 too; the partitions now run on the two survivors.
        offsets, _ = await describe(kafka.bootstrap_servers, ["__consumer_offsets"])
        assert all(sorted(p["replicas"]) == [1, 2, 3] for p in offsets[0]["partitions"])
        heart_rate, _ = await describe(
            kafka.bootstrap_servers, [topics.readings_topic(kafka.topic_prefix, "heart_rate")]
        )
        assert all(victim.node_id not in p["isr"] and len(p["isr"]) == 2 for p in heart_rate[0]["partitions"])
        survivors = ",".join(node.address for node in cluster.nodes if node is not victim)
        assert await asyncio.to_thread(registered_brokers, survivors, timeout_s=5) == 2
    finally:
        stop(workers)
