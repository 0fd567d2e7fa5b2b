"""The Fitbit importer on the committed samples: counts, time conversion, sleep epochs, breathing-rate stages,
batching and batch ids. Expected values are derived independently from the raw JSON (json + datetime)."""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from producers.fitbit import DataType, ImportResult, Layout, import_files
from schemas.metrics import METRICS

DATA = Path(__file__).resolve().parent.parent / "data" / "fitbit"
WEB_API = DATA / "web_api"
WEARIPEDIA = DATA / "wearipedia"
UTC = dt.UTC


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def import_one(path: Path, timezone: str = "UTC", sync_time: int | None = None) -> ImportResult:
    return import_files([path], participant_id="p-001", device_id="charge6-a", timezone=timezone, sync_time=sync_time)


def column(result: ImportResult, metric: str) -> tuple[np.ndarray, np.ndarray]:
    batches = [batch for batch in result.batches if batch.metric == metric]
    timestamps = np.concatenate([batch.timestamps_array() for batch in batches])
    values = np.concatenate([batch.values_float64() for batch in batches])
    return timestamps, values


def write_heart_rate(path: Path, dataset: list[dict[str, Any]], dates: tuple[str, ...] = ("2024-01-01",)) -> Path:
    days = [{"dateTime": date} for date in dates]
    path.write_text(json.dumps({"activities-heart": days, "activities-heart-intraday": {"dataset": dataset}}))
    return path


def extra_column(result: ImportResult, metric: str, name: str) -> np.ndarray:
    return np.concatenate([batch.extra_array(name) for batch in result.batches if batch.metric == metric])


def epoch_ms(moment: dt.datetime) -> int:
    return round(moment.timestamp() * 1000)


def local_ms(text: str, zone: str) -> int:
    """Epoch ms of a naive ISO local time in `zone`, with the stdlib only (PEP 495 fold=0)."""
    return epoch_ms(dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)))


def at(text: str) -> int:
    """Epoch ms of a naive ISO time read as UTC."""
    return local_ms(text, "UTC")


# --- independent counts: walk the JSON -------------------------------------------------------------------


def responses(document: Any) -> list[Any]:
    items = document if isinstance(document, list) else [document]
    unwrapped = []
    for item in items:
        unwrapped.extend(item.get("heart_rate_day", [item]))
    return unwrapped


def count_dataset(document: Any, key: str) -> int:
    return sum(len(response[key]["dataset"]) for response in responses(document))


def count_azm(document: Any) -> int:
    key = "activities-active-zone-minutes-intraday"
    return sum(len(day["minutes"]) for response in responses(document) for day in response[key])


def count_spo2(document: Any) -> int:
    return sum(len(response["minutes"]) for response in responses(document))


def count_hrv(document: Any) -> int:
    return sum(len(day["minutes"]) for response in responses(document) for day in response["hrv"])


def count_br(document: Any) -> int:
    return sum(
        sum(1 for key in night["value"] if key.endswith("SleepSummary"))
        for response in responses(document)
        for night in response["br"]
    )


def sleep_epoch_starts(log: dict[str, Any]) -> set[dt.datetime]:
    """Start of every 30 s epoch (on the startTime grid) that some `levels.data` segment covers."""
    origin = dt.datetime.fromisoformat(log["startTime"])
    starts: set[dt.datetime] = set()
    for segment in log["levels"]["data"]:
        begin = (dt.datetime.fromisoformat(segment["dateTime"]) - origin).total_seconds()
        end = begin + segment["seconds"]
        starts.update(origin + dt.timedelta(seconds=30 * k) for k in range(math.ceil(begin / 30), math.ceil(end / 30)))
    return starts


def count_sleep(document: Any) -> int:
    return sum(len(sleep_epoch_starts(log)) for response in responses(document) for log in response["sleep"])


COUNTERS = {
    "heart_rate": lambda doc: count_dataset(doc, "activities-heart-intraday"),
    "steps": lambda doc: count_dataset(doc, "activities-steps-intraday"),
    "active_zone_minutes": count_azm,
    "spo2": count_spo2,
    "hrv_rmssd": count_hrv,
    "breathing_rate": count_br,
    "sleep_stage": count_sleep,
}

