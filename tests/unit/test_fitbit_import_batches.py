"""The Fitbit importer's batches: deterministic ids, sync time, cutting, ordering and de-duplication."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from producers.fitbit import import_files
from schemas.readings import ReadingBatch
from tests.unit.test_fitbit_import import SAMPLES, WEB_API, at, column, import_one, write_heart_rate

# --- batches ---------------------------------------------------------------------------------------------


def all_samples() -> list[Path]:
    return [path for path, *_ in SAMPLES]


def test_reimport_gives_the_same_batch_ids_whatever_the_sync_time() -> None:
    first = import_files(all_samples(), "p-001", "charge6-a", timezone="Europe/Berlin")
    second = import_files(all_samples(), "p-001", "charge6-a", timezone="Europe/Berlin", sync_time=1_700_000_000_000)

    assert [b.batch_id for b in first.batches] == [b.batch_id for b in second.batches]
    assert len({b.batch_id for b in first.batches}) == len(first.batches)
    assert {b.sync_time for b in second.batches} == {1_700_000_000_000}


def test_batch_ids_depend_on_participant_and_device() -> None:
    path = WEB_API / "steps_intraday.json"
    ids = {
        import_files([path], participant, device).batches[0].batch_id
        for participant, device in [("p-001", "d-1"), ("p-002", "d-1"), ("p-001", "d-2")]
    }

    assert len(ids) == 3


def test_imported_batches_are_marked_and_stamped_with_the_import_time_not_the_data() -> None:
    before = int(time.time() * 1000)
    batches = import_files(all_samples(), "p-001", "charge6-a").batches
    after = int(time.time() * 1000)

    assert {b.origin for b in batches} == {"import"}
    assert len({b.sync_time for b in batches}) == 1
    assert before <= batches[0].sync_time <= after
    assert any(b.sync_time != int(b.timestamps_array().max()) for b in batches)


def hour_or_day(batch: ReadingBatch) -> int:
    return 3_600_000 if batch.metric == "heart_rate" else 86_400_000


def test_batches_are_sorted_and_cut_per_utc_hour_or_day() -> None:
    result = import_files(all_samples(), "p-001", "charge6-a", timezone="America/Los_Angeles")

    previous: dict[str, int] = {}
    for batch in result.batches:
        timestamps = batch.timestamps_array()
        chunk = hour_or_day(batch)
        assert np.all(np.diff(timestamps) >= 0)
        assert timestamps[0] // chunk == timestamps[-1] // chunk
        assert previous.get(batch.metric, -1) < timestamps[0] // chunk
        previous[batch.metric] = int(timestamps[0] // chunk)
    assert any(batch.metric == "heart_rate" for batch in result.batches)


def test_same_file_twice_keeps_each_reading_once() -> None:
    path = WEB_API / "heart_rate_intraday.json"
    once = import_one(path)

    twice = import_files([path, path], "p-001", "charge6-a")

    assert twice.readings == once.readings
    assert twice.duplicates == {"heart_rate": once.readings["heart_rate"]}
    assert [b.batch_id for b in twice.batches] == [b.batch_id for b in once.batches]


def test_equal_timestamps_keep_the_last_reading(tmp_path: Path) -> None:
    path = tmp_path / "hr.json"
    dataset = [
        {"time": "00:00:05", "value": 60},
        {"time": "00:00:01", "value": 61},
        {"time": "00:00:05", "value": 62},
        {"time": "00:00:05", "value": 63},
    ]
    write_heart_rate(path, dataset)

    result = import_one(path)

    timestamps, values = column(result, "heart_rate")
    assert values.tolist() == [61, 63]
    assert np.diff(timestamps).tolist() == [4_000]
    assert result.duplicates == {"heart_rate": 2}


def test_range_dataset_rolls_over_to_the_next_summary_day(tmp_path: Path) -> None:
    path = tmp_path / "hr.json"
    dataset = [{"time": "23:59:58", "value": 60}, {"time": "23:59:59", "value": 61}, {"time": "00:00:00", "value": 62}]
    write_heart_rate(path, dataset, ("2024-01-01", "2024-01-02"))

    timestamps, _ = column(import_one(path), "heart_rate")

    assert timestamps.tolist() == [at("2024-01-01T23:59:58"), at("2024-01-01T23:59:59"), at("2024-01-02T00:00:00")]


def test_empty_days_give_no_batches(tmp_path: Path) -> None:
    path = tmp_path / "spo2.json"
    path.write_text(json.dumps([{}, {"dateTime": "2024-01-01", "minutes": []}]))

    result = import_one(path)

    assert result.batches == ()
    assert result.readings == {"spo2": 0}
    assert result.files[0].responses == 1
