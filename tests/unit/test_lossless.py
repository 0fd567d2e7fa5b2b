"""Values are never altered: the wire format and the raw-segment encoder round-trip every value bit for bit."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.metrics import HEART_RATE, SPO2
from schemas.readings import EXACT_DTYPE, ReadingBatch, batch_id_for, decode_batch, encode_batch, make_batch
from stream_processors.segments import HOUR_MS, decode_values, encode_values, exact_scale, pack, unpack

NOW = 1_750_000_000_000


def bits(values: np.ndarray) -> list[int]:
    found: list[int] = np.asarray(values, dtype=np.float64).view(np.int64).tolist()
    return found


def batch_of(metric: str, values: list[float] | np.ndarray) -> ReadingBatch:
    return make_batch(
        participant_id="P0001",
        metric=metric,
        device_id="dev",
        sync_time=NOW,
        timestamps=NOW + np.arange(len(values), dtype=np.int64) * 1000,
        values=values,
        extra={},
    )


@settings(deadline=None)
@given(st.lists(st.floats(allow_nan=False), min_size=1, max_size=200))
def test_any_float64_heart_rate_crosses_the_wire_bit_for_bit(values: list[float]) -> None:
    decoded = decode_batch(encode_batch(batch_of("heart_rate", values)))
    assert bits(decoded.values_float64()) == bits(np.asarray(values))


@settings(deadline=None)
@given(st.lists(st.integers(25, 250), min_size=1, max_size=200))
def test_integer_heart_rate_keeps_the_compact_int16_wire_and_its_batch_ids(values: list[int]) -> None:
    batch = batch_of("heart_rate", [float(v) for v in values])
    assert batch.values_dtype == ""
    assert len(batch.values) == 2 * len(values)
    # The id of a batch written before values_dtype existed: same content, same id.
    legacy = np.asarray(values, dtype="<i2").tobytes()
    assert batch.batch_id == batch_id_for("P0001", "heart_rate", "dev", batch.timestamps, legacy, {})


def test_fractional_heart_rate_travels_as_float64_not_rounded() -> None:
    batch = batch_of("heart_rate", [141.65, 60.0, 72.5])
    assert batch.values_dtype == EXACT_DTYPE.str
    assert decode_batch(encode_batch(batch)).values_float64().tolist() == [141.65, 60.0, 72.5]
    assert batch.batch_id != batch_of("heart_rate", [142.0, 60.0, 72.0]).batch_id


def test_absurd_integer_value_is_sent_exactly_not_wrapped() -> None:
    # 40,000 bpm does not fit int16: it travels as float64 for the validator to reject as out of range.
    assert batch_of("heart_rate", [40_000.0]).values_float64().tolist() == [40_000.0]


def test_float32_metric_carries_decimals_exactly_and_falls_back_when_digits_exceed_it() -> None:
    short = batch_of("spo2", [95.3, 99.9, 100.0])
    assert short.values_dtype == ""  # float32, the registry's wire dtype
    assert short.values_float64().tolist() == [95.3, 99.9, 100.0]
    long = batch_of("spo2", [95.123456789])
    assert long.values_dtype == EXACT_DTYPE.str
    assert long.values_float64().tolist() == [95.123456789]


def test_batches_written_before_values_dtype_still_decode() -> None:
    class LegacyBatch(msgspec.Struct, frozen=True, kw_only=True):
        participant_id: str
        metric: str
        device_id: str
        batch_id: str
        sync_time: int
        timestamps: bytes
        values: bytes
        extra: dict[str, bytes] = {}
        timezone: str = ""

    ts = (NOW + np.arange(3, dtype=np.int64)).tobytes()
    for metric, column, expected in (
        ("heart_rate", np.array([60, 61, 62], dtype="<i2"), [60.0, 61.0, 62.0]),
        ("spo2", np.array([95.3, 96.1, 97.0], dtype="<f4"), [95.3, 96.1, 97.0]),
    ):
        legacy = LegacyBatch(
            participant_id="P",
            metric=metric,
            device_id="d",
            batch_id="00" * 16,
            sync_time=NOW,
            timestamps=ts,
            values=column.tobytes(),
        )
        decoded = decode_batch(msgspec.msgpack.encode(legacy))
        assert decoded.values_dtype == ""
        assert decoded.values_float64().tolist() == expected


def test_a_values_dtype_outside_the_contract_is_refused() -> None:
    batch = msgspec.structs.replace(batch_of("heart_rate", [60.0]), values_dtype="<f2")
    with pytest.raises(ValueError, match="values_dtype"):
        decode_batch(encode_batch(batch)).values_array()


@settings(deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=300))
def test_segment_encoder_round_trips_arbitrary_float64(values: list[float]) -> None:
    array = np.asarray(values, dtype=np.float64)
    encoded = encode_values(array, HEART_RATE.scale)
    assert (encoded.value_delta is None) != (encoded.value_f8 is None)
    decoded = decode_values(encoded.value_delta, encoded.value_scale, encoded.value_f8, HEART_RATE.scale)
    assert bits(decoded) == bits(array)


@settings(deadline=None)
@given(st.lists(st.integers(-(2**31) // 2, 2**31 // 2 - 1), min_size=1, max_size=300))
def test_segment_encoder_stores_integers_as_deltas_at_scale_one(values: list[int]) -> None:
    array = np.asarray(values, dtype=np.float64)
    encoded = encode_values(array, HEART_RATE.scale)
    assert encoded.value_f8 is None
    assert encoded.value_scale is None
    assert encoded.value_delta is not None
    assert bits(decode_values(encoded.value_delta, None, None, HEART_RATE.scale)) == bits(array)


@settings(deadline=None)
@given(st.lists(st.integers(2500, 25000), min_size=1, max_size=300), st.sampled_from([1, 10, 100, 1000]))
def test_decimal_values_get_the_smallest_exact_scale(hundredths: list[int], divisor: int) -> None:
    array = np.asarray(hundredths, dtype=np.float64) / divisor  # what parsing "141.65" gives
    scale = exact_scale(array)
    assert scale is not None
    assert scale <= divisor
    assert bits(np.rint(array * scale).astype(np.int64) / scale) == bits(array)
    encoded = encode_values(array, SPO2.scale)
    assert encoded.value_f8 is None
    assert bits(decode_values(encoded.value_delta, encoded.value_scale, None, SPO2.scale)) == bits(array)


def test_values_no_power_of_ten_makes_exact_are_kept_as_float64() -> None:
    array = np.array([1 / 3, 2**-40, -0.0, 1e300])
    encoded = encode_values(array, 1)
    assert encoded.value_delta is None
    assert bits(decode_values(None, None, encoded.value_f8, 1)) == bits(array)


@settings(max_examples=50, deadline=None)
@given(
    deltas=st.lists(st.integers(min_value=1, max_value=400_000), min_size=1, max_size=200),
    data=st.data(),
)
def test_pack_unpack_round_trips_mixed_hours_bit_for_bit(deltas: list[int], data: st.DataObject) -> None:
    ts = NOW + np.cumsum(np.asarray(deltas, dtype=np.int64))
    values = np.asarray(
        data.draw(
            st.lists(
                st.one_of(
                    st.integers(25, 250).map(float), st.floats(25, 250), st.integers(2500, 25000).map(lambda v: v / 100)
                ),
                min_size=len(ts),
                max_size=len(ts),
            )
        )
    )
    segments = pack(
        participant_id="P", metric_id=1, batch_id="ab" * 16, scale=1, timestamps=ts, values=values, extra=[]
    )
    got_ts = np.concatenate([unpack(s, 1)[0] for s in segments])
    got_values = np.concatenate([unpack(s, 1)[1] for s in segments])
    assert got_ts.tolist() == ts.tolist()
    assert bits(got_values) == bits(values)


@settings(max_examples=80, deadline=None)
@given(
    deltas=st.lists(st.integers(min_value=1, max_value=900_000), min_size=1, max_size=120),
    data=st.data(),
    width=st.integers(0, 2),
)
def test_pack_equals_encoding_each_hour_on_its_own(deltas: list[int], data: st.DataObject, width: int) -> None:
    """The whole-batch integer path gives exactly the segments that encoding each hour separately gives."""
    ts = NOW + np.cumsum(np.asarray(deltas, dtype=np.int64))
    values = np.asarray(
        data.draw(
            st.lists(
                st.one_of(
                    st.integers(-(2**31), 2**31 - 1).map(float),
                    st.integers(25, 250).map(float),
                    st.just(-0.0),
                    st.floats(allow_nan=False, width=64),
                ),
                min_size=len(ts),
                max_size=len(ts),
            )
        ),
        dtype=np.float64,
    )
    extra = [np.arange(len(ts), dtype=np.float32) + k for k in range(width)]
    for scale in (1, 10):
        segments = pack(
            participant_id="P", metric_id=1, batch_id="ab" * 16, scale=scale, timestamps=ts, values=values, extra=extra
        )
        hours = ts // HOUR_MS
        for segment in segments:
            inside = hours == segment.start_ms // HOUR_MS
            expected = encode_values(values[inside], scale)
            assert (segment.value_scale, segment.value_delta, segment.value_f8) == tuple(expected)
            assert segment.ts_delta == np.diff(ts[inside], prepend=ts[inside][0]).tolist()
            assert segment.extra == (np.stack(extra, axis=1)[inside].ravel().tolist() if extra else None)
        assert sum(len(s.ts_delta) for s in segments) == len(ts)


def test_the_validator_hands_on_the_values_the_source_gave() -> None:
    from stream_processors.envelope import Envelope
    from stream_processors.validate import validate

    for metric, values in (("spo2", [95.3, 99.6]), ("hrv_rmssd", [20.107, 67.002]), ("heart_rate", [141.65, 60.0])):
        batch = make_batch(
            participant_id="P",
            metric=metric,
            device_id="d",
            sync_time=NOW,
            timestamps=[NOW, NOW + 60_000],
            values=values,
            extra={c: [0.5, 0.5] for c in ("coverage", "lf", "hf")} if metric == "hrv_rmssd" else {},
        )
        envelope = Envelope(topic="t", partition=0, offset=0, payload=encode_batch(batch))
        assert validate(envelope, expected_metric=metric, now_ms=NOW).values.tolist() == values
