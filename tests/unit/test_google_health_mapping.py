"""Google Health data points → ReadingBatches: every data type, values bit-exact, times, resolutions, errors."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import msgspec
import numpy as np
import pytest

from producers.sources.google_health import shapes
from producers.sources.google_health.mapping import DATA_TYPES, MappingError, epoch_ms, page_batches
from schemas.metrics import SleepStage
from schemas.readings import ReadingBatch

T0 = 1_790_000_000_000  # 2026-09-21T14:13:20Z
ISO_T0 = "2026-09-21T14:13:20Z"


def iso(ms: int) -> str:
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def batch_of(metric: str, points: list[dict[str, Any]]) -> ReadingBatch:
    decoded = shapes.list_decoder.decode(msgspec.json.encode({"dataPoints": points}))
    batches = page_batches(DATA_TYPES[metric], decoded.data_points, participant_id="P0007", device_id="d", sync_time=T0)
    assert len(batches) == 1
    return batches[0]


def sample(ms: int) -> dict[str, str]:
    return {"physicalTime": iso(ms), "utcOffset": "3600s"}


def interval(ms: int, length_ms: int = 60_000) -> dict[str, str]:
    return {"startTime": iso(ms), "endTime": iso(ms + length_ms)}


def test_times_parse_to_epoch_ms_with_offsets_and_fractions() -> None:
    assert epoch_ms(ISO_T0, "t") == T0
    assert epoch_ms("2026-09-21T16:13:20+02:00", "t") == T0
    assert epoch_ms("2026-09-21T14:13:20.5Z", "t") == T0 + 500
    assert epoch_ms("2026-09-21T14:13:20.123456789Z", "t") == T0 + 123
    with pytest.raises(MappingError, match="not an RFC 3339"):
        epoch_ms("2026-09-21 14:13:20", "t")


def test_heart_rate_accepts_int64_as_string_or_number_and_keeps_every_value() -> None:
    bpm = [72, "73", 181, 250, 38]
    batch = batch_of(
        "heart_rate",
        [{"heartRate": {"sampleTime": sample(T0 + i * 1000), "beatsPerMinute": v}} for i, v in enumerate(bpm)],
    )
    assert batch.metric == "heart_rate"
    assert batch.sync_time == T0
    assert batch.timestamps_array().tolist() == [T0 + i * 1000 for i in range(5)]
    assert batch.values_float64().tolist() == [72, 73, 181, 250, 38]
    assert batch.values_dtype == ""  # whole bpm travel in the registry's int16


def test_steps_and_active_zone_minutes_are_stamped_at_their_minute() -> None:
    steps = batch_of(
        "steps",
        [{"steps": {"interval": interval(T0 + i * 60_000), "count": str(c)}} for i, c in enumerate([0, 17, 300])],
    )
    assert steps.timestamps_array().tolist() == [T0, T0 + 60_000, T0 + 120_000]
    assert steps.values_float64().tolist() == [0, 17, 300]
    azm = batch_of(
        "active_zone_minutes",
        [
            {"activeZoneMinutes": {"interval": interval(T0), "heartRateZone": "FAT_BURN", "activeZoneMinutes": "1"}},
            {"activeZoneMinutes": {"interval": interval(T0 + 60_000), "heartRateZone": "PEAK", "activeZoneMinutes": 2}},
        ],
    )
    assert azm.values_float64().tolist() == [1, 2]


@pytest.mark.parametrize(
    ("metric", "field", "key"),
    [
        ("spo2", "oxygenSaturation", "percentage"),
        ("hrv_rmssd", "heartRateVariability", "rootMeanSquareOfSuccessiveDifferencesMilliseconds"),
    ],
)
def test_fractional_values_arrive_bit_exact(metric: str, field: str, key: str) -> None:
    values = [95.3, 97.123456789012345, 88.0, 41.73, 1 / 3]
    batch = batch_of(metric, [{field: {"sampleTime": sample(T0 + i * 60_000), key: v}} for i, v in enumerate(values)])
    got = batch.values_float64()
    assert got.view(np.int64).tolist() == np.array(values, dtype=np.float64).view(np.int64).tolist()
    if metric == "hrv_rmssd":  # the service does not report these: NaN, never invented numbers
        assert set(batch.extra) == {"coverage", "lf", "hf"}
        assert all(math.isnan(v) for column in batch.extra for v in batch.extra_array(column).tolist())


def test_breathing_rate_gives_each_stage_its_own_timestamp_and_code() -> None:
    summary = {
        "sampleTime": sample(T0),
        "fullSleepStats": {"breathsPerMinute": 14.8},
        "lightSleepStats": {"breathsPerMinute": 15.2},
        "deepSleepStats": {"breathsPerMinute": 13.9},
        "remSleepStats": {"breathsPerMinute": 16.05},
    }
    batch = batch_of("breathing_rate", [{"respiratoryRateSleepSummary": summary}])
    assert batch.timestamps_array().tolist() == [T0, T0 + 1, T0 + 2, T0 + 3]
    assert batch.values_float64().tolist() == [14.8, 15.2, 13.9, 16.05]
    assert batch.extra_array("stage").tolist() == [-1, SleepStage.LIGHT, SleepStage.DEEP, SleepStage.REM]


def test_sleep_becomes_30_s_epochs_from_the_sessions_start() -> None:
    start = T0
    stages = [("AWAKE", 0, 60), ("LIGHT", 60, 150), ("DEEP", 150, 240), ("REM", 240, 300), ("ASLEEP", 300, 330)]
    session = {
        "interval": {"startTime": iso(start), "endTime": iso(start + 330_000)},
        "stages": [
            {"startTime": iso(start + a * 1000), "endTime": iso(start + b * 1000), "type": t} for t, a, b in stages
        ],
    }
    batch = batch_of("sleep_stage", [{"sleep": session}])
    assert batch.timestamps_array().tolist() == [start + k * 30_000 for k in range(11)]
    assert batch.values_float64().tolist() == [0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 1]


def test_resolutions_are_the_metrics_native_ones() -> None:
    assert {m: t.resolution_ms for m, t in DATA_TYPES.items()} == {
        "heart_rate": 1_000,
        "steps": 60_000,
        "active_zone_minutes": 60_000,
        "spo2": 60_000,
        "hrv_rmssd": 300_000,
        "breathing_rate": 0,
        "sleep_stage": 30_000,
    }
    assert DATA_TYPES["sleep_stage"].max_page_size == 25


def test_an_empty_page_gives_no_batch_and_the_same_page_the_same_id() -> None:
    assert page_batches(DATA_TYPES["steps"], [], participant_id="P", device_id="d", sync_time=T0) == []
    points = [{"heartRate": {"sampleTime": sample(T0), "beatsPerMinute": 70}}]
    assert batch_of("heart_rate", points).batch_id == batch_of("heart_rate", points).batch_id


@pytest.mark.parametrize(
    ("metric", "point", "problem"),
    [
        ("heart_rate", {"steps": {"interval": {"startTime": ISO_T0, "endTime": ISO_T0}, "count": 1}}, "no heartRate"),
        (
            "heart_rate",
            {"heartRate": {"sampleTime": {"physicalTime": ISO_T0}, "beatsPerMinute": "7x"}},
            "not an integer",
        ),
        ("hrv_rmssd", {"heartRateVariability": {"sampleTime": {"physicalTime": ISO_T0}}}, "RMSSD"),
        ("breathing_rate", {"respiratoryRateSleepSummary": {"sampleTime": {"physicalTime": ISO_T0}}}, "no breathing"),
        (
            "sleep_stage",
            {
                "sleep": {
                    "interval": {"startTime": ISO_T0, "endTime": "2026-09-21T15:13:20Z"},
                    "stages": [{"startTime": ISO_T0, "endTime": "2026-09-21T15:13:20Z", "type": "NAPPING"}],
                }
            },
            "unknown sleep stage",
        ),
    ],
)
def test_a_point_that_cannot_be_mapped_refuses_the_page_and_names_it(
    metric: str, point: dict[str, Any], problem: str
) -> None:
    decoded = shapes.list_decoder.decode(msgspec.json.encode({"dataPoints": [point]}))
    with pytest.raises(MappingError, match=problem) as raised:
        page_batches(DATA_TYPES[metric], decoded.data_points, participant_id="P", device_id="d", sync_time=T0)
    assert raised.value.where.startswith(DATA_TYPES[metric].path + "[0]")
