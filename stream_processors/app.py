"""The faust-streaming app: one agent per metric topic, one for participants, one for device-reported daily
values, the not-synced timer and the outbox drain.

Each agent takes groups of events (`take.take_groups`: the next group fills while one is stored) and hands
them to the Processor; it acknowledges a group once the Processor returned. The Processor retries
recoverable errors and dead-letters what keeps failing, so a message cannot stop the worker; on anything else
(a bug, bad configuration) the body ends the process at once (os._exit) so that nothing it holds is
acknowledged. When a topic's dead-letter limit trips, its agent commits the group it holds (its dead letters
are never published again) and then takes nothing more until the worker restarts; the other agents go on.
`concurrency=1` per agent: scale with partitions and worker processes.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Final, cast

import asyncpg
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
from stream_processors.pipeline import Processor
from stream_processors.publisher import Publisher
from stream_processors.sink import Sink
from stream_processors.take import acknowledge, take_groups

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


Handle = Callable[[Processor, list[Envelope]], Awaitable[object]]
"""What an agent does with one group: hands it to the Processor."""


def create_app(settings: Settings) -> faust.App:
    """The worker: the faust app, its Kafka publisher, an agent per input topic, and the periodic tasks."""
    app = faust_app(settings)
    worker = LazyProcessor(settings, kafka_publisher(app, settings.kafka.topic_prefix))
    add_agents(app, worker, settings)
    add_timers(app, worker, settings)
    add_health_report(app, worker, settings)
    return app


def faust_app(settings: Settings) -> faust.App:
    kafka, processing = settings.kafka, settings.processor
    return faust.App(
        processing.group_id,
        broker=";".join(f"kafka://{server}" for server in kafka.bootstrap_servers.split(",")),
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


def kafka_publisher(app: faust.App, prefix: str) -> Publisher:
    """Dead letters wait for the broker one by one; events are sent at once and awaited together by `flush`."""
    deadletter_topic = app.topic(topics.deadletter_topic(prefix), value_type=bytes)
    live_topic = app.topic(topics.live_topic(prefix), value_type=bytes)
    gaps_topic = app.topic(topics.gaps_topic(prefix), value_type=bytes)
    alerts_topic = app.topic(topics.alerts_topic(prefix), value_type=bytes)
    in_flight: list[Awaitable[Any]] = []

    async def dead_letter(letter: DeadLetter) -> None:
        # The original key: dead letters spread over partitions as their messages did.
        key = letter.envelope.key
        delivery = await deadletter_topic.send(key=key, value=letter.envelope.payload, headers=letter.headers())
        await delivery

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

    return Publisher(dead_letter=dead_letter, live=live, gap=gap, flush=flush, alert=alert)


class LazyProcessor:
    """The Processor and its database pool, created on first use (the database may be away at start-up)."""

    def __init__(self, settings: Settings, publisher: Publisher) -> None:
        self.settings = settings
        self.publisher = publisher
        self.pool: asyncpg.Pool | None = None
        self._processor: Processor | None = None

    async def __call__(self) -> Processor:
        if self._processor is None:
            database, processing = self.settings.database, self.settings.processor
            pool = await create_pool(database.processor_dsn, size=database.pool_size)
            self.pool = pool
            self._processor = Processor(
                Sink(pool, not_synced_after_s=processing.not_synced_after_s),
                self.publisher,
                limit=DeadLetterLimit(max_ratio=processing.deadletter_max_ratio, window=processing.deadletter_window),
                future_tolerance_ms=processing.future_tolerance_s * 1000,
                live_window_ms=processing.live_window_s * 1000,
                crash_after_commit=os.environ.get(CRASH_AFTER_COMMIT_ENV) == "1",
                on_pause=health.WORKER.pause,
                consumer_group=processing.group_id,
                store_concurrency=processing.store_concurrency,
            )
        return self._processor


async def wait_while_paused(worker: LazyProcessor, topic: str) -> None:
    """Blocks for good once the topic's limit tripped. faust cancels and restarts agents on a rebalance:
    a restarted agent calls this before taking anything, so it holds no events while it waits."""
    if (await worker()).is_paused(topic):
        log.error("%s paused by the dead-letter limit; restart the worker to resume", topic)
        await asyncio.Event().wait()


async def halt_if_paused(app: faust.App, worker: LazyProcessor, topic: str) -> None:
    """After a group (acknowledged) that tripped the topic's limit: commit it, then take nothing more."""
    if not (await worker()).is_paused(topic):
        return
    try:
        await app.consumer.commit()
    except Exception:  # the periodic commit (every second) commits the acknowledged offsets anyway
        log.exception("committing the group that paused %s", topic)
    await wait_while_paused(worker, topic)


