"""The faust-streaming app: one agent per metric topic, one for participants, one for device-reported daily
values, the not-synced timer and the outbox drain.

Each agent takes groups of events (`take_events`) and hands them to the Processor; faust acknowledges a
group when the loop body returns. The Processor retries recoverable errors and dead-letters what keeps
failing, so a message cannot stop the worker; on anything else (a bug, bad configuration) the body ends the
process at once (os._exit) so that nothing it holds is acknowledged. When a topic's dead-letter limit trips,
its agent acknowledges and commits the group it holds (its dead letters are never published again) and then
takes nothing more until the worker restarts; the other agents go on. `concurrency=1` per agent: scale with
partitions and worker processes.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, Final, cast

import faust

from core.settings import Settings, retention_days
from schemas import topics
from schemas.events import AlertEvent, GapEvent, LiveUpdate, encode_event
from schemas.metrics import METRICS
from stream_processors import health
from stream_processors import metric_defs as m
from stream_processors.db import create_pool
from stream_processors.deadletter import DeadLetter, DeadLetterLimit
from stream_processors.envelope import Envelope
from stream_processors.pipeline import Processor, Publisher
from stream_processors.sink import Sink

log = logging.getLogger("wearstream.processor")
EXIT_FATAL: Final = 70
HEALTH_INTERVAL_S: Final = 15.0
OUTBOX_INTERVAL_S: Final = 5.0
CRASH_AFTER_COMMIT_ENV: Final = "WEARSTREAM_TEST_CRASH_AFTER_COMMIT"
"""Tests only: "1" kills the worker (SIGKILL) between a commit that staged gap events and their publishing."""


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
        key=message.key if isinstance(message.key, bytes) or message.key is None else str(message.key).encode(),
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
    alerts_topic = app.topic(topics.alerts_topic(prefix), value_type=bytes)

    crash_after_commit = os.environ.get(CRASH_AFTER_COMMIT_ENV) == "1"

    async def dead_letter(letter: DeadLetter) -> None:
        # The original key: dead letters spread over partitions as their messages did.
        key = letter.envelope.key
        delivery = await deadletter_topic.send(key=key, value=letter.envelope.payload, headers=letter.headers())
        await delivery

    in_flight: list[Awaitable[Any]] = []

    async def live(update: LiveUpdate) -> None:
        in_flight.append(await live_topic.send(key=update.participant_id.encode(), value=encode_event(update)))

    async def gap(event: GapEvent) -> None:
        in_flight.append(await gaps_topic.send(key=event.participant_id.encode(), value=encode_event(event)))

    async def alert(event: AlertEvent) -> None:
        in_flight.append(await alerts_topic.send(key=event.participant_id.encode(), value=encode_event(event)))

    async def flush() -> None:
        pending = list(in_flight)
        in_flight.clear()
        await asyncio.gather(*pending)

    publisher = Publisher(dead_letter=dead_letter, live=live, gap=gap, flush=flush, alert=alert)
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
                crash_after_commit=crash_after_commit,
                on_pause=health.WORKER.pause,
            )
        return state["processor"]

    async def wait_while_paused(topic: str) -> None:
        """Blocks for good once the topic's limit tripped. faust cancels and restarts agents on a rebalance:
        a restarted agent calls this before taking anything, so it holds no events while it waits."""
        if (await processor()).is_paused(topic):
            log.error("%s paused by the dead-letter limit; restart the worker to resume", topic)
            await asyncio.Event().wait()

    async def halt_if_paused(
        topic: str, stream: faust.Stream[bytes], events: Sequence[faust.types.EventT[Any]]
    ) -> None:
        """After a group that tripped the topic's limit: acknowledge and commit it, then take nothing more."""
        if not (await processor()).is_paused(topic):
            return
        try:
            for event in events:
                await stream.ack(event)
            await app.consumer.commit()
        except Exception:  # the periodic commit (every second) commits the acknowledged offsets anyway
            log.exception("committing the group that paused %s", topic)
        await wait_while_paused(topic)

    def readings_agent(metric: str) -> Callable[[faust.StreamT[bytes]], Coroutine[Any, Any, None]]:
        topic_name = topics.readings_topic(prefix, metric)

        async def consume(stream: faust.StreamT[bytes]) -> None:
            typed = cast(faust.Stream[bytes], stream)
            await wait_while_paused(topic_name)
            async for events in typed.take_events(processing.take_max, within=processing.take_within_s):
                try:
                    await (await processor()).process_group(metric, [envelope_of(e) for e in events])
                except Exception as error:
                    fatal(error)
                await halt_if_paused(topic_name, typed, events)

        consume.__name__ = f"readings_{metric}"
        return consume

    for metric in METRICS:
        topic = app.topic(topics.readings_topic(prefix, metric), value_type=bytes)
        app.agent(topic, name=f"readings-{metric}", concurrency=1)(readings_agent(metric))

    async def consume_participants(stream: faust.StreamT[bytes]) -> None:
        typed = cast(faust.Stream[bytes], stream)
        await wait_while_paused(topics.participants_topic(prefix))
        async for events in typed.take_events(processing.take_max, within=processing.take_within_s):
            try:
                await (await processor()).process_participants([envelope_of(e) for e in events])
            except Exception as error:
                fatal(error)
            await halt_if_paused(topics.participants_topic(prefix), typed, events)

    participants_topic = app.topic(topics.participants_topic(prefix), value_type=bytes)
    app.agent(participants_topic, name="participants", concurrency=1)(consume_participants)

    async def consume_device_daily(stream: faust.StreamT[bytes]) -> None:
        async for events in cast(faust.Stream[bytes], stream).take_events(
            processing.take_max, within=processing.take_within_s
        ):
            try:
                await (await processor()).process_device_daily([envelope_of(e) for e in events])
            except Exception as error:
                fatal(error)

    device_daily_topic = app.topic(topics.device_daily_topic(prefix), value_type=bytes)
    app.agent(device_daily_topic, name="device-daily", concurrency=1)(consume_device_daily)

    async def check_not_synced() -> None:
        try:
            await (await processor()).check_not_synced()
        except Exception:  # a periodic task: the next run tries again
            m.TASK_ERRORS.labels("not_synced").inc()
            log.exception("not-synced check failed")

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
        except Exception:  # a periodic task: the next run tries again
            m.TASK_ERRORS.labels("compaction").inc()
            log.exception("compaction or retention failed")

    app.timer(interval=processing.compaction_interval_s, on_leader=True, name="compaction")(compact_raw)

    async def drain_outbox() -> None:
        try:
            published = await (await processor()).drain_outbox()
            if published:
                log.info("published %d events left in the outbox", published)
        except Exception:  # the rows stay: the next run tries again
            m.TASK_ERRORS.labels("outbox").inc()
            log.exception("outbox drain failed")

    # Every worker drains (rows are locked with SKIP LOCKED): leftovers go out soon after any restart.
    app.timer(interval=OUTBOX_INTERVAL_S, name="outbox")(drain_outbox)

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