SAMPLES = [
    (WEB_API / "heart_rate_intraday.json", Layout.WEB_API, DataType.HEART_RATE, "heart_rate"),
    (WEB_API / "steps_intraday.json", Layout.WEB_API, DataType.STEPS, "steps"),
    (WEB_API / "azm_intraday.json", Layout.WEB_API, DataType.ACTIVE_ZONE_MINUTES, "active_zone_minutes"),
    (WEB_API / "spo2_intraday.json", Layout.WEB_API, DataType.SPO2, "spo2"),
    (WEB_API / "hrv_intraday.json", Layout.WEB_API, DataType.HRV, "hrv_rmssd"),
    (WEB_API / "br_intraday.json", Layout.WEB_API, DataType.BREATHING_RATE, "breathing_rate"),
    (WEB_API / "sleep_v1.2.json", Layout.WEB_API, DataType.SLEEP, "sleep_stage"),
    (WEARIPEDIA / "hr.json", Layout.WEARIPEDIA, DataType.HEART_RATE, "heart_rate"),
    (WEARIPEDIA / "azm.json", Layout.WEARIPEDIA, DataType.ACTIVE_ZONE_MINUTES, "active_zone_minutes"),
    (WEARIPEDIA / "spo2.json", Layout.WEARIPEDIA, DataType.SPO2, "spo2"),
    (WEARIPEDIA / "hrv.json", Layout.WEARIPEDIA, DataType.HRV, "hrv_rmssd"),
    (WEARIPEDIA / "br.json", Layout.WEARIPEDIA, DataType.BREATHING_RATE, "breathing_rate"),
    (WEARIPEDIA / "sleep.json", Layout.WEARIPEDIA, DataType.SLEEP, "sleep_stage"),
]


@pytest.mark.parametrize(("path", "layout", "data_type", "metric"), SAMPLES, ids=lambda v: getattr(v, "name", None))
def test_each_sample_gives_one_reading_per_entry(path: Path, layout: Layout, data_type: DataType, metric: str) -> None:
    expected = COUNTERS[metric](load(path))
    result = import_one(path)

    assert expected > 0
    assert result.readings == {metric: expected}
    assert result.duplicates == {metric: 0}
    assert sum(len(batch) for batch in result.batches) == expected
    (summary,) = result.files
    assert (summary.path, summary.layout, summary.data_type, summary.metric) == (str(path), layout, data_type, metric)
    assert summary.readings == expected


def test_all_samples_in_one_import_count_per_metric() -> None:
    paths = [path for path, *_ in SAMPLES]
    expected: dict[str, int] = {}
    for path, _, _, metric in SAMPLES:
        expected[metric] = expected.get(metric, 0) + COUNTERS[metric](load(path))

    result = import_files(paths, participant_id="p-001", device_id="charge6-a")

    assert result.readings == expected
    assert [summary.path for summary in result.files] == [str(path) for path in paths]
    metrics_in_order = [batch.metric for batch in result.batches]
    assert metrics_in_order == sorted(metrics_in_order, key=list(METRICS).index)


def test_layout_and_type_come_from_content_not_file_name(tmp_path: Path) -> None:
    disguised = tmp_path / "sleep.json"
    shutil.copy(WEARIPEDIA / "hr.json", disguised)

    (summary,) = import_one(disguised).files

    assert (summary.layout, summary.data_type, summary.responses) == (Layout.WEARIPEDIA, DataType.HEART_RATE, 3)


# --- time conversion -------------------------------------------------------------------------------------


@pytest.mark.parametrize("timezone", ["UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata"])
def test_heart_rate_local_times_become_utc(timezone: str) -> None:
    path = WEB_API / "heart_rate_intraday.json"
    document = load(path)
    date = document["activities-heart"][0]["dateTime"]
    points = document["activities-heart-intraday"]["dataset"]
    expected = sorted((local_ms(f"{date}T{p['time']}", timezone), p["value"]) for p in points)

    timestamps, values = column(import_one(path, timezone), "heart_rate")

    assert list(zip(timestamps.tolist(), values.tolist(), strict=True)) == expected


def test_berlin_summer_morning_is_two_hours_ahead_of_utc() -> None:
    timestamps, _ = column(import_one(WEB_API / "heart_rate_intraday.json", "Europe/Berlin"), "heart_rate")

    assert timestamps[0] == epoch_ms(dt.datetime(2024, 6, 15, 6, 0, 0, tzinfo=UTC))


