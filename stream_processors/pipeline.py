"""One group of messages, start to finish: validate → dead-letter → store (retried) → publish.

Kafka-agnostic: the faust app hands in envelopes and a Publisher, and acknowledges the group only after
`process_group` returned. Recoverable errors are retried here, with capped backoff, for as long as it takes;
anything else propagates, and the worker must then stop without acknowledging.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Final, TypeVar

import asyncpg
import msgspec
from opentelemetry import trace
from opentelemetry.context import Context
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from schemas.device_daily import decode_device_daily
from schemas.events import GapEvent, LiveUpdate
from schemas.participants import decode_participant
from stream_processors import metric_defs as m
from stream_processors.compaction import CompactionReport, compact
from stream_processors.deadletter import DeadLetter, DeadLetterLimit
from stream_processors.device_daily_store import upsert_device_daily
from stream_processors.envelope import Envelope
from stream_processors.errors import InvalidMessage, RecoverableError
from stream_processors.retention import apply_retention
from stream_processors.sink import Applied, Sink
from stream_processors.validate import ValidBatch, validate
from wearstream.telemetry import context_from_headers, tracer

log = logging.getLogger(__name__)
T = TypeVar("T")

# Errors after which the same transaction can simply be tried again.
MAX_SPAN_LINKS: Final = 128  # the SDK's default limit of links per span

RECOVERABLE_SQLSTATE_CLASSES: Final = ("08", "40", "53", "57")  # connection, rollback/deadlock, resources, admin


def is_recoverable(error: BaseException) -> bool:
    """Broker or database briefly away (or a RecoverableError): retry. Anything else is a bug or bad config."""
    if isinstance(error, RecoverableError | OSError | TimeoutError | asyncpg.InterfaceError | ConnectionError):
        return True
    if isinstance(error, asyncpg.PostgresError):
        sqlstate = getattr(error, "sqlstate", "") or ""
        return sqlstate[:2] in RECOVERABLE_SQLSTATE_CLASSES
    return False


class Publisher(msgspec.Struct, frozen=True):
    """Where results go. `dead_letter` must only return once the broker has the message."""

    dead_letter: Callable[[DeadLetter], Awaitable[None]]
    live: Callable[[LiveUpdate], Awaitable[None]]
    gap: Callable[[GapEvent], Awaitable[None]]


class Processor:
    def __init__(
        self,
        sink: Sink,
        publisher: Publisher,
        *,
        limit: DeadLetterLimit | None = None,
        future_tolerance_ms: int = 86_400_000,
        max_backoff_s: float = 30.0,
        live_window_ms: int = 3_600_000,
    ) -> None:
        self.sink = sink
        self.publisher = publisher
        self.limit = limit or DeadLetterLimit()
        self.future_tolerance_ms = future_tolerance_ms
        self.max_backoff_s = max_backoff_s
        self.live_window_ms = live_window_ms

    async def process_group(self, metric: str, envelopes: Sequence[Envelope]) -> Applied:
        """Traced: each message's decode+validate span continues the producer's trace (`traceparent` header);
        the group's span (with its store and COPY) continues the first traced message's and links the rest."""
        contexts = [context_from_headers(e.headers) for e in envelopes]
        traced = [trace.get_current_span(c).get_span_context() for c in contexts if c is not None]
        with tracer().start_as_current_span(
            f"process {metric}",
            context=next((c for c in contexts if c is not None), None),
            kind=trace.SpanKind.CONSUMER,
            links=[trace.Link(span_context) for span_context in traced[1:MAX_SPAN_LINKS]],
            attributes={"messaging.system": "kafka", "messaging.batch.message_count": len(envelopes)},
        ):
            return await self._process_group(metric, envelopes, contexts)

    async def _process_group(
        self, metric: str, envelopes: Sequence[Envelope], contexts: Sequence[Context | None]
    ) -> Applied:
        started = time.perf_counter()
        participants = await self._retrying(self.sink.participants)
        enrolment = {pid: info.enrolment_start_ms for pid, info in participants.items()}
        now_ms = int(time.time() * 1000)
        valid: list[ValidBatch] = []
        for envelope, context in zip(envelopes, contexts, strict=True):
            try:
                with tracer().start_as_current_span(
                    "decode+validate", context=context, attributes=_attributes(envelope)
                ):
                    batch = validate(
                        envelope,
                        expected_metric=metric,
                        now_ms=now_ms,
                        enrolment_start_ms=enrolment,
                        future_tolerance_ms=self.future_tolerance_ms,
                    )
            except InvalidMessage as error:
                self.limit.record(invalid=True)
                m.DEADLETTERED.labels(metric, "message").inc()
                await self.publisher.dead_letter(DeadLetter(envelope=envelope, reason=error.reason))
                continue
            self.limit.record(invalid=False)
            valid.append(batch)
            if batch.rejected:
                m.DEADLETTERED.labels(metric, "partial").inc()
                m.REJECTED_READINGS.labels(metric).inc(batch.rejected_total)
                await self.publisher.dead_letter(
                    DeadLetter(
                        envelope=envelope, reason=batch.rejection_summary(), partial=True, rejected=batch.rejected_total
                    )
                )
        db_started = time.perf_counter()
        with tracer().start_as_current_span(f"store {metric}", attributes={"wearstream.batches": len(valid)}):
            applied = await self._retrying(lambda: self.sink.apply(valid))
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
        # Live feeds show what is happening now: backfilled history is not re-broadcast reading by reading.
        recent = [u for u in applied.live if u.minutes and u.minutes[-1].bucket_ms >= now_ms - self.live_window_ms]
        await self._publish(recent, applied.gap_events)
        m.GROUP_SECONDS.labels(metric).observe(time.perf_counter() - started)
        return applied

    async def process_participants(self, envelopes: Sequence[Envelope]) -> int:
        """Materialises participant records; undecodable ones are dead-lettered. Returns records stored."""
        records = []
        for envelope in envelopes:
            try:
                records.append(decode_participant(envelope.payload))
            except (msgspec.DecodeError, msgspec.ValidationError) as error:
                m.DEADLETTERED.labels("participants", "message").inc()
                await self.publisher.dead_letter(DeadLetter(envelope=envelope, reason=f"participant: {error}"))
        if records:
            await self._retrying(lambda: self.sink.upsert_participants(records))
        return len(records)

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
        return await self._retrying(lambda: upsert_device_daily(self.sink.pool, messages))

    async def check_not_synced(self, now_ms: int | None = None) -> list[GapEvent]:
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        events = await self._retrying(lambda: self.sink.check_not_synced(now))
        await self._publish([], events)
        return events

    async def compact(self, *, settle_s: int) -> CompactionReport:
        return await self._retrying(lambda: compact(self.sink.pool, settle_s=settle_s))

    async def apply_retention(self, retention_days: Mapping[str, int | None]) -> dict[str, int]:
        async def run() -> dict[str, int]:
            async with self.sink.pool.acquire() as connection:
                return await apply_retention(connection, retention_days)

        return await self._retrying(run)

    async def _publish(self, live: Sequence[LiveUpdate], gap_events: Sequence[GapEvent]) -> None:
        for event in gap_events:
            m.GAP_EVENTS.labels(event.kind, event.state).inc()
            await self.publisher.gap(event)
        for update in live:
            await self.publisher.live(update)

    async def _retrying(self, operation: Callable[[], Awaitable[T]]) -> T:
        def before_sleep(state: RetryCallState) -> None:
            m.DB_RETRIES.inc()
            error = state.outcome.exception() if state.outcome else None
            log.warning("database unavailable (%s); retry %d", error, state.attempt_number)

        async for attempt in AsyncRetrying(
            retry=retry_if_exception(is_recoverable),
            wait=wait_exponential_jitter(initial=0.2, max=self.max_backoff_s),
            before_sleep=before_sleep,
            reraise=True,
        ):
            with attempt:
                return await operation()
        raise AssertionError("unreachable: AsyncRetrying either returns or raises")


def _attributes(envelope: Envelope) -> dict[str, str | int]:
    return {
        "messaging.destination.name": envelope.topic,
        "messaging.destination.partition.id": str(envelope.partition),
        "messaging.kafka.offset": envelope.offset,
    }
