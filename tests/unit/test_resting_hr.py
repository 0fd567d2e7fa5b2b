"""Nightly and hourly resting HR from minute rollups: the window, local time, steps, the lab's truncation."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from stream_processors.resting_hr import local_time_ms, night_inputs


def _minutes(start: dt.datetime, count: int) -> np.ndarray:
    return int(start.timestamp()) * 1000 + 60_000 * np.arange(count, dtype=np.int64)


def test_night_window_is_local_and_counts_only_still_minutes() -> None:
    # 22:00 local (New York, UTC−5 in March before DST) to 08:00: minutes after 06:59 and minutes with steps drop out.
    start = dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.UTC)  # 22:00 local on 1 March
    ts = _minutes(start, 10 * 60)
    hr = np.full(ts.size, 70.0)
    steps = np.zeros(ts.size)
    local_minute = np.arange(ts.size) - 120  # minutes since local midnight
    hr[(local_minute >= 0) & (local_minute < 420)] = 55.5
    steps[(local_minute >= 60) & (local_minute < 70)] = 12
    hr[(local_minute >= 60) & (local_minute < 70)] = 100.0
    steps[local_minute == 200] = np.nan  # no steps value stored: not known to be still
    (night,) = night_inputs(ts, hr, steps, "America/New_York")
    assert night.night == dt.date(2026, 3, 2)
    assert night.minutes == 420 - 10 - 1
    assert night.resting_hr == 55.5
    assert night.resting_hr_lab == 55
    assert len(night.hourly) == 24
    # Hour 1 had steps in minutes 0–9 (minutes 10–19 after them are not rested); hour 10 has no data at all.
    assert night.hourly[1] == 55.5
    assert math.isnan(night.hourly[10])


def test_hourly_median_is_exact_and_bad_input_is_refused() -> None:
    ts = _minutes(dt.datetime(2026, 5, 1, 0, 0, tzinfo=dt.UTC), 60)
    hr = np.arange(60, dtype=np.float64) + 40.0
    (night,) = night_inputs(ts, hr, np.zeros(60), "UTC")
    assert night.hourly[0] == (69.0 + 70.0) / 2
    with pytest.raises(ValueError, match="sorted and unique"):
        night_inputs(ts[::-1].copy(), hr, np.zeros(60), "UTC")
    with pytest.raises(ValueError, match="same length"):
        night_inputs(ts, hr[:3], np.zeros(60), "UTC")
    assert night_inputs(ts[:0], hr[:0], hr[:0], "UTC") == []


@pytest.mark.parametrize(
    ("timezone", "instant", "wall"),
    [
        # New York, 1 Nov 2026: 01:59:59 EDT is followed by 01:00 EST (06:00 UTC).
        ("America/New_York", "2026-10-31T23:30:00-04:00", "2026-10-31T23:30"),
        ("America/New_York", "2026-11-01T05:30:00+00:00", "2026-11-01T01:30"),
        ("America/New_York", "2026-11-01T06:30:00+00:00", "2026-11-01T01:30"),
        ("America/New_York", "2026-11-01T07:30:00+00:00", "2026-11-01T02:30"),
        # Berlin, 29 Mar 2026: 02:00 CET becomes 03:00 CEST (01:00 UTC).
        ("Europe/Berlin", "2026-03-29T00:30:00+00:00", "2026-03-29T01:30"),
        ("Europe/Berlin", "2026-03-29T01:30:00+00:00", "2026-03-29T03:30"),
        ("Europe/Berlin", "2026-03-28T22:30:00+00:00", "2026-03-28T23:30"),
    ],
)
def test_local_time_uses_the_offset_in_force_at_each_instant_across_daylight_saving(
    timezone: str, instant: str, wall: str
) -> None:
    at_ms = int(dt.datetime.fromisoformat(instant).timestamp() * 1000)
    local = local_time_ms(np.array([at_ms], dtype=np.int64), timezone)
    assert (
        dt.datetime.fromtimestamp(int(local[0]) / 1000, tz=dt.UTC).replace(tzinfo=None).isoformat(timespec="minutes")
        == wall
    )