def test_minute_times_with_and_without_date_agree(tmp_path: Path) -> None:
    """Web API AZM minutes carry the date; wearipedia's carry only the time of the day's `dateTime`."""
    document = load(WEARIPEDIA / "azm.json")
    expected = [
        local_ms(f"{day['dateTime']}T{minute['minute']}", "America/New_York")
        for response in document
        for day in response["activities-active-zone-minutes-intraday"]
        for minute in day["minutes"]
    ]

    timestamps, _ = column(import_one(WEARIPEDIA / "azm.json", "America/New_York"), "active_zone_minutes")

    assert timestamps.tolist() == sorted(expected)


def test_spo2_and_hrv_minutes_convert_with_the_zone() -> None:
    for path, metric, key in [
        (WEB_API / "spo2_intraday.json", "spo2", "minutes"),
        (WEARIPEDIA / "hrv.json", "hrv_rmssd", "hrv"),
    ]:
        document = responses(load(path))
        minutes = [m for r in document for m in r["minutes"]] if key == "minutes" else []
        minutes += [m for r in document if key == "hrv" for day in r["hrv"] for m in day["minutes"]]
        expected = sorted(local_ms(m["minute"], "Australia/Sydney") for m in minutes)

        timestamps, _ = column(import_one(path, "Australia/Sydney"), metric)

        assert timestamps.tolist() == expected


# --- values ----------------------------------------------------------------------------------------------


def test_values_are_in_registry_dtypes_when_exact_with_extra_columns() -> None:
    result = import_files(
        [WEARIPEDIA / "hr.json", WEB_API / "spo2_intraday.json", WEB_API / "hrv_intraday.json"], "p-001", "charge6-a"
    )
    for batch in result.batches:
        # An hour of wearipedia's fractional heart rate does not fit int16: float64; SpO2 and HRV decimals fit
        # float32; whole numbers keep the registry's dtype.
        whole = bool(np.all(batch.values_float64() % 1 == 0))
        expected = METRICS[batch.metric].wire_dtype if whole or batch.metric != "heart_rate" else "<f8"
        assert batch.values_array().dtype == np.dtype(expected)
    assert any(b.values_dtype == "<f8" for b in result.batches if b.metric == "heart_rate")
    hrv = load(WEB_API / "hrv_intraday.json")["hrv"][0]["minutes"]
    assert {column for b in result.batches if b.metric == "hrv_rmssd" for column in b.extra} == {"coverage", "lf", "hf"}
    _, rmssd = column(result, "hrv_rmssd")
    assert rmssd.tolist() == [m["value"]["rmssd"] for m in hrv]
    for name in ("coverage", "lf", "hf"):
        np.testing.assert_allclose(extra_column(result, "hrv_rmssd", name), [m["value"][name] for m in hrv], rtol=1e-6)


def test_fractional_heart_rate_is_kept_exactly() -> None:
    document = load(WEARIPEDIA / "hr.json")
    raw = [p["value"] for r in responses(document) for p in r["activities-heart-intraday"]["dataset"]]

    _, values = column(import_one(WEARIPEDIA / "hr.json"), "heart_rate")

    assert any(value % 1 for value in raw)
    assert values.tolist() == raw


def test_out_of_range_values_are_kept_for_the_validator(tmp_path: Path) -> None:
    path = tmp_path / "hr.json"
    dataset = [
        {"time": "00:00:00", "value": 12},
        {"time": "00:00:01", "value": 400},
        {"time": "00:00:02", "value": 1e6},
    ]
    write_heart_rate(path, dataset)

    _, values = column(import_one(path), "heart_rate")

    assert values.tolist() == [12, 400, 1e6]  # exactly, never wrapped or clipped into int16


def test_active_zone_minutes_use_fitbits_weighted_count() -> None:
    _, values = column(import_one(WEB_API / "azm_intraday.json"), "active_zone_minutes")

    assert np.bincount(values.astype(np.int64)).tolist() == [360 - 33, 20, 13]


def test_a_single_path_is_one_file() -> None:
    path = WEB_API / "steps_intraday.json"

    assert import_files(path, "p-001", "charge6-a", sync_time=1) == import_files(
        [path], "p-001", "charge6-a", sync_time=1
    )
    assert import_files(str(path), "p-001", "charge6-a").files[0].path == str(path)
