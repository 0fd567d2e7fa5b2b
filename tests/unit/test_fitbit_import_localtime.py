"""Local wall-clock time → UTC: the documented DST rules, end to end and as a property of `to_utc_ms`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from producers.fitbit import import_files
from producers.fitbit.localtime import MS_PER_MINUTE, to_utc_ms, wall_ms_of_datetime

UTC = dt.UTC


def utc_ms(year: int, month: int, day: int, hour: int, minute: int, second: int) -> int:
    return round(dt.datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp() * 1000)


def import_heart_rate(tmp_path: Path, date: str, times: list[str], timezone: str) -> list[int]:
    path = tmp_path / "hr.json"
    dataset = [{"time": time, "value": 60 + index} for index, time in enumerate(times)]
    path.write_text(
        json.dumps({"activities-heart": [{"dateTime": date}], "activities-heart-intraday": {"dataset": dataset}})
    )
    result = import_files([path], "p-001", "charge6-a", timezone=timezone)
    pairs = [
        (t, v)
        for batch in result.batches
        for t, v in zip(batch.timestamps_array().tolist(), batch.values_array().tolist(), strict=True)
    ]
    # Back to input order (values are 60, 61, …) so each time can be checked against its expectation.
    return [t for t, _ in sorted(pairs, key=lambda pair: pair[1])]


def test_spring_forward_nonexistent_time_moves_forward_by_the_gap(tmp_path: Path) -> None:
    timestamps = import_heart_rate(tmp_path, "2024-03-10", ["01:59:59", "02:30:00", "03:00:00"], "America/New_York")

    assert timestamps == [
        utc_ms(2024, 3, 10, 6, 59, 59),  # EST, UTC-5
        utc_ms(2024, 3, 10, 7, 30, 0),  # does not exist: read with the offset before the change (EST)
        utc_ms(2024, 3, 10, 7, 0, 0),  # EDT, UTC-4
    ]


def test_fall_back_ambiguous_time_is_the_earlier_instant(tmp_path: Path) -> None:
    timestamps = import_heart_rate(tmp_path, "2024-11-03", ["00:59:59", "01:30:00", "02:00:00"], "America/New_York")

    assert timestamps == [
        utc_ms(2024, 11, 3, 4, 59, 59),  # EDT
        utc_ms(2024, 11, 3, 5, 30, 0),  # happens twice: the first time, still EDT
        utc_ms(2024, 11, 3, 7, 0, 0),  # EST
    ]


def test_half_hour_and_southern_hemisphere_zones(tmp_path: Path) -> None:
    kolkata = import_heart_rate(tmp_path, "2024-01-15", ["00:00:00"], "Asia/Kolkata")
    sydney_summer = import_heart_rate(tmp_path, "2024-01-15", ["12:00:00"], "Australia/Sydney")

    assert kolkata == [utc_ms(2024, 1, 14, 18, 30, 0)]
    assert sydney_summer == [utc_ms(2024, 1, 15, 1, 0, 0)]


ZONES = ["UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu", "America/Santiago"]


@settings(max_examples=200, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    walls=st.lists(
        st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2037, 12, 31)), min_size=1, max_size=50
    ),
)
def test_vectorised_conversion_matches_zoneinfo_fold_0(zone: str, walls: list[dt.datetime]) -> None:
    walls = [wall.replace(microsecond=wall.microsecond // 1000 * 1000) for wall in walls]
    wall_ms = np.array([wall_ms_of_datetime(wall) for wall in walls], dtype=np.int64)

    converted = to_utc_ms(wall_ms, ZoneInfo(zone))

    expected = [round(wall.replace(tzinfo=ZoneInfo(zone), fold=0).timestamp() * 1000) for wall in walls]
    assert converted.tolist() == expected


@settings(max_examples=50, deadline=None)
@given(start=st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1)))
def test_whole_day_at_1_hz_converts_like_zoneinfo_per_minute(start: dt.datetime) -> None:
    zone = ZoneInfo("Europe/Berlin")
    base = wall_ms_of_datetime(start.replace(microsecond=0))
    wall_ms = base + np.arange(0, 86_400_000, 1_000, dtype=np.int64)

    converted = to_utc_ms(wall_ms, zone)

    # Spot-check seconds spread over the day (every 7 min 13 s) against zoneinfo, exactly.
    for offset in range(0, 86_400_000, 7 * MS_PER_MINUTE + 13_000):
        wall = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=int(base + offset))
        expected = round(wall.replace(tzinfo=zone).timestamp() * 1000)
        assert converted[offset // 1000] == expected
