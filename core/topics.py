"""Creates wearstream's Kafka topics idempotently from the metric registry."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from core.settings import KafkaSettings
from schemas import topics


def planned_topics(kafka: KafkaSettings) -> list[NewTopic]:
    """Readings topics (one per metric, keyed by participant), participants (compacted), and the outputs."""
    prefix = kafka.topic_prefix
    retention = {"retention.ms": str(kafka.retention_ms), "compression.type": "producer"}

    def topic(name: str, config: dict[str, str], partitions: int | None = None) -> NewTopic:
        return NewTopic(
            name=name,
            num_partitions=partitions or kafka.partitions,
            replication_factor=kafka.replication_factor,
            topic_configs=config,
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
        missing = [t for t in planned_topics(kafka) + (extra or []) if t.name not in existing]
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