def group_agent(
    app: faust.App, worker: LazyProcessor, settings: Settings, topic: str, handle: Handle, *, pausable: bool = True
) -> Callable[[faust.StreamT[bytes]], Coroutine[Any, Any, None]]:
    """An agent body: takes groups of events, hands each to the Processor and ends the process on any error
    it raises (fatal), so nothing of the group is acknowledged. A pausable topic stops at its limit."""
    processing = settings.processor

    async def consume(stream: faust.StreamT[bytes]) -> None:
        typed = cast(faust.Stream[bytes], stream)
        if pausable:
            await wait_while_paused(worker, topic)
        groups = take_groups(
            typed, max_events=processing.take_max, within_s=processing.take_within_s, idle_s=processing.take_idle_s
        )
        async for events in groups:
            try:
                await handle(await worker(), [envelope_of(e) for e in events])
            except Exception as error:
                fatal(error)
            await acknowledge(typed, events)
            if pausable:
                await halt_if_paused(app, worker, topic)

    return consume


def add_agents(app: faust.App, worker: LazyProcessor, settings: Settings) -> None:
    """One agent per metric topic, one for participants, one for device-reported daily values."""
    prefix = settings.kafka.topic_prefix

    def readings(metric: str) -> Handle:
        return lambda processor, envelopes: processor.process_group(metric, envelopes)

    for metric in METRICS:
        topic = topics.readings_topic(prefix, metric)
        consume = group_agent(app, worker, settings, topic, readings(metric))
        consume.__name__ = f"readings_{metric}"
        app.agent(app.topic(topic, value_type=bytes), name=f"readings-{metric}", concurrency=1)(consume)
    participants = topics.participants_topic(prefix)
    consume = group_agent(app, worker, settings, participants, lambda p, e: p.process_participants(e))
    consume.__name__ = "consume_participants"
    app.agent(app.topic(participants, value_type=bytes), name="participants", concurrency=1)(consume)
    device_daily = topics.device_daily_topic(prefix)
    consume = group_agent(app, worker, settings, device_daily, lambda p, e: p.process_device_daily(e), pausable=False)
    consume.__name__ = "consume_device_daily"
    app.agent(app.topic(device_daily, value_type=bytes), name="device-daily", concurrency=1)(consume)


def add_timers(app: faust.App, worker: LazyProcessor, settings: Settings) -> None:
    """The not-synced check (leader; and once soon after start), compaction and retention (leader) and the
    outbox drain (every worker)."""
    processing = settings.processor

    async def check_not_synced() -> None:
        try:
            await (await worker()).check_not_synced()
        except Exception:  # a periodic task: the next run tries again
            m.TASK_ERRORS.labels("not_synced").inc()
            log.exception("not-synced check failed")

    async def check_not_synced_at_start() -> None:
        # A timer first fires one interval after start; silent participants are known at once. Any worker
        # may run this: opening a gap that is already open changes nothing.
        await asyncio.sleep(5)
        await check_not_synced()

    async def compact_raw() -> None:
        try:
            processor = await worker()
            report = await processor.compact(settle_s=processing.compaction_settle_s)
            if report.periods:
                log.info("compacted %d periods (%d segments)", report.periods, report.segments_merged)
            dropped = await processor.apply_retention(retention_days(processing))
            if any(dropped.values()):
                log.info("retention dropped chunks: %s", dropped)
        except Exception:  # a periodic task: the next run tries again
            m.TASK_ERRORS.labels("compaction").inc()
            log.exception("compaction or retention failed")

    async def drain_outbox() -> None:
        try:
            published = await (await worker()).drain_outbox()
            if published:
                log.info("published %d events left in the outbox", published)
        except Exception:  # the rows stay: the next run tries again
            m.TASK_ERRORS.labels("outbox").inc()
            log.exception("outbox drain failed")

    app.timer(interval=processing.gap_check_interval_s, on_leader=True, name="not-synced")(check_not_synced)
    app.task(check_not_synced_at_start)
    app.timer(interval=processing.compaction_interval_s, on_leader=True, name="compaction")(compact_raw)
    # Every worker drains (rows are locked with SKIP LOCKED): leftovers go out soon after any restart.
    app.timer(interval=OUTBOX_INTERVAL_S, name="outbox")(drain_outbox)


def add_health_report(app: faust.App, worker: LazyProcessor, settings: Settings) -> None:
    """Database, leadership and consumer lag, for /healthz and the pipeline-health metrics."""
    kafka, processing = settings.kafka, settings.processor
    watched = [*topics.readings_topics(kafka.topic_prefix), topics.participants_topic(kafka.topic_prefix)]

    async def report_health() -> None:
        try:
            await worker()
        except Exception as error:  # the database is away at start-up: report it, don't stop
            log.warning("no database pool: %s", error)
        await health.report(
            worker.pool,
            leader=app.is_leader(),
            bootstrap_servers=kafka.bootstrap_servers,
            group=processing.group_id,
            topics=watched,
        )

    app.timer(interval=min(HEALTH_INTERVAL_S, processing.gap_check_interval_s), name="health")(report_health)
