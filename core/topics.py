"""Creates wearstream's Kafka topics idempotently from the metric registry, replicated as the cluster allows.

With `replication_factor` 0 (the default) a topic gets as many replicas as the cluster has brokers, at most 3:
one on the single local broker, three on the 3-broker cluster. Topics with 3 or more replicas also get
`min.insync.replicas=2`, so that a producer's `acks=all` write survives the loss of any one broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Final

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from core.settings import KafkaSettings
from schemas import topics

MAX_REPLICAS: Final = 3


def replication_for(kafka: KafkaSettings, brokers: int) -> int:
    """The replicas a new topic gets on a cluster of `brokers`: the configured number, or (0) up to 3."""
    return kafka.replication_factor or max(1, min(MAX_REPLICAS, brokers))


def min_insync_for(replicas: int) -> int:
    """Acknowledgements an `acks=all` write needs: 2 of 3 (one broker may be lost), else every replica."""
    return 2 if replicas >= MAX_REPLICAS else 1


async def cluster_brokers(admin: AIOKafkaAdminClient) -> int:
    """Brokers the cluster's metadata lists (the live ones)."""
    return len((await admin.describe_cluster())["brokers"])


async def with_cluster_replication(kafka: KafkaSettings) -> KafkaSettings:
    """`kafka` with its replication factor resolved against the cluster (what the worker gives faust for the
    topics it creates itself)."""
    if kafka.replication_factor:
        return kafka
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers, client_id="wearstream-admin")
    await admin.start()
    try:
        brokers = await cluster_brokers(admin)
    finally:
        await admin.close()
    return kafka.model_copy(update={"replication_factor": replication_for(kafka, brokers)})


def planned_topics(kafka: KafkaSettings, brokers: int = 1) -> list[NewTopic]:
    """Readings topics (one per metric, keyed by participant), participants (compacted), and the outputs, for
    a cluster of `brokers`."""
    prefix = kafka.topic_prefix
    retention = {"retention.ms": str(kafka.retention_ms), "compression.type": "producer"}
    replicas = replication_for(kafka, brokers)
    durability = {"min.insync.replicas": str(min_insync_for(replicas))} if replicas >= MAX_REPLICAS else {}

    def topic(name: str, config: dict[str, str], partitions: int | None = None) -> NewTopic:
        return NewTopic(
            name=name,
            num_partitions=partitions or kafka.partitions,
            replication_factor=replicas,
            topic_configs={**config, **durability},
        )

    planned = [topic(name, retention) for name in topics.readings_topics(prefix)]
    planned.append(topic(topics.participants_topic(prefix), {"cleanup.policy": "compact"}))
    planned.append(topic(topics.watermarks_topic(prefix), {"cleanup.policy": "compact"}, partitions=1))
    planned.append(topic(topics.device_daily_topic(prefix), retention))
    planned.append(topic(topics.gaps_topic(prefix), retention))
    planned.append(topic(topics.alerts_topic(prefix), retention))
    planned.append(topic(topics.live_topic(prefix), {"retention.ms": str(24 * 3600 * 1000)}))
    planned.append(topic(topics.deadletter_topic(prefix), retention))
    return planned


async def _wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str], timeout_s: float = 30.0) -> None:
    """New partitions answer only once they have a leader; producing before that just retries."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while names and asyncio.get_running_loop().time() < deadline:
        described = await admin.describe_topics(names)
        if all(p["leader"] >= 0 for topic in described for p in topic["partitions"]) and all(
            topic["partitions"] for topic in described
        ):
            return
        await asyncio.sleep(0.1)


async def ensure_topics(kafka: KafkaSettings, extra: list[NewTopic] | None = None) -> list[str]:
    """Creates the topics that do not exist yet; returns the names created now. Safe to call twice."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers, client_id="wearstream-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        planned = planned_topics(kafka, await cluster_brokers(admin))
        missing = [t for t in planned + (extra or []) if t.name not in existing]
        if not missing:
            return []
        created = []
        response = await admin.create_topics(missing)
        for name, code, *_ in response.topic_errors:
            if code not in (0, TopicAlreadyExistsError.errno):
                raise RuntimeError(f"creating topic {name} failed with Kafka error code {code}")
            if code == 0:
                created.append(name)
        await _wait_for_leaders(admin, created)
        return created
    finally:
        await admin.close()


async def delete_topics(bootstrap_servers: str, prefixes: Iterable[str]) -> int:
    """Deletes every topic whose name starts with one of `prefixes`; returns how many."""
    wanted = tuple(prefixes)
    if not wanted:
        return 0
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(wanted)]
        for start in range(0, len(names), 200):
            await admin.delete_topics(names[start : start + 200])
        return len(names)
    finally:
        await admin.close()
