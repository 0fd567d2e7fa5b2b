"""CPU cost per reading of each component, on a Kafka cluster of the benchmark's own (1 node, then 3):

- producer: encoding and publishing pre-simulated batches (this process's CPU time; the simulation is not counted);
- broker: the Kafka nodes' JVMs (from /proc);
- worker: one `wearstream process`, from the first batch published to the last reading committed;
- PostgreSQL: the server backends of the worker's connections to the benchmark's database (from /proc; the
  shared WAL writer and checkpointer are not attributed).

Every figure is CPU seconds (user + system) divided by the readings stored, in µs per reading: unlike wall
time, other jobs on the machine barely move it. Brokers and worker are measured above their idle rate (heartbeats,
empty fetches, timers), taken over 10 s just before publishing, once the JVMs settled and the worker joined.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Final

import asyncpg

from bench.common import Environment, Measurement, environment, stored_readings, summarise, wait_until
from bench.ingest import SEED, START, data_label
from core.settings import Settings
from deploy.local.kafka_cluster import KafkaCluster
from deploy.local.services import start_workers
from deploy.local.services import stop as stop_workers
from producers.publisher import BatchPublisher
from producers.simulator import CohortSimulator
from schemas.metrics import HEART_RATE
from schemas.readings import ReadingBatch

TICKS: Final = os.sysconf("SC_CLK_TCK")
SETTLE_S: Final = 20.0
IDLE_S: Final = 10.0


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def free_run(length: int) -> int:
    """The first of `length` consecutive free ports (the cluster's layout)."""
    for first in range(20_000, 32_768 - length, 97):  # below the kernel's ephemeral ports
        with ExitStack() as sockets:
            try:
                for port in range(first, first + length):
                    sockets.enter_context(socket.socket()).bind(("127.0.0.1", port))
            except OSError:
                continue
            return first
    raise RuntimeError("no free ports")


def all_batches(participants: int, days: int) -> list[ReadingBatch]:
    simulator = CohortSimulator(seed=SEED, start=START)
    return [
        b for k in range(1, participants + 1) for day in range(days) for b in simulator.simulate_day(k, day).batches
    ]


async def backend_cpu(connection: asyncpg.Connection, database: str) -> dict[int, float]:
    """CPU seconds of every server backend connected to `database`, except this connection's own."""
    rows = await connection.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", database
    )
    return {int(r["pid"]): process_cpu_s(int(r["pid"])) for r in rows}


async def one_cluster(
    settings: Settings, *, brokers: int, batches: list[ReadingBatch], log_dir: Path
) -> dict[str, float]:
    """CPU seconds per component for publishing `batches` through a fresh `brokers`-node cluster into the store."""
    first = free_run(2 * brokers + 1)
    cluster_dir = log_dir / f"cluster-{brokers}"
    shutil.rmtree(cluster_dir, ignore_errors=True)
    cluster = KafkaCluster(
        cluster_dir=cluster_dir,
        cache_dir=settings.stack.cache_dir,
        ports=[(first + i, first + brokers + 1 + i) for i in range(brokers)],
        heap="384m",
    )
    # The cluster's own probes run an event loop of their own: off this one.
    await asyncio.to_thread(cluster.install, print)
    await asyncio.to_thread(cluster.start, print, timeout_s=180)
    try:
        kafka = settings.kafka.model_copy(update={"bootstrap_servers": cluster.bootstrap_servers})
        async with environment(settings.model_copy(update={"kafka": kafka})) as env:
            return await measure(env, cluster, batches, log_dir / f"workers-{brokers}")
    finally:
        await asyncio.to_thread(cluster.stop, print)
        shutil.rmtree(cluster_dir, ignore_errors=True)


async def measure(
    env: Environment, cluster: KafkaCluster, batches: list[ReadingBatch], log_dir: Path
) -> dict[str, float]:
    node_pids = [pid for node in cluster.nodes if (pid := node.running_pid()) is not None]

    def brokers_cpu() -> float:
        return sum(process_cpu_s(pid) for pid in node_pids)

    workers = start_workers({**env.env, "WEARSTREAM_KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap_servers}, 1, log_dir)
    connection = await asyncpg.connect(env.database_url)
    try:
        await asyncio.sleep(SETTLE_S)  # the worker starts and joins; the brokers' JVMs settle after start-up
        # What brokers and worker burn idle (heartbeats, empty fetches, timers), taken off their figures below.
        idle = [brokers_cpu(), process_cpu_s(workers[0].pid)]
        await asyncio.sleep(IDLE_S)
        broker_idle, worker_idle = (
            (brokers_cpu() - idle[0]) / IDLE_S,
            (process_cpu_s(workers[0].pid) - idle[1]) / IDLE_S,
        )
        database = env.database_url.rsplit("/", 1)[1]
        pg_before = await backend_cpu(connection, database)
        worker_before, broker_before = process_cpu_s(workers[0].pid), brokers_cpu()
        started, producer_before = time.monotonic(), time.process_time()
        publisher = BatchPublisher(env.settings.kafka, client_id="bench-cpu")
        await publisher.start()
        for batch in batches:
            await publisher.send(batch)
        await publisher.stop()
        producer_s = time.process_time() - producer_before
        total = sum(len(b) for b in batches)

        async def done() -> bool:
            if workers[0].poll() is not None:
                raise RuntimeError(f"the worker exited; see {log_dir}")
            return await stored_readings(connection) >= total

        await wait_until(done, timeout_s=600, poll_s=0.5)
        elapsed = time.monotonic() - started
        broker_s = brokers_cpu() - broker_before - broker_idle * elapsed
        worker_s = process_cpu_s(workers[0].pid) - worker_before - worker_idle * elapsed
        pg_after = await backend_cpu(connection, database)
    finally:
        await connection.close()
        stop_workers(workers)
    pg_s = sum(cpu - pg_before.get(pid, 0.0) for pid, cpu in pg_after.items())
    return {"producer": producer_s, "broker": broker_s, "worker": worker_s, "postgres": pg_s}


async def cpu_per_reading(
    settings: Settings, *, participants: int, days: int, repeats: int, log_dir: Path
) -> list[Measurement]:
    """All metrics through 1 broker and through 3 (replication 3); then heart rate alone through 1 broker, the
    end-to-end heart-rate benchmarks' data, for the capacity model."""
    every = all_batches(participants, days)
    heart_rate = [b for b in every if b.metric == HEART_RATE.name]
    found: list[Measurement] = []
    for suffix, batches, brokers in (("brokers_1", every, 1), ("brokers_3", every, 3), ("heart_rate", heart_rate, 1)):
        total = sum(len(b) for b in batches)
        what = "heart rate" if suffix == "heart_rate" else "all metrics"
        label = data_label(participants, days, f"{what}, {total:,} readings in {len(batches):,} batches")
        runs = [await one_cluster(settings, brokers=brokers, batches=batches, log_dir=log_dir) for _ in range(repeats)]
        for component in ("producer", "broker", "worker", "postgres"):
            found.append(
                summarise(
                    f"cpu.{component}.{suffix}",
                    [run[component] / total * 1e6 for run in runs],
                    "µs/reading",
                    data=label,
                    note=f"CPU (user + system) per stored reading, {brokers} broker(s), replication {min(3, brokers)}",
                )
            )
    return found
