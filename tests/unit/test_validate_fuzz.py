"""Hostile input through decode+validate: every bad message raises InvalidMessage with a reason, nothing else
escapes, and every good reading is kept (10,000 generated messages per metric)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import msgspec
import pytest

from schemas.identifiers import ID_PATTERN, MIN_PLAUSIBLE_MS, known_timezones
from schemas.metrics import METRICS
from schemas.participants import InvalidParticipant, Participant, check_participant
from stream_processors.envelope import Envelope
from stream_processors.errors import InvalidMessage
from stream_processors.validate import validate
from tests.hostile import KINDS, HostileGenerator

NOW = int(dt.datetime(2026, 6, 1, tzinfo=dt.UTC).timestamp() * 1000)
MESSAGES_PER_METRIC = 10_000


@pytest.mark.parametrize("metric", list(METRICS))
def test_ten_thousand_hostile_messages_per_metric(metric: str) -> None:
    generator = HostileGenerator(seed=list(METRICS).index(metric) + 1, now_ms=NOW)
    outcomes: Counter[tuple[str, str]] = Counter()
    for i in range(MESSAGES_PER_METRIC):
        # Every third message is good; the rest cycle through the hostile kinds at random.
        message = generator.good(metric) if i % 3 == 0 else generator.bad(metric)
        envelope = Envelope(topic=f"wearables.readings.{metric}", partition=0, offset=i, payload=message.payload)
        if message.expect == "dead-letter":
            with pytest.raises(InvalidMessage) as caught:
                validate(envelope, expected_metric=metric, now_ms=NOW)
            assert caught.value.reason, message.kind
            assert (caught.value.topic, caught.value.offset) == (envelope.topic, i)
            outcomes[(message.kind, "dead-letter")] += 1
            continue
        result = validate(envelope, expected_metric=metric, now_ms=NOW)
        assert result.rejected == {}
        assert len(result.timestamps) == message.readings == len(result.values)
        assert ID_PATTERN.fullmatch(result.batch.participant_id)
        assert result.batch.timezone in known_timezones() | {""}
        assert int(result.timestamps.min()) >= MIN_PLAUSIBLE_MS
        outcomes[(message.kind, "store")] += 1
    assert sum(outcomes.values()) == MESSAGES_PER_METRIC
    assert outcomes[("good", "store")] == len(range(0, MESSAGES_PER_METRIC, 3))
    assert {kind for kind, outcome in outcomes if outcome == "dead-letter"} == set(KINDS)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("nul", "NUL"),
        ("bad_zone", "timezone"),
        ("huge", "readings in one batch"),
        ("extreme_sync_time", "sync_time"),
        ("extreme_timestamps", "no valid readings"),
    ],
)
def test_each_hostile_kind_is_named_in_the_reason(kind: str, reason: str) -> None:
    generator = HostileGenerator(seed=5, now_ms=NOW)
    for offset in range(50):
        envelope = Envelope(topic="t", partition=0, offset=offset, payload=generator.bad("heart_rate", kind).payload)
        with pytest.raises(InvalidMessage) as caught:
            validate(envelope, expected_metric="heart_rate", now_ms=NOW)
        assert reason in caught.value.reason or (kind == "extreme_sync_time" and "schema" in caught.value.reason)


GOOD_PARTICIPANT = Participant(participant_id="P0001", enrolled_on=dt.date(2026, 5, 1), timezone="Europe/Paris")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": ""}, "timezone is empty"),
        ({"participant_id": "P\x000"}, "participant_id contains a NUL"),
        ({"participant_id": "x" * 200}, "participant_id is 200 characters"),
        ({"device_id": "dev ice"}, "device_id"),
        ({"enrolled_on": dt.date(1, 1, 1)}, "enrolled_on"),
        ({"updated_at": 2**62}, "updated_at"),
        ({"contact_email": "no-at-sign"}, "contact_email"),
        ({"contact_email": "a@b.org\x00"}, "control character"),
    ],
)
def test_participant_records_are_checked_field_by_field(changes: dict[str, object], reason: str) -> None:
    assert check_participant(GOOD_PARTICIPANT) is GOOD_PARTICIPANT
    with pytest.raises(InvalidParticipant, match=reason):
        check_participant(msgspec.structs.replace(GOOD_PARTICIPANT, **changes))
