"""Nightly and hourly resting HR from minute rollups: the window, local time, steps, the lab's truncation."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from stream_processors.resting_hr import night_inputs


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
