"""Pure processor steps: validation, raw packing, rollup merging, gap finding, the dead-letter limit."""

from __future__ import annotations

import datetime as dt

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.readings import ReadingBatch, encode_batch, make_batch
from stream_processors.deadletter import DeadLetter, DeadLetterLimit
from stream_processors.envelope import Envelope
from stream_processors.errors import DeadLetterLimitExceeded, InvalidMessage
from stream_processors.gaps import Hole, holes_between, holes_between_instants, trailing_hole
from stream_processors.rollups import aggregate, fixed_buckets, local_day_buckets, merge
from stream_processors.segments import pack, unpack
from stream_processors.validate import validate

NOW = int(dt.datetime(2026, 6, 1, tzinfo=dt.UTC).timestamp() * 1000)


def envelope(payload: bytes, topic: str = "wearables.readings.heart_rate") -> Envelope:
    return Envelope(topic=topic, partition=2, offset=41, payload=payload)


def hr_batch(ts: list[int], values: list[int], metric: str = "heart_rate") -> bytes:
    return encode_batch(
        make_batch(participant_id="P0001", metric=metric, device_id="d", sync_time=NOW, timestamps=ts, values=values)
    )


def test_valid_batch_is_sorted_and_kept_whole() -> None:
    result = validate(
        envelope(hr_batch([NOW - 2000, NOW - 3000, NOW - 1000], [60, 61, 62])), expected_metric="heart_rate", now_ms=NOW
    )
    assert result.timestamps.tolist() == [NOW - 3000, NOW - 2000, NOW - 1000]
    assert result.values.tolist() == [61, 60, 62]
    assert result.rejected == {}


def test_partly_bad_batch_keeps_good_readings_and_counts_reasons() -> None:
    ts = [NOW - 4000, NOW - 3000, NOW - 3000, NOW - 2000, NOW + 3 * 86_400_000, NOW - 1000]
    result = validate(
        envelope(hr_batch(ts, [60, 300, 61, 20, 70, 64])),
        expected_metric="heart_rate",
        now_ms=NOW,
        enrolment_start_ms={"P0001": NOW - 3500 + 86_400_000},  # readings more than a day before are rejected
    )
    assert result.timestamps.tolist() == [NOW - 3000, NOW - 1000]
    assert result.values.tolist() == [61, 64]
    assert result.rejected == {
        "value outside [25, 250]": 2,
        "timestamp in the future": 1,
        "timestamp before enrolment": 1,
    }
    assert "4 of 6 readings rejected" in result.rejection_summary()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xc1garbage", "decode"),
        (msgspec.msgpack.encode({"participant_id": "P1", "metric": 3}), "schema"),
        (hr_batch([NOW], [60], metric="steps"), "on the topic of"),
        (
            encode_batch(
                ReadingBatch(
                    participant_id="P1",
                    metric="heart_rate",
                    device_id="d",
                    batch_id="x",
                    sync_time=0,
                    timestamps=b"\x00" * 16,
                    values=b"\x00\x01",
                )
            ),
            "2 timestamps but 1 values",
        ),
        (
            encode_batch(
                ReadingBatch(
                    participant_id="P1",
                    metric="heart_rate",
                    device_id="d",
                    batch_id="x",
                    sync_time=0,
                    timestamps=b"\x00" * 7,
                    values=b"",
                )
            ),
            "column buffer",
        ),
        (hr_batch([], []), "empty batch"),
        (hr_batch([NOW, NOW + 1], [500, 600]), "no valid readings"),
        (
            encode_batch(
                ReadingBatch(
                    participant_id="P1",
                    metric="blood_pressure",
                    device_id="d",
                    batch_id="x",
                    sync_time=0,
                    timestamps=b"",
                    values=b"",
                )
            ),
            "unknown metric",
        ),
    ],
)
def test_unusable_messages_raise_invalid_message_with_metadata(payload: bytes, reason: str) -> None:
    with pytest.raises(InvalidMessage) as caught:
        validate(envelope(payload), expected_metric="heart_rate", now_ms=NOW)
    assert reason in caught.value.reason
    assert (caught.value.topic, caught.value.partition, caught.value.offset) == ("wearables.readings.heart_rate", 2, 41)


def test_dead_letter_headers_name_reason_and_origin() -> None:
    letter = DeadLetter(envelope=envelope(b"x"), reason="decode: bad", partial=False)
    headers = dict(letter.headers())
    assert headers["wearstream-dlq-reason"] == b"decode: bad"
    assert headers["wearstream-dlq-topic"] == b"wearables.readings.heart_rate"
    assert headers["wearstream-dlq-partition"] == b"2"
    assert headers["wearstream-dlq-offset"] == b"41"


def test_dead_letter_limit_trips_on_ratio_and_on_a_run() -> None:
    limit = DeadLetterLimit(max_ratio=0.5, window=100, min_messages=10, max_consecutive=1000)
    for i in range(100):
        limit.record(invalid=i % 3 == 0)  # a third bad: fine
    tripped_after = None
    for i in range(100):
        try:
            limit.record(invalid=True)
        except DeadLetterLimitExceeded:
            tripped_after = i + 1
            break
    assert tripped_after is not None
    assert tripped_after < 50  # halts well before draining the stream
    run = DeadLetterLimit(max_ratio=1.0, window=10, min_messages=10, max_consecutive=5)
    for _ in range(4):
        run.record(invalid=True)
    with pytest.raises(DeadLetterLimitExceeded, match="5 invalid messages in a row"):
        run.record(invalid=True)


