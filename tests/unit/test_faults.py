"""Fault handling without services: the hub sees each event id once, the worker's /healthz names paused
topics, dead letters keep the original key, and each topic has its own dead-letter limit."""

from __future__ import annotations

import io
import json
from typing import Any, cast

import pytest
from aiokafka.errors import MessageSizeTooLargeError

from api.live.hub import LiveHub, RecentIds
from core.settings import KafkaSettings
from schemas.events import GapEvent, LiveUpdate, MinutePoint, encode_event
from stream_processors.deadletter import DeadLetter, DeadLetterLimit
from stream_processors.envelope import Envelope
from stream_processors.errors import DeadLetterLimitExceeded
from stream_processors.health import WorkerHealth, health_app
from stream_processors.pipeline import APPLY_ATTEMPTS, Processor
from stream_processors.publisher import Publisher
from stream_processors.store import Applied, Store
from stream_processors.validate import ValidBatch
from tests.hostile import HostileGenerator


def gap(event_id: str) -> GapEvent:
    return GapEvent(
        participant_id="P0001",
        kind="not_worn",
        state="opened",
        start_ms=1,
        end_ms=None,
        detected_ms=2,
        event_ms=3,
        event_id=event_id,
    )


def test_the_hub_dispatches_each_event_id_once() -> None:
    hub = LiveHub(KafkaSettings(topic_prefix="x"), queue_size=10, enabled=False)
    events = hub.subscribe_events()
    live = hub.subscribe_live(frozenset({"P0001"}), None)
    assert hub.dispatch("x.gaps", encode_event(gap("a"))) == 1
    assert hub.dispatch("x.gaps", encode_event(gap("a"))) == 0  # published twice (at least once): dropped
    assert hub.dispatch("x.gaps", encode_event(gap("b"))) == 1
    update = LiveUpdate(
        participant_id="P0001", metric="heart_rate", minutes=[MinutePoint(0, 1, 60.0, 60, 60, 60)], event_id="c"
    )
    assert hub.dispatch("x.live", encode_event(update)) == 1
    assert hub.dispatch("x.live", encode_event(update)) == 0
    assert hub.repeats == 2
    # Events without an id (older producers) are never taken for repeats.
    assert hub.dispatch("x.gaps", encode_event(gap(""))) == 1
    assert hub.dispatch("x.gaps", encode_event(gap(""))) == 1
    assert [json.loads(m)["event_id"] for m in events._queue] == ["a", "b", "", ""]
    assert [json.loads(m)["event_id"] for m in live._queue] == ["c"]


def test_remembered_ids_are_bounded() -> None:
    recent = RecentIds(3)
    assert [recent.seen(i) for i in "abca"] == [False, False, False, True]
    assert recent.seen("d") is False  # forgets the least recently seen: b
    assert len(recent) == 3
    assert recent.seen("b") is False
    assert recent.seen("a") is True


def call(app: Any, path: str) -> tuple[str, bytes]:
    status: list[str] = []
    body = b"".join(
        app({"PATH_INFO": path, "REQUEST_METHOD": "GET", "wsgi.input": io.BytesIO()}, lambda s, h: status.append(s))
    )
    return status[0], body


def test_healthz_names_paused_topics_and_metrics_are_still_served() -> None:
    health = WorkerHealth(database_up=True)
    app = health_app(health)
    assert call(app, "/healthz") == ("200 OK", b'{"status":"ok","paused_topics":{},"database_up":true}')
    health.pause("wearables.readings.steps", "600 of the last 1000 messages were invalid (limit 50%)")
    status, body = call(app, "/healthz")
    assert status.startswith("503")
    assert json.loads(body)["paused_topics"] == {
        "wearables.readings.steps": "600 of the last 1000 messages were invalid (limit 50%)"
    }
    status, metrics = call(app, "/metrics")
    assert status.startswith("200")
    assert b"wearstream_processor_topic_paused" in metrics


