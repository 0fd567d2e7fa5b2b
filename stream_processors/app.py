"""The faust-streaming app: one agent per metric topic, one for participants, and the not-synced timer.

Each agent takes groups of events (`take_events`) and hands them to the Processor; faust acknowledges a
group when the loop body returns, so the body retries recoverable errors itself and, on anything else, ends
the process at once (os._exit) so that nothing it holds is acknowledged. `concurrency=1` per agent: scale
with partitions and worker processes.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Final, cast

import faust

from schemas import topics
from schemas.events import GapEvent, LiveUpdate, encode_event
from schemas.metrics import METRICS
from stream_processors import health
from stream_processors.db import create_pool
from stream_processors.deadletter import DeadLetter, DeadLetterLimit
from stream_processors.envelope import Envelope
from stream_processors.pipeline import Processor, Publisher
from stream_processors.sink import Sink
from wearstream.settings import Settings, retention_days

log = logging.getLogger("wearstream.processor")
EXIT_FATAL: Final = 70
HEALTH_INTERVAL_S: Final = 15.0


def envelope_of(event: faust.types.EventT[bytes]) -> Envelope:
    message = event.message
    headers = message.headers or []
    pairs: list[tuple[str, bytes]] = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    return Envelope(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        payload=message.value if isinstance(message.value, bytes) else bytes(message.value or b""),
        headers=tuple((str(k), v if isinstance(v, bytes) else str(v).encode()) for k, v in pairs),
        timestamp_ms=int((message.timestamp or 0) * 1000),
    )


def fatal(error: BaseException) -> None:
    """Stops the worker without acknowledging what it holds: the group is redelivered after restart."""
    log.critical("stopping the worker: %s", error, exc_info=error)
    logging.shutdown()
    os._exit(EXIT_FATAL)


def create_app(settings: Settings) -> faust.App:
    kafka, processing = settings.kafka, settings.processor
    brokers = ";".join(f"kafka://{server}" for server in kafka.bootstrap_servers.split(","))
    app = faust.App(
        processing.group_id,
        broker=brokers,
        value_serializer="raw",
        key_serializer="raw",
        topic_partitions=kafka.partitions,
        topic_replication_factor=kafka.replication_factor,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        broker_session_timeout=processing.session_timeout_s,
        broker_heartbeat_interval=max(1.0, processing.session_timeout_s / 10),
        producer_acks=-1,
        producer_compression_type="lz4",
        producer_linger=0.005,
        stream_wait_empty=False,
        web_enabled=False,
        datadir=str(settings.stack.state_dir / "processor" / processing.group_id),
    )
    prefix = kafka.topic_prefix
    deadletter_topic = app.topic(topics.deadletter_topic(prefix), value_type=bytes)
    live_topic = app.topic(topics.live_topic(prefix), value_type=bytes)
    gaps_topic = app.topic(topics.gaps_topic(prefix), value_type=bytes)

    async def dead_letter(letter: DeadLetter) -> None:
        key = letter.envelope.topic.encode()
        delivery = await deadletter_topic.send(key=key, value=letter.envelope.payload, headers=letter.headers())
        await delivery

    async def live(update: LiveUpdate) -> None:
        await live_topic.send(key=update.participant_id.encode(), value=encode_event(update))

    async def gap(event: GapEvent) -> None:
        await gaps_topic.send(key=event.participant_id.encode(), value=encode_event(event))

    publisher = Publisher(dead_letter=dead_letter, live=live, gap=gap)
    state: dict[str, Processor] = {}

    async def processor() -> Processor:
        if "processor" not in state:
            pool = await create_pool(settings.database.processor_dsn, size=settings.database.pool_size)
            sink = Sink(pool, not_synced_after_s=processing.not_synced_after_s)
            limit = DeadLetterLimit(max_ratio=processing.deadletter_max_ratio, window=processing.deadletter_window)
            state["processor"] = Processor(
                sink,
                publisher,
                limit=limit,
                future_tolerance_ms=processing.future_tolerance_s * 1000,
                live_window_ms=processing.live_window_s * 1000,
            )
        return state["processor"]

    def readings_agent(metric: str) -> Callable[[faust.StreamT[bytes]], Coroutine[Any, Any, None]]:
        async def consume(stream: faust.StreamT[bytes]) -> None:
            async for events in cast(faust.Stream[bytes], stream).take_events(
                processing.take_max, within=processing.take_within_s
            ):
                try:
                    await (await processor()).process_group(metric, [envelope_of(e) for e in events])
                except Exception as error:
                    fatal(error)

        consume.__name__ = f"readings_{metric}"
        return consume

    for metric in METRICS:
        topic = app.topic(topics.readings_topic(prefix, metric), value_type=bytes)
        app.agent(topic, name=f"readings-{metric}", concurrency=1)(readings_agent(metric))

    async def consume_participants(stream: faust.StreamT[bytes]) -> None:
        async for events in cast(faust.Stream[bytes], stream).take_events(
            processing.take_max, within=processing.take_within_s
        ):
            try:
                await (await processor()).process_participants([envelope_of(e) for e in events])
            except Exception as error:
                fatal(error)

    participants_topic = app.topic(topics.participants_topic(prefix), value_type=bytes)
    app.agent(participants_topic, name="participants", concurrency=1)(consume_participants)

    async def check_not_synced() -> None:
        try:
            await (await processor()).check_not_synced()
        except Exception as error:
            fatal(error)

    app.timer(interval=processing.gap_check_interval_s, on_leader=True, name="not-synced")(check_not_synced)

    async def check_not_synced_at_start() -> None:
        # A timer first fires one interval after start; silent participants are known at once. Any worker
        # may run this: opening a gap that is already open changes nothing.
        await asyncio.sleep(5)
        await check_not_synced()

    app.task(check_not_synced_at_start)

    async def compact_raw() -> None:
        try:
            worker = await processor()
            report = await worker.compact(settle_s=processing.compaction_settle_s)
            if report.periods:
                log.info("compacted %d periods (%d segments)", report.periods, report.segments_merged)
            dropped = await worker.apply_retention(retention_days(processing))
            if any(dropped.values()):
                log.info("retention dropped chunks: %s", dropped)
        except Exception as error:
            fatal(error)

    app.timer(interval=processing.compaction_interval_s, on_leader=True, name="compaction")(compact_raw)

    watched = [*topics.readings_topics(prefix), topics.participants_topic(prefix)]

    async def report_health() -> None:
        pool = None
        try:
            pool = (await processor()).sink.pool
        except Exception as error:  # the database is away at start-up: report it, don't stop
            log.warning("no database pool: %s", error)
        await health.report(
            pool,
            leader=app.is_leader(),
            bootstrap_servers=kafka.bootstrap_servers,
            group=processing.group_id,
            topics=watched,
        )

    app.timer(interval=min(HEALTH_INTERVAL_S, processing.gap_check_interval_s), name="health")(report_health)
    return app
