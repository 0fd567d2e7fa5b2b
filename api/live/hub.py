"""The fan-out: one Kafka consumer per API process, a bounded queue per websocket client.

The consumer reads `<prefix>.live`, `<prefix>.gaps` and `<prefix>.alerts` from their ends (no consumer group:
every API process sees every message), encodes each message for clients once, and offers it to the queues of
the subscribers it concerns without waiting: a full queue drops its oldest message and counts it. The
processor publishes events at least once (from its outbox): an event id already dispatched is dropped, so
each client sees each id once (the ids remembered are bounded: the most recent SEEN_EVENT_IDS).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from typing import Final

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition

from api import metric_defs
from api.live.schemas import alert_message, encode, gap_message, live_message
from core.settings import KafkaSettings
from schemas import topics
from schemas.events import decode_alert_event, decode_gap_event, decode_live_update

log = logging.getLogger("wearstream.api.live")
RETRY_S: Final = 2.0
SEEN_EVENT_IDS: Final = 100_000
"""Event ids remembered for de-duplication; a redelivery comes within seconds or minutes of the original."""


class RecentIds:
    """The last `capacity` ids seen, oldest forgotten first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._ids: OrderedDict[str, None] = OrderedDict()

    def seen(self, event_id: str) -> bool:
        """True when `event_id` was seen before; remembers it either way. An empty id is never a repeat."""
        if not event_id:
            return False
        if event_id in self._ids:
            self._ids.move_to_end(event_id)
            return True
        self._ids[event_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return False

    def __len__(self) -> int:
        return len(self._ids)


class Subscriber:
    """One client's bounded queue and what it subscribed to (None: everything)."""

    def __init__(
        self, channel: str, participants: frozenset[str] | None, metrics: frozenset[str] | None, capacity: int
    ) -> None:
        self.channel = channel
        self.participants = participants
        self.metrics = metrics
        self.capacity = max(1, capacity)
        self._queue: deque[bytes] = deque()
        self._wakeup = asyncio.Event()
        self._dropped_since_take = 0
        self.dropped = 0

    def offer(self, payload: bytes) -> None:
        if len(self._queue) >= self.capacity:
            self._queue.popleft()
            self._dropped_since_take += 1
            self.dropped += 1
            metric_defs.LIVE_DROPPED.labels(channel=self.channel).inc()
        self._queue.append(payload)
        self._wakeup.set()

    async def take(self) -> tuple[list[bytes], int]:
        """Waits for messages; returns all queued ones and how many were dropped since the last call."""
        await self._wakeup.wait()
        self._wakeup.clear()
        payloads = list(self._queue)
        self._queue.clear()
        dropped, self._dropped_since_take = self._dropped_since_take, 0
        return payloads, dropped


class LiveHub:
    def __init__(self, kafka: KafkaSettings, *, queue_size: int, enabled: bool = True) -> None:
        self.kafka = kafka
        self.queue_size = queue_size
        self.enabled = enabled
        self.live_topic = topics.live_topic(kafka.topic_prefix)
        self.gaps_topic = topics.gaps_topic(kafka.topic_prefix)
        self.alerts_topic = topics.alerts_topic(kafka.topic_prefix)
        self.ready = asyncio.Event()
        """Set once the consumer is positioned at the ends of its topics (later messages reach clients)."""
        self._by_participant: dict[str, set[Subscriber]] = {}
        self._live_all: set[Subscriber] = set()
        self._events: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self.recent_ids = RecentIds(SEEN_EVENT_IDS)
        self.repeats = 0
        """Messages dropped because their event id was already dispatched."""

    # Subscriptions ---------------------------------------------------------------------------------------

    def subscribe_live(self, participants: frozenset[str] | None, metrics: frozenset[str] | None) -> Subscriber:
        subscriber = Subscriber("live", participants, metrics, self.queue_size)
        if participants is None:
            self._live_all.add(subscriber)
        else:
            for participant_id in participants:
                self._by_participant.setdefault(participant_id, set()).add(subscriber)
        metric_defs.LIVE_CLIENTS.labels(channel="live").inc()
        return subscriber

    def subscribe_events(self) -> Subscriber:
        subscriber = Subscriber("events", None, None, self.queue_size)
        self._events.add(subscriber)
        metric_defs.LIVE_CLIENTS.labels(channel="events").inc()
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber.channel == "events":
            self._events.discard(subscriber)
        elif subscriber.participants is None:
            self._live_all.discard(subscriber)
        else:
            for participant_id in subscriber.participants:
                group = self._by_participant.get(participant_id)
                if group is not None:
                    group.discard(subscriber)
                    if not group:
                        del self._by_participant[participant_id]
        metric_defs.LIVE_CLIENTS.labels(channel=subscriber.channel).dec()

    # Routing ---------------------------------------------------------------------------------------------

    def dispatch(self, topic: str, payload: bytes) -> int:
        """Routes one Kafka message to the subscribers it concerns; returns how many received it."""
        try:
            if topic == self.live_topic:
                update = decode_live_update(payload)
                if self._repeated(update.event_id):
                    return 0
                if update.emitted_ms:
                    metric_defs.LIVE_LAG.observe(max(0.0, time.time() - update.emitted_ms / 1000))
                targets = [
                    s
                    for s in (*self._by_participant.get(update.participant_id, ()), *self._live_all)
                    if s.metrics is None or update.metric in s.metrics
                ]
                channel, message = "live", encode(live_message(update))
            elif topic == self.gaps_topic:
                event = decode_gap_event(payload)
                if self._repeated(event.event_id):
                    return 0
                targets, channel = list(self._events), "events"
                message = encode(gap_message(event))
            elif topic == self.alerts_topic:
                alert = decode_alert_event(payload)
                if self._repeated(alert.event_id):
                    return 0
                targets, channel = list(self._events), "events"
                message = encode(alert_message(alert))
            else:
                return 0
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            log.warning("undecodable message on %s: %s", topic, error)
            return 0
        metric_defs.LIVE_MESSAGES.labels(channel=channel).inc()
        if targets:
            for subscriber in targets:
                subscriber.offer(message)
            metric_defs.LIVE_DELIVERIES.labels(channel=channel).inc(len(targets))
        return len(targets)

    def _repeated(self, event_id: str) -> bool:
        if self.recent_ids.seen(event_id):
            self.repeats += 1
            return True
        return False

    # The consumer ----------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self.enabled and self._task is None:
            self._task = asyncio.create_task(self._run(), name="live-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.kafka.bootstrap_servers,
                enable_auto_commit=False,
                fetch_max_wait_ms=50,
                client_id="wearstream-api-live",
            )
            try:
                await consumer.start()
                partitions = await self._partitions(consumer)
                consumer.assign(partitions)
                await consumer.seek_to_end(*partitions)
                for partition in partitions:
                    await consumer.position(partition)
                self.ready.set()
                log.info("live fan-out reading %s", sorted({p.topic for p in partitions}))
                while True:
                    batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                    for partition, records in batches.items():
                        for record in records:
                            if record.value is not None:
                                self.dispatch(partition.topic, record.value)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the broker went away: keep serving clients, reconnect
                self.ready.clear()
                log.warning("live fan-out: %s; retrying in %.0f s", error, RETRY_S)
                await asyncio.sleep(RETRY_S)
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()

    async def _partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        """The partitions of the live and gaps topics, waiting (and retrying) until both exist, and of the alerts
        topic when it exists (`wearstream topics create` makes all three; a deployment without alerts still
        serves live and gap events)."""
        while True:
            cluster = await consumer._client.fetch_all_metadata()
            found = {name: cluster.partitions_for_topic(name) for name in (self.live_topic, self.gaps_topic)}
            if all(found.values()):
                found[self.alerts_topic] = cluster.partitions_for_topic(self.alerts_topic)
                if not found[self.alerts_topic]:
                    log.warning("no topic %s: alerts will not reach /v1/events", self.alerts_topic)
                return [TopicPartition(name, p) for name, parts in found.items() for p in sorted(parts or ())]
            log.info("waiting for topics %s", [name for name, parts in found.items() if not parts])
            await asyncio.sleep(RETRY_S)