@settings(max_examples=60, deadline=None)
@given(
    deltas=st.lists(st.integers(min_value=1, max_value=400_000), min_size=1, max_size=300),
    values=st.data(),
    scale=st.sampled_from([1, 10, 1000]),
)
def test_pack_unpack_round_trip_and_hour_segments(deltas: list[int], values: st.DataObject, scale: int) -> None:
    ts = NOW + np.cumsum(np.asarray(deltas, dtype=np.int64))
    vals = np.asarray(values.draw(st.lists(st.integers(0, 250_000), min_size=len(ts), max_size=len(ts)))) / scale
    segments = pack(
        participant_id="P", metric_id=1, batch_id="ab" * 16, scale=scale, timestamps=ts, values=vals, extra=[]
    )
    assert sum(len(s.ts_delta) for s in segments) == len(ts)
    for s in segments:
        assert s.start_ms // 3_600_000 == s.end_ms // 3_600_000  # a segment never crosses an hour
    got_ts = np.concatenate([unpack(s, scale)[0] for s in segments])
    got_values = np.concatenate([unpack(s, scale)[1] for s in segments])
    assert got_ts.tolist() == ts.tolist()
    assert got_values.view(np.int64).tolist() == vals.view(np.int64).tolist()  # bit for bit


@settings(max_examples=60, deadline=None)
@given(
    ts=st.lists(st.integers(min_value=0, max_value=6 * 3_600_000), min_size=2, max_size=400, unique=True),
    split=st.integers(min_value=0, max_value=10_000),
    data=st.data(),
)
def test_rollups_of_any_split_merge_to_the_whole(ts: list[int], split: int, data: st.DataObject) -> None:
    times = np.sort(np.asarray(ts, dtype=np.int64)) + NOW
    values = np.asarray(data.draw(st.lists(st.integers(0, 3), min_size=len(times), max_size=len(times))), dtype=float)
    chosen = np.random.default_rng(split).random(len(times)) < 0.5
    for width in (60_000, 3_600_000):
        whole = aggregate(fixed_buckets(times, width), times, values, stages=True)
        a = aggregate(fixed_buckets(times[chosen], width), times[chosen], values[chosen], stages=True)
        b = aggregate(fixed_buckets(times[~chosen], width), times[~chosen], values[~chosen], stages=True)
        merged = merge(a, b)
        for field in ("bucket_ms", "count", "min", "max", "first_ms", "last_ms", "stage_epochs"):
            np.testing.assert_array_equal(getattr(merged, field), getattr(whole, field))
        np.testing.assert_allclose(merged.sum, whole.sum)


def test_local_day_buckets_follow_dst() -> None:
    # 2026-03-08 is 23 hours long in New York.
    midnight_8 = int(dt.datetime(2026, 3, 8, 5, tzinfo=dt.UTC).timestamp() * 1000)
    midnight_9 = int(dt.datetime(2026, 3, 9, 4, tzinfo=dt.UTC).timestamp() * 1000)
    ts = np.array([midnight_8, midnight_9 - 1, midnight_9], dtype=np.int64)
    assert local_day_buckets(ts, "America/New_York").tolist() == [midnight_8, midnight_8, midnight_9]


def test_holes_are_found_between_spans_and_at_the_trailing_edge() -> None:
    firsts = np.array([0, 100, 1000], dtype=np.int64)
    lasts = np.array([50, 400, 1100], dtype=np.int64)
    assert holes_between(firsts, lasts, 600) == [Hole(400, 1000)]
    assert holes_between(firsts, lasts, 50) == [Hole(50, 100), Hole(400, 1000)]
    assert holes_between_instants(np.array([0, 10, 30], dtype=np.int64), 20) == [Hole(10, 30)]
    assert trailing_hole(100, 699, 600) is None
    assert trailing_hole(100, 700, 600) == Hole(100, None)
    assert trailing_hole(None, 700, 600) is None


def test_recoverable_errors_are_told_from_bugs() -> None:
    import asyncpg
    from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, MessageSizeTooLargeError

    from stream_processors.errors import RecoverableError
    from stream_processors.retry import is_recoverable

    assert is_recoverable(ConnectionRefusedError())
    assert is_recoverable(RecoverableError("broker away"))
    assert is_recoverable(asyncpg.exceptions.DeadlockDetectedError())  # SQLSTATE 40P01
    assert is_recoverable(asyncpg.exceptions.CannotConnectNowError())  # 57P03
    assert not is_recoverable(asyncpg.exceptions.UndefinedColumnError())  # 42703: a bug
    assert not is_recoverable(ValueError("bad config"))
    assert is_recoverable(KafkaTimeoutError())  # the broker did not answer in time
    assert is_recoverable(KafkaConnectionError())
    assert not is_recoverable(MessageSizeTooLargeError())
