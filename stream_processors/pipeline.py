"""One group of messages, start to finish: validate → dead-letter → store (retried) → outbox → publish.

Kafka-agnostic: the faust app hands in envelopes and a Publisher, and acknowledges the group only after
`process_group` returned. Recoverable errors are retried here, with capped backoff, for as long as it takes.
A non-recoverable error while storing splits the group until the failing batch is alone; that batch is tried
APPLY_ATTEMPTS times, then dead-lettered with the error as its reason, and the rest goes on. Events are
written to the outbox in the data's transaction and published after it.

Each input topic has its own dead-letter limit: when it trips, the group at hand is finished (its dead
letters are published and it is acknowledged), and the topic is reported paused; the app then stops taking
from it until the worker restarts, while the other topics go on.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Final, TypeVar

import msgspec
from aiokafka.errors import MessageSizeTooLargeError
from opentelemetry import trace
from opentelemetry.context import Context

from core.telemetry import context_from_headers, tracer
from schemas.device_daily import decode_device_daily
from schemas.events import AlertEvent, GapEvent, LiveUpdate
from schemas.participants import InvalidParticipant, Participant, check_participant, decode_participant
from stream_processors import metric_defs as m
from stream_processors import outbox, spans
from stream_processors.compaction import CompactionReport
from stream_processors.deadletter import DeadLetter, DeadLetterLimit
from stream_processors.envelope import Envelope
from stream_processors.errors import InvalidMessage
from stream_processors.parts import SPLIT_MIN_READINGS, apply_in_parts
from stream_processors.publisher import Publisher
from stream_processors.retry import retrying
from stream_processors.store import Applied, Store
from stream_processors.topic_limits import TopicLimits
from stream_processors.validate import ValidBatch, validate

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_SPAN_LINKS: Final = 128  # the SDK's default limit of links per span
APPLY_ATTEMPTS: Final = 3
"""Tries of a lone batch that keeps raising a non-recoverable error before it is dead-lettered."""


class Processor:
    def __init__(
        self,
        store: Store,
        publisher: Publisher,
        *,
        limit: DeadLetterLimit | None = None,
        future_tolerance_ms: int = 86_400_000,
        max_backoff_s: float = 30.0,
        live_window_ms: int = 3_600_000,
        crash_after_commit: bool = False,
        on_pause: Callable[[str, str], None] | None = None,
        consumer_group: str = "",
        store_concurrency: int = 2,
        split_min_readings: int = SPLIT_MIN_READINGS,
    ) -> None:
        """`limit` gives the parameters of each topic's dead-letter limit. `crash_after_commit` (tests only)
        kills the process with SIGKILL after the first transaction that staged gap events, before they are
        published. `on_pause(topic, reason)` is told when a topic's limit trips. `consumer_group` names the
        Kafka group in the spans. A group of at least `split_min_readings` readings is stored in
        `store_concurrency` transactions at once, its participants split between them."""
        self.store = store
        self.publisher = publisher
        self.limits = TopicLimits(limit or DeadLetterLimit(), on_pause)
        self.future_tolerance_ms = future_tolerance_ms
        self.max_backoff_s = max_backoff_s
        self.live_window_ms = live_window_ms
        self.crash_after_commit = crash_after_commit
        self.consumer_group = consumer_group
        self.store_in_parts = functools.partial(
            apply_in_parts, parts=store_concurrency, min_readings=split_min_readings
        )

    async def process_group(self, metric: str, envelopes: Sequence[Envelope]) -> Applied:
        """Traced: each message's decode+validate span continues the producer's trace (`traceparent` header);
        the group's span (with its store and COPY) continues the first traced message's and links the rest."""
        contexts = [context_from_headers(e.headers) for e in envelopes]
        traced = [trace.get_current_span(c).get_span_context() for c in contexts if c is not None]
        topic = envelopes[0].topic if envelopes else metric
        with tracer().start_as_current_span(
            spans.process_span_name(topic),
            context=next((c for c in contexts if c is not None), None),
            kind=trace.SpanKind.CONSUMER,
            links=[trace.Link(span_context) for span_context in traced[1:MAX_SPAN_LINKS]],
            attributes=spans.group_attributes(envelopes, self.consumer_group),
        ):
            return await self._process_group(metric, envelopes, contexts)

    async def _process_group(
        self, metric: str, envelopes: Sequence[Envelope], contexts: Sequence[Context | None]
    ) -> Applied:
        started = time.perf_counter()
        participants = await self._retrying(self.store.participants)
        enrolment = {pid: info.enrolment_start_ms for pid, info in participants.items()}
        now_ms = int(time.time() * 1000)
        valid: list[ValidBatch] = []
        for envelope, context in zip(envelopes, contexts, strict=True):
            try:
                with tracer().start_as_current_span(
                    "decode+validate", context=context, attributes=spans.message_attributes(envelope)
                ):
                    batch = validate(
                        envelope,
                        expected_metric=metric,
                        now_ms=now_ms,
                        enrolment_start_ms=enrolment,
                        future_tolerance_ms=self.future_tolerance_ms,
                    )
            except InvalidMessage as error:
                await self._dead_letter(metric, envelope, error.reason)
                continue
            except Exception as error:  # a check that itself failed on odd input: still this message's fault
                log.exception("validation failed on %s[%d]@%d", envelope.topic, envelope.partition, envelope.offset)
                await self._dead_letter(metric, envelope, f"validate: {type(error).__name__}: {error}")
                continue
            self.limits.record(envelope.topic, invalid=False)
            valid.append(batch)
            if batch.rejected:
                m.DEADLETTERED.labels(metric, "partial").inc()
                m.REJECTED_READINGS.labels(metric).inc(batch.rejected_total)
                await self._send_dead_letter(
                    DeadLetter(
                        envelope=envelope, reason=batch.rejection_summary(), partial=True, rejected=batch.rejected_total
                    )
                )
        db_started = time.perf_counter()
        with tracer().start_as_current_span(f"store {metric}", attributes={"wearstream.batches": len(valid)}):
            applied = await self.store_in_parts(lambda p: self._apply_isolating(metric, p, now_ms), valid)
            log.info(
                "stored %d batches (%d readings, %d duplicates) of %s",
                applied.batches,
                applied.readings,
                applied.duplicates,
                metric,
            )
        m.DB_WRITE_SECONDS.labels(metric).observe(time.perf_counter() - db_started)
        m.READINGS.labels(metric).inc(applied.readings)
        m.BATCHES.labels(metric).inc(applied.batches)
        m.DUPLICATES.labels(metric).inc(applied.duplicates)
        if applied.batches:
            m.LAST_BATCH.labels(metric).set(time.time())
        stored_ms = time.time() * 1000
        for envelope in envelopes:
            if envelope.timestamp_ms:
                m.END_TO_END_SECONDS.labels(metric).observe(max(0.0, stored_ms - envelope.timestamp_ms) / 1000)
        await self._publish(applied.live, applied.gap_events, applied.alerts)
        m.GROUP_SECONDS.labels(metric).observe(time.perf_counter() - started)
        return applied

    async def _apply_isolating(self, metric: str, batches: list[ValidBatch], now_ms: int) -> Applied:
        """Stores the batches; a non-recoverable error splits them in halves until the failing batch is alone,
        which is tried APPLY_ATTEMPTS times and then dead-lettered. Returns what was stored."""
        if not batches:
            return Applied()

        live_since_ms = now_ms - self.live_window_ms
        error: Exception | None = None
        for _ in range(1 if len(batches) > 1 else APPLY_ATTEMPTS):
            try:
                return await self._retrying(lambda: self.store.store_group(batches, live_since_ms=live_since_ms))
            except Exception as failure:
                error = failure
                m.APPLY_FAILURES.labels(metric).inc()
                log.warning("storing %d batches of %s failed: %r", len(batches), metric, failure)
        if len(batches) > 1:
            half = len(batches) // 2
            first = await self._apply_isolating(metric, batches[:half], now_ms)
            second = await self._apply_isolating(metric, batches[half:], now_ms)
            return first + second
        reason = f"apply: {type(error).__name__}: {error}"
        await self._dead_letter(metric, batches[0].envelope, reason)
        return Applied()

    async def process_participants(self, envelopes: Sequence[Envelope]) -> int:
        """Materialises participant records; undecodable or invalid ones are dead-lettered, never stored.
        Returns records stored."""
        records: list[tuple[Envelope, Participant]] = []
        for envelope in envelopes:
            try:
                records.append((envelope, check_participant(decode_participant(envelope.payload))))
            except (msgspec.DecodeError, msgspec.ValidationError, InvalidParticipant) as error:
                await self._dead_letter("participants", envelope, f"participant: {error}")
                continue
            self.limits.record(envelope.topic, invalid=False)
        return await self._upsert_isolating(records)

    async def _upsert_isolating(self, records: list[tuple[Envelope, Participant]]) -> int:
        if not records:
            return 0
        try:
            await self._retrying(lambda: self.store.upsert_participants([r for _, r in records]))
            return len(records)
        except Exception as error:
            m.APPLY_FAILURES.labels("participants").inc()
            if len(records) == 1:
                await self._dead_letter("participants", records[0][0], f"apply: {type(error).__name__}: {error}")
                return 0
        half = len(records) // 2
        return await self._upsert_isolating(records[:half]) + await self._upsert_isolating(records[half:])

    async def _dead_letter(self, metric: str, envelope: Envelope, reason: str) -> None:
        """Publishes the whole message to the dead-letter topic and counts it against its topic's limit."""
        m.DEADLETTERED.labels(metric, "message").inc()
        await self._send_dead_letter(DeadLetter(envelope=envelope, reason=reason))
        self.limits.record(envelope.topic, invalid=True)

    async def _send_dead_letter(self, letter: DeadLetter) -> None:
        """Publishes a dead letter (retrying while the broker is away). One the broker refuses as too large
        goes without its payload, and its reason says so and where the original is."""
        try:
            await self._retrying(lambda: self.publisher.dead_letter(letter))
        except MessageSizeTooLargeError:
            stripped = letter.without_payload()
            await self._retrying(lambda: self.publisher.dead_letter(stripped))

    @property
    def paused(self) -> dict[str, str]:
        """Topics paused by their dead-letter limit, with the reason."""
        return self.limits.paused

    def is_paused(self, topic: str) -> bool:
        return topic in self.paused

    async def process_device_daily(self, envelopes: Sequence[Envelope]) -> int:
        """Stores device-reported daily values; undecodable messages are dead-lettered. Returns values stored."""
        messages = []
        for envelope in envelopes:
            try:
                messages.append(decode_device_daily(envelope.payload))
            except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as error:
                m.DEADLETTERED.labels("device_daily", "message").inc()
                await self.publisher.dead_letter(DeadLetter(envelope=envelope, reason=f"device_daily: {error}"))
        if not messages:
            return 0
        return await self._retrying(lambda: self.store.upsert_device_daily(messages))

    async def check_not_synced(self, now_ms: int | None = None) -> list[GapEvent]:
        now = now_ms if now_ms is not None else int(time.time() * 1000)

        events = await self._retrying(lambda: self.store.open_not_synced(now))
        await self._publish([], events)
        return events

    async def drain_outbox(self) -> int:
        """Publishes what earlier transactions left in the outbox (a crash or a broker outage); returns how many."""
        total = 0
        while True:
            published = await self._retrying(
                lambda: self.store.drain_outbox(
                    gap=self.publisher.gap,
                    live=self.publisher.live,
                    flush=self.publisher.delivered,
                    alert=self.publisher.alert,
                )
            )
            total += published
            if published < outbox.DRAIN_BATCH:
                return total

    async def compact(self, *, settle_s: int) -> CompactionReport:
        return await self._retrying(lambda: self.store.compact(settle_s=settle_s))

    async def apply_retention(self, retention_days: Mapping[str, int | None]) -> dict[str, int]:
        return await self._retrying(lambda: self.store.apply_retention(retention_days))

    async def _publish(
        self, live: Sequence[LiveUpdate], gap_events: Sequence[GapEvent], alerts: Sequence[AlertEvent] = ()
    ) -> None:
        """Publishes committed events and deletes them from the outbox. A failure leaves them there for the
        drain: it is logged, never raised (the data is committed, the group may be acknowledged)."""
        if self.crash_after_commit and gap_events:
            log.critical("test crash point: killed between commit and publish")
            os.kill(os.getpid(), signal.SIGKILL)
        try:
            published = await self.publisher.events(live, gap_events, alerts)
        except Exception as error:
            log.warning("events left in the outbox for the drain: %r", error)
            return
        try:
            await self.store.delete_published([event_id for event_id in published if event_id])
        except Exception as error:  # they will be published again by the drain: consumers de-duplicate
            log.warning("published events not deleted from the outbox: %r", error)

    async def _retrying(self, operation: Callable[[], Awaitable[T]]) -> T:
        return await retrying(operation, max_backoff_s=self.max_backoff_s)