def test_each_topic_has_its_own_limit_with_the_same_parameters() -> None:
    template = DeadLetterLimit(max_ratio=0.5, window=10, min_messages=4, max_consecutive=100)
    steps, heart_rate = template.fresh(), template.fresh()
    for _ in range(3):
        steps.record(invalid=True)
        heart_rate.record(invalid=False)
    with pytest.raises(DeadLetterLimitExceeded):
        steps.record(invalid=True)
    heart_rate.record(invalid=False)  # the other topic goes on


def test_envelopes_carry_the_kafka_key() -> None:
    envelope = Envelope(topic="t", partition=0, offset=0, payload=b"", key=b"P0001")
    assert envelope.key == b"P0001"
    assert Envelope(topic="t", partition=0, offset=0, payload=b"").key is None


class PoisonedSink:
    """A sink whose transaction fails (not recoverably) whenever the group holds the poisoned participant."""

    pool = None

    def __init__(self) -> None:
        self.attempts: list[int] = []
        self.stored: list[str] = []

    async def participants(self) -> dict[str, object]:
        return {}

    async def store_group(self, group: list[ValidBatch], *, live_since_ms: int) -> Applied:
        self.attempts.append(len(group))
        if any(b.batch.participant_id == "POISON" for b in group):
            raise ValueError("day rollup: no time zone found")
        self.stored.extend(b.batch.participant_id for b in group)
        return Applied(batches=len(group), readings=sum(len(b.timestamps) for b in group))


@pytest.mark.parametrize("parts", [1, 2])
async def test_a_batch_that_keeps_failing_is_isolated_retried_and_dead_lettered(parts: int) -> None:
    now = 1_780_000_000_000
    generator = HostileGenerator(seed=1, now_ms=now)
    pids = [f"P{i:03d}" for i in range(16)]
    pids[11] = "POISON"
    envelopes = [
        Envelope(
            topic="t.heart_rate", partition=0, offset=i, payload=generator.good("heart_rate", participant_id=p).payload
        )
        for i, p in enumerate(pids)
    ]
    letters: list[DeadLetter] = []

    async def dead_letter(letter: DeadLetter) -> None:
        letters.append(letter)

    async def ignore(_: object) -> None:
        return None

    sink = PoisonedSink()
    publisher = Publisher(dead_letter=dead_letter, live=ignore, gap=ignore)
    processor = Processor(cast(Store, sink), publisher, store_concurrency=parts, split_min_readings=0)
    applied = await processor.process_group("heart_rate", envelopes)
    assert sorted(sink.stored) == sorted(p for p in pids if p != "POISON")  # the rest goes on
    assert applied.batches == 15
    assert [(letter.envelope.offset, letter.reason) for letter in letters] == [
        (11, "apply: ValueError: day rollup: no time zone found")
    ]
    # Halved down to the poisoned batch (16, 8, 4, 2, 1; in two parts of 8 at once: 8, 4, 2, 1), which alone
    # is tried APPLY_ATTEMPTS times.
    assert sink.attempts.count(1) >= APPLY_ATTEMPTS
    assert sink.attempts[:4] == ([16, 8, 8, 4] if parts == 1 else [8, 8, 4, 4])
    assert not processor.paused


async def test_a_dead_letter_too_large_for_the_broker_goes_without_its_payload_and_says_so() -> None:
    letters: list[DeadLetter] = []

    async def dead_letter(letter: DeadLetter) -> None:
        if letter.envelope.payload:
            raise MessageSizeTooLargeError()
        letters.append(letter)

    async def ignore(_: object) -> None:
        return None

    processor = Processor(cast(Store, PoisonedSink()), Publisher(dead_letter=dead_letter, live=ignore, gap=ignore))
    envelope = Envelope(topic="t.steps", partition=1, offset=7, payload=b"\xc1" * 1000, key=b"P1")
    await processor.process_group("steps", [envelope])
    [letter] = letters
    assert letter.envelope.key == b"P1"
    assert letter.reason.startswith("decode: ")
    assert "payload of 1000 bytes too large for the dead-letter topic; the original is at t.steps[1]@7" in letter.reason
