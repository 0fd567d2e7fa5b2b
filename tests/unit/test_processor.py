"""The Processor driven without services: an in-memory store and publisher stand in for TimescaleDB and Kafka.

Covers the paths the worker depends on: recoverable errors retried, bad messages dead-lettered with their
reason, a topic paused by its dead-letter limit, and committed events published and deleted from the outbox.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

import pytest

from schemas.device_daily import DeviceDaily
from schemas.events import AlertEvent, GapEvent, LiveUpdate, MinutePoint
from schemas.participants import Participant
from schemas.readings import decode_batch
from stream_processors.compaction import CompactionReport
from stream_processors.deadletter import HEADER_REASON, DeadLetter, DeadLetterLimit
from stream_processors.envelope import Envelope
from stream_processors.errors import RecoverableError
from stream_processors.pipeline import Processor
from stream_processors.publisher import Publisher
from stream_processors.store import Applied, ParticipantInfo
from stream_processors.validate import ValidBatch
from tests.hostile import HostileGenerator

NOW_MS = 1_780_000_000_000


class MemoryStore:
    """Keeps batches and the outbox in memory; `failures` makes the next calls of `store_group` raise."""

    def __init__(self, *, failures: Sequence[Exception] = ()) -> None:
        self.failures = list(failures)
        self.stored: list[ValidBatch] = []
        self.outbox: dict[str, GapEvent | LiveUpdate] = {}
        self.calls = 0
        self.live_since_ms: int | None = None

    async def participants(self) -> Mapping[str, ParticipantInfo]:
        return {}

    async def store_group(self, group: Sequence[ValidBatch], *, live_since_ms: int) -> Applied:
        self.calls += 1
        self.live_since_ms = live_since_ms
        if self.failures:
            raise self.failures.pop(0)
        self.stored.extend(group)
        events = [
            GapEvent(
                participant_id=b.batch.participant_id,
                kind="not_worn",
                state="closed",
                start_ms=int(b.timestamps[0]),
                end_ms=int(b.timestamps[-1]),
                detected_ms=NOW_MS,
                event_ms=NOW_MS,
                event_id=f"gap-{b.batch.batch_id}",
            )
            for b in group
        ]
        live = [
            LiveUpdate(
                participant_id=b.batch.participant_id,
                metric=b.metric.name,
                minutes=[MinutePoint(NOW_MS, 1, 60.0, 60.0, 60.0, 60.0)],
                event_id=f"live-{b.batch.batch_id}",
            )
            for b in group
        ]
        self.outbox.update({e.event_id: e for e in events})
        self.outbox.update({u.event_id: u for u in live})
        return Applied(batches=len(group), readings=sum(len(b.timestamps) for b in group), gap_events=events, live=live)

    async def open_not_synced(self, now_ms: int) -> list[GapEvent]:
        return []

    async def upsert_participants(self, participants: Sequence[Participant]) -> None:
        return None

    async def upsert_device_daily(self, messages: Sequence[DeviceDaily]) -> int:
        return 0

    async def drain_outbox(
        self,
        *,
        gap: Callable[[GapEvent], Awaitable[None]],
        live: Callable[[LiveUpdate], Awaitable[None]],
        flush: Callable[[], Awaitable[None]],
        alert: Callable[[AlertEvent], Awaitable[None]] | None,
    ) -> int:
        return 0

    async def delete_published(self, event_ids: Sequence[str]) -> None:
        for event_id in event_ids:
            self.outbox.pop(event_id, None)

    async def compact(self, *, settle_s: int) -> CompactionReport:
        return CompactionReport()

    async def apply_retention(self, retention_days: Mapping[str, int | None]) -> dict[str, int]:
        return {}


class MemoryPublisher:
    """Collects what the Processor publishes; `refuse_events` makes event publishing fail (broker away)."""

    def __init__(self, *, refuse_events: bool = False) -> None:
        self.refuse_events = refuse_events
        self.letters: list[DeadLetter] = []
        self.gaps: list[GapEvent] = []
        self.live: list[LiveUpdate] = []

    async def dead_letter(self, letter: DeadLetter) -> None:
        self.letters.append(letter)

    async def gap(self, event: GapEvent) -> None:
        if self.refuse_events:
            raise RuntimeError("broker refused the event")
        self.gaps.append(event)

    async def live_update(self, update: LiveUpdate) -> None:
        self.live.append(update)

    def publisher(self) -> Publisher:
        return Publisher(dead_letter=self.dead_letter, live=self.live_update, gap=self.gap)


def heart_rate(count: int, *, seed: int = 1) -> list[Envelope]:
    generator = HostileGenerator(seed=seed, now_ms=NOW_MS)
    return [
        Envelope(topic="t.heart_rate", partition=0, offset=i, payload=generator.good("heart_rate").payload)
        for i in range(count)
    ]


@pytest.mark.parametrize("parts", [1, 2])
async def test_a_recoverable_error_is_retried_until_the_group_is_stored(parts: int) -> None:
    store = MemoryStore(failures=[RecoverableError("database away"), ConnectionRefusedError()])
    outputs = MemoryPublisher()
    processor = Processor(store, outputs.publisher(), max_backoff_s=0.01, store_concurrency=parts, split_min_readings=0)
    envelopes = heart_rate(3)
    assert len({decode_batch(e.payload).participant_id for e in envelopes}) == 3
    applied = await processor.process_group("heart_rate", envelopes)
    # One transaction: two failures, then the one that committed. Two parts: each fails once, then commits.
    assert store.calls == (3 if parts == 1 else 4)
    assert applied.batches == 3
    assert len(store.stored) == 3
    assert not outputs.letters


async def test_an_invalid_message_is_dead_lettered_with_its_reason_and_the_rest_is_stored() -> None:
    envelopes = heart_rate(3)
    envelopes[1] = Envelope(topic="t.heart_rate", partition=0, offset=1, payload=b"\xc1not msgpack", key=b"P9")
    store, outputs = MemoryStore(), MemoryPublisher()
    applied = await Processor(store, outputs.publisher()).process_group("heart_rate", envelopes)
    assert applied.batches == 2
    [letter] = outputs.letters
    assert (letter.envelope.offset, letter.envelope.key) == (1, b"P9")
    assert letter.reason.startswith("decode: ")
    assert dict(letter.headers())[HEADER_REASON].startswith(b"decode: ")


async def test_the_dead_letter_limit_pauses_only_its_topic() -> None:
    paused: list[tuple[str, str]] = []
    limit = DeadLetterLimit(max_ratio=0.5, window=10, min_messages=4)
    store, outputs = MemoryStore(), MemoryPublisher()
    processor = Processor(store, outputs.publisher(), limit=limit, on_pause=lambda t, r: paused.append((t, r)))
    bad = [Envelope(topic="t.heart_rate", partition=0, offset=i, payload=b"\xc1") for i in range(5)]
    await processor.process_group("heart_rate", bad)
    assert processor.is_paused("t.heart_rate")
    assert [topic for topic, _ in paused] == ["t.heart_rate"]
    assert len(outputs.letters) == 5  # the group that tripped the limit is finished
    other = [Envelope(topic="t.steps", partition=0, offset=0, payload=b"\xc1")]
    await processor.process_group("steps", other)
    assert not processor.is_paused("t.steps")  # each topic has its own limit


async def test_committed_events_are_published_then_deleted_from_the_outbox() -> None:
    store, outputs = MemoryStore(), MemoryPublisher()
    processor = Processor(store, outputs.publisher(), live_window_ms=60_000)
    applied = await processor.process_group("heart_rate", heart_rate(2))
    assert [e.event_id for e in outputs.gaps] == [e.event_id for e in applied.gap_events]
    assert [u.event_id for u in outputs.live] == [u.event_id for u in applied.live]
    assert store.outbox == {}
    assert store.live_since_ms is not None


async def test_events_the_broker_refuses_stay_in_the_outbox_for_the_drain() -> None:
    store, outputs = MemoryStore(), MemoryPublisher(refuse_events=True)
    applied = await Processor(store, outputs.publisher()).process_group("heart_rate", heart_rate(2))
    assert applied.batches == 2  # the data is committed: the group may be acknowledged
    assert sorted(store.outbox) == sorted(
        [*(e.event_id for e in applied.gap_events), *(u.event_id for u in applied.live)]
    )
