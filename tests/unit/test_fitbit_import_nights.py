"""The Fitbit importer on nights: breathing rate per sleep stage, and sleep logs as 30 s epochs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from schemas.metrics import SleepStage
from tests.unit.test_fitbit_import import (
    UTC,
    WEB_API,
    at,
    column,
    epoch_ms,
    extra_column,
    import_one,
    load,
    local_ms,
    sleep_epoch_starts,
)

# --- breathing rate --------------------------------------------------------------------------------------


def test_breathing_rate_gives_one_reading_per_stage_at_local_midnight_plus_the_stage_offset() -> None:
    result = import_one(WEB_API / "br_intraday.json", "America/Los_Angeles")

    timestamps, values = column(result, "breathing_rate")
    rows = list(zip(timestamps.tolist(), extra_column(result, "breathing_rate", "stage").tolist(), strict=True))
    midnight_14 = local_ms("2024-06-14T00:00:00", "America/Los_Angeles")
    midnight_15 = local_ms("2024-06-15T00:00:00", "America/Los_Angeles")
    assert rows == [
        (midnight_14, -1),
        (midnight_14 + 1, SleepStage.LIGHT),
        (midnight_14 + 2, SleepStage.DEEP),
        (midnight_14 + 3, SleepStage.REM),
        (midnight_15, -1),
        (midnight_15 + 1, SleepStage.LIGHT),
        (midnight_15 + 2, SleepStage.DEEP),
    ]
    # Distinct timestamps: the validator keeps one reading per timestamp, so every stage is stored.
    assert len(set(timestamps.tolist())) == len(rows)
    assert values.tolist() == [15.4, 15.8, 14.2, 16.6, 15.0, 15.2, 13.8]
    assert result.duplicates == {"breathing_rate": 0}


def test_breathing_rate_summary_shape_is_a_full_night_reading(tmp_path: Path) -> None:
    path = tmp_path / "br.json"
    path.write_text(json.dumps({"br": [{"value": {"breathingRate": 17.8}, "dateTime": "2021-10-25"}]}))

    (batch,) = import_one(path).batches

    assert batch.timestamps_array().tolist() == [epoch_ms(dt.datetime(2021, 10, 25, tzinfo=UTC))]
    assert batch.extra_array("stage").tolist() == [-1]
    assert batch.values_array().tolist() == pytest.approx([17.8])


# --- sleep -----------------------------------------------------------------------------------------------


def sleep_stages(path: Path, timezone: str = "UTC") -> dict[int, int]:
    timestamps, values = column(import_one(path, timezone), "sleep_stage")
    return dict(zip(timestamps.tolist(), values.tolist(), strict=True))


def test_sleep_levels_expand_to_30_second_epochs() -> None:
    document = load(WEB_API / "sleep_v1.2.json")
    stages = sleep_stages(WEB_API / "sleep_v1.2.json")

    main, nap = document["sleep"]
    expected_epochs = {
        epoch_ms(start.replace(tzinfo=UTC)) for start in sleep_epoch_starts(main) | sleep_epoch_starts(nap)
    }
    assert set(stages) == expected_epochs
    assert len(stages) == sum(segment["seconds"] for log in (main, nap) for segment in log["levels"]["data"]) // 30
    assert stages[at("2024-06-14T23:30:00")] == SleepStage.WAKE
    assert stages[at("2024-06-14T23:35:30")] == SleepStage.LIGHT
    assert stages[at("2024-06-15T00:05:30")] == SleepStage.DEEP
    assert stages[at("2024-06-15T01:00:30")] == SleepStage.REM
    assert stages[at("2024-06-15T04:59:30")] == SleepStage.WAKE
    assert at("2024-06-15T05:00:00") not in stages


def test_short_wakes_override_the_epochs_they_cover() -> None:
    stages = sleep_stages(WEB_API / "sleep_v1.2.json")

    # shortData: 23:52:00 +60 s, 01:40:30 +90 s, 03:30:00 +30 s, all inside light or rem segments.
    assert [stages[at(f"2024-06-14T23:5{t}")] for t in ("1:30", "2:00", "2:30", "3:00")] == [1, 0, 0, 1]
    assert [stages[at(f"2024-06-15T01:4{t}")] for t in ("0:00", "0:30", "1:00", "1:30", "2:00")] == [1, 0, 0, 0, 1]
    assert [stages[at(f"2024-06-15T03:{t}")] for t in ("29:30", "30:00", "30:30")] == [1, 0, 1]
    assert sum(1 for stage in stages.values() if stage == SleepStage.WAKE) == 11 + 2 + 3 + 1 + 9 + 4 + 6 + 2


def test_classic_levels_map_to_wake_and_light() -> None:
    stages = sleep_stages(WEB_API / "sleep_v1.2.json")

    nap = [stages[at("2024-06-15T14:00:00") + 30_000 * k] for k in range(80)]
    assert nap == [0] * 4 + [1] * 50 + [0] * 6 + [1] * 18 + [0] * 2


def test_short_wake_never_extends_the_night(tmp_path: Path) -> None:
    log = {
        "logId": 1,
        "dateOfSleep": "2024-01-02",
        "startTime": "2024-01-02T00:00:00.000",
        "endTime": "2024-01-02T00:02:00.000",
        "type": "stages",
        "levels": {
            "data": [{"dateTime": "2024-01-02T00:00:00.000", "level": "light", "seconds": 120}],
            "shortData": [{"dateTime": "2024-01-02T00:01:30.000", "level": "wake", "seconds": 120}],
        },
    }
    path = tmp_path / "sleep.json"
    path.write_text(json.dumps({"sleep": [log]}))

    stages = sleep_stages(path)

    start = at("2024-01-02T00:00:00")
    assert stages == {start: 1, start + 30_000: 1, start + 60_000: 1, start + 90_000: 0}


def test_sleep_epochs_follow_the_zone() -> None:
    utc = sleep_stages(WEB_API / "sleep_v1.2.json")
    tokyo = sleep_stages(WEB_API / "sleep_v1.2.json", "Asia/Tokyo")

    assert {t + 9 * 3_600_000: stage for t, stage in tokyo.items()} == utc
