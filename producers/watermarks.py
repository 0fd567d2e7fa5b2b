"""Delta-load watermarks: what has been published per participant × metric, kept in a compacted Kafka topic.

Kafka (not a local file) so the record survives restarts and any machine with access to the broker sees it.
The key is `<source>|<participant>|<metric>`; the latest record per key wins.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition

from core.settings import KafkaSettings
from schemas.topics import watermarks_topic
from schemas.watermarks import Watermark, decode_watermark


async def load_watermarks(kafka: KafkaSettings, source: str) -> dict[tuple[str, str], Watermark]:
    """Reads the whole compacted topic up to its current end; returns (participant, metric) → watermark."""
    topic = watermarks_topic(kafka.topic_prefix)
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    found: dict[tuple[str, str], Watermark] = {}
    try:
        partitions = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or set())]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or set())]
        if not partitions:
            return found
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    if record.value is not None:
                        mark = decode_watermark(record.value)
                        if mark.source == source:
                            found[(mark.participant_id, mark.metric)] = mark
                    if record.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return found
