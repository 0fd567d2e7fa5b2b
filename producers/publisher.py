"""Publishes ReadingBatches and participant records to Kafka, done right.

Idempotent producer, acks=all, lz4 compression, batching tuned for upload-sized messages, key = participant
id. `send` never forgets a message: `flush` awaits every delivery and raises the first error.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

from aiokafka import AIOKafkaProducer

from core.settings import KafkaSettings
from core.telemetry import tracer
from producers import metric_defs as m
from schemas import topics
from schemas.device_daily import DeviceDaily, encode_device_daily
from schemas.participants import Participant, encode_participant
from schemas.readings import ReadingBatch, encode_batch
from schemas.watermarks import Watermark, encode_watermark

MAX_REQUEST_BYTES: Final = 16 * 1024 * 1024


class BatchPublisher:
    def __init__(
        self, kafka: KafkaSettings, *, client_id: str = "wearstream-producer", source: str | None = None
    ) -> None:
        self.prefix = kafka.topic_prefix
        self.source = source or client_id.removeprefix("wearstream-")
        """The `source` label of the producer metrics (`replay`, `import`)."""
        self._producer = AIOKafkaProducer(
            bootstrap_servers=kafka.bootstrap_servers,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            compression_type="lz4",
            linger_ms=20,
            max_batch_size=1024 * 1024,
            max_request_size=MAX_REQUEST_BYTES,
        )
        self._pending: list[asyncio.Future[object]] = []
        self.messages = 0
        self.readings = 0
        self.encoded_bytes = 0

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        try:
            await self.flush()
        finally:
            await self._producer.stop()

    async def send(self, batch: ReadingBatch) -> None:
        payload = encode_batch(batch)
        # The span is the batch's trace root; the aiokafka instrumentation's send span (with `traceparent`
        # in the message headers) nests under it, and the processor continues the trace from that header.
        with tracer().start_as_current_span(
            f"publish {batch.metric}",
            attributes={
                "wearstream.participant_id": batch.participant_id,
                "wearstream.metric": batch.metric,
                "wearstream.batch_id": batch.batch_id,
                "wearstream.readings": len(batch),
            },
        ):
            future = await self._producer.send(
                topics.readings_topic(self.prefix, batch.metric), value=payload, key=batch.participant_id.encode()
            )
        self._pending.append(future)
        self.messages += 1
        self.readings += len(batch)
        self.encoded_bytes += len(payload)
        m.BATCHES.labels(self.source, batch.metric).inc()
        m.READINGS.labels(self.source, batch.metric).inc(len(batch))
        m.ENCODED_BYTES.labels(self.source).inc(len(payload))
        if len(self._pending) >= 10_000:
            await self.flush()

    async def send_participant(self, participant: Participant) -> None:
        future = await self._producer.send(
            topics.participants_topic(self.prefix),
            value=encode_participant(participant),
            key=participant.participant_id.encode(),
        )
        self._pending.append(future)

    async def send_device_daily(self, message: DeviceDaily) -> None:
        future = await self._producer.send(
            topics.device_daily_topic(self.prefix),
            value=encode_device_daily(message),
            key=message.participant_id.encode(),
        )
        self._pending.append(future)

    async def commit_watermarks(self, marks: list[Watermark]) -> None:
        """Records delta-load progress, only after everything it covers is on the broker."""
        await self.flush()
        topic = topics.watermarks_topic(self.prefix)
        for mark in marks:
            self._pending.append(await self._producer.send(topic, value=encode_watermark(mark), key=mark.key.encode()))
        await self.flush()

    async def flush(self) -> None:
        """Returns once the broker acknowledged everything sent so far; raises the first delivery error."""
        pending, self._pending = self._pending, []
        if pending:
            started = time.perf_counter()
            results = await asyncio.gather(*pending, return_exceptions=True)
            m.FLUSH_SECONDS.labels(self.source).observe(time.perf_counter() - started)
            errors = [r for r in results if isinstance(r, BaseException)]
            if errors:
                m.SEND_ERRORS.labels(self.source).inc(len(errors))
                raise errors[0]
            m.LAST_PUBLISH.labels(self.source).set(time.time())
