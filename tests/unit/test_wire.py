"""The wire contracts round-trip exactly and batch ids are deterministic."""

from __future__ import annotations

import datetime as dt

import msgspec
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.metrics import METRIC_IDS, METRICS, UnknownMetricError, get_metric
from schemas.participants import Participant, decode_participant, encode_participant
from schemas.readings import ReadingBatch, decode_batch, encode_batch, make_batch

timestamps = st.lists(st.integers(min_value=0, max_value=2**62), min_size=0, max_size=200)


@given(ts=timestamps, data=st.data(), metric=st.sampled_from(sorted(METRICS)))
def test_batch_round_trips(ts: list[int], data: st.DataObject, metric: str) -> None:
    spec = METRICS[metric]
    info = np.iinfo(spec.wire_dtype) if np.dtype(spec.wire_dtype).kind == "i" else None
    values: list[int] | list[float]
    if info is not None:
        values = data.draw(st.lists(st.integers(int(info.min), int(info.max)), min_size=len(ts), max_size=len(ts)))
    else:
        values = data.draw(st.lists(st.floats(width=32, allow_nan=False), min_size=len(ts), max_size=len(ts)))
    extra: dict[str, npt.ArrayLike] = {c: np.arange(len(ts), dtype=np.float32) for c in spec.extra_columns}
    batch = make_batch(
        participant_id="P0001",
        metric=metric,
        device_id="dev-1",
        sync_time=123,
        timestamps=ts,
        values=values,
        extra=extra,
    )
    decoded = decode_batch(encode_batch(batch))
    assert decoded == batch
    assert len(decoded) == len(ts)
    assert decoded.timestamps_array().tolist() == ts
    assert decoded.values_array().tolist() == values
    for column in spec.extra_columns:
        assert decoded.extra_array(column).tolist() == list(range(len(ts)))


def test_batch_id_depends_on_data_only() -> None:
    def build(values: list[int], sync_time: int) -> ReadingBatch:
        return make_batch(
            participant_id="P0002",
            metric="heart_rate",
            device_id="d",
            sync_time=sync_time,
            timestamps=[1000, 2000, 3000],
            values=values,
        )

    assert build([60, 61, 62], 1).batch_id == build([60, 61, 62], 99).batch_id
    assert build([60, 61, 62], 1).batch_id != build([60, 61, 63], 1).batch_id
    assert len(build([60], 1).batch_id) == 32


def test_malformed_payloads_raise_decode_errors() -> None:
    with pytest.raises(msgspec.DecodeError):
        decode_batch(b"\xc1 not msgpack")
    with pytest.raises(msgspec.ValidationError):
        decode_batch(msgspec.msgpack.encode({"participant_id": 1}))


def test_registry_is_consistent() -> None:
    assert list(METRIC_IDS.values()) == list(range(1, len(METRICS) + 1))
    for metric in METRICS.values():
        assert metric.min_value < metric.max_value
        assert metric.scale >= 1
        np.dtype(metric.wire_dtype)  # a valid numpy dtype
        info = np.iinfo(metric.wire_dtype) if np.dtype(metric.wire_dtype).kind == "i" else None
        if info is not None:
            assert info.min <= metric.min_value
            assert metric.max_value <= info.max
    assert get_metric("heart_rate").gap_threshold_s == 600
    with pytest.raises(UnknownMetricError):
        get_metric("blood_pressure")


def test_participant_round_trips() -> None:
    participant = Participant(
        participant_id="P0003",
        enrolled_on=dt.date(2026, 1, 5),
        timezone="Europe/Berlin",
        authorisation="revoked",
        device_id="d3",
        contact_email="p3@study.example",
        updated_at=5,
    )
    assert decode_participant(encode_participant(participant)) == participant
    with pytest.raises(msgspec.ValidationError):
        decode_participant(
            msgspec.msgpack.encode({"participant_id": "P1", "enrolled_on": "2026-01-01", "authorisation": "maybe"})
        )


def test_device_timezone_travels_with_the_batch_but_not_in_its_id() -> None:
    common = {
        "participant_id": "P1",
        "metric": "steps",
        "device_id": "d",
        "sync_time": 1,
        "timestamps": [0],
        "values": [3],
    }
    berlin = make_batch(**common, timezone="Europe/Berlin")  # type: ignore[arg-type]
    unknown = make_batch(**common)  # type: ignore[arg-type]
    assert decode_batch(encode_batch(berlin)).timezone == "Europe/Berlin"
    assert unknown.timezone == ""
    assert berlin.batch_id == unknown.batch_id


def test_committed_json_schemas_are_up_to_date() -> None:
    from schemas.jsonschema import DOCS, rendered

    for name, text in rendered().items():
        assert (DOCS / name).read_text() == text, f"run `python -m schemas.jsonschema` ({name} changed)"
    assert '"timestamps"' in rendered()["reading_batch.schema.json"]


def test_batches_without_an_origin_decode_as_device_uploads() -> None:
    imported = make_batch(
        participant_id="p", metric="steps", device_id="d", sync_time=1, timestamps=[0], values=[3], origin="import"
    )
    assert decode_batch(encode_batch(imported)).origin == "import"
    fields = msgspec.structs.asdict(imported)
    del fields["origin"]
    old = msgspec.msgpack.encode(fields)
    assert decode_batch(old).origin == "device"
    with pytest.raises(msgspec.ValidationError):
        decode_batch(msgspec.msgpack.encode({**fields, "origin": "guess"}))
