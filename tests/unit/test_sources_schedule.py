"""The runner's schedule (every N minutes; daily at 01:00 in each participant's zone, across daylight-saving
changes) and the windows of an incremental pull (backfill from enrolment, lookback, the window cap)."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers.sources.base import MetricSpec, Window
from producers.sources.schedule import (
    DailyAt,
    Every,
    next_daily,
    next_every,
    next_run,
    parse_daily_at,
    parse_every,
)
from producers.sources.windows import enrolment_ms, pull_windows, split_windows

UTC = dt.UTC
HOUR = 3_600_000
DAY = 24 * HOUR
ONE_AM = DailyAt(dt.time(1, 0))


def utc(year: int, month: int, day: int, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_every_n_minutes_counts_from_the_previous_start() -> None:
    every = parse_every("15m")
    assert every == Every(900)
    now = utc(2026, 5, 1, 12, 0)
    assert next_every(every, last_start=None, now=now) == now
    assert next_every(every, last_start=utc(2026, 5, 1, 11, 50), now=now) == utc(2026, 5, 1, 12, 5)
    # Overdue (the runner was stopped): due now, not in the past.
    assert next_every(every, last_start=utc(2026, 5, 1, 9, 0), now=now) == now
    assert [parse_every(t).interval_s for t in ("30s", "2h", "1d")] == [30, 7200, 86400]


@pytest.mark.parametrize("text", ["", "15", "0m", "15 minutes", "-5m", "1w"])
def test_a_bad_interval_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="expected a positive duration"):
        parse_every(text)


def test_daily_at_is_local_to_each_participant() -> None:
    after = utc(2026, 6, 10, 12, 0)
    assert next_daily(ONE_AM, timezone="Europe/Berlin", after=after) == utc(2026, 6, 10, 23, 0)  # CEST
    assert next_daily(ONE_AM, timezone="America/New_York", after=after) == utc(2026, 6, 11, 5, 0)  # EDT
    assert next_daily(ONE_AM, timezone="Asia/Tokyo", after=after) == utc(2026, 6, 10, 16, 0)
    assert parse_daily_at("01:00") == ONE_AM
    with pytest.raises(ValueError, match="HH:MM"):
        parse_daily_at("1 am")


def test_daily_at_across_the_spring_change() -> None:
    # New York springs forward at 02:00 on 2026-03-08: 01:00 exists, in EST before and EDT after.
    new_york = [utc(2026, 3, 7, 6, 0), utc(2026, 3, 8, 6, 0), utc(2026, 3, 9, 5, 0), utc(2026, 3, 10, 5, 0)]
    assert runs("America/New_York", utc(2026, 3, 7, 0, 0), 4) == new_york
    # London springs from 01:00 to 02:00 on 2026-03-29: 01:00 does not exist; the run is at 02:00 BST (01:00
    # UTC), the end of the skipped hour, once.
    london = [utc(2026, 3, 28, 1, 0), utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 0)]
    assert runs("Europe/London", utc(2026, 3, 27, 12, 0), 3) == london


def test_daily_at_across_the_autumn_change() -> None:
    # London falls back from 02:00 BST to 01:00 GMT on 2026-10-25: 01:00 happens twice; one run, the first.
    london = [utc(2026, 10, 24, 0, 0), utc(2026, 10, 25, 0, 0), utc(2026, 10, 26, 1, 0)]
    assert runs("Europe/London", utc(2026, 10, 23, 12, 0), 3) == london
    # New York falls back on 2026-11-01 at 02:00: 01:00 twice (EDT then EST), one run at the EDT one.
    new_york = [utc(2026, 10, 31, 5, 0), utc(2026, 11, 1, 5, 0), utc(2026, 11, 2, 6, 0)]
    assert runs("America/New_York", utc(2026, 10, 31, 0, 0), 3) == new_york


def runs(timezone: str, after: dt.datetime, n: int) -> list[dt.datetime]:
    found = []
    for _ in range(n):
        after = next_daily(ONE_AM, timezone=timezone, after=after)
        found.append(after)
    return found


@given(
    st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2035, 1, 1)),
    st.sampled_from(["Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]),
)
def test_daily_runs_are_a_day_apart_at_the_local_time(naive: dt.datetime, timezone: str) -> None:
    after = naive.replace(tzinfo=UTC)
    first = next_daily(ONE_AM, timezone=timezone, after=after)
    second = next_daily(ONE_AM, timezone=timezone, after=first)
    assert after < first <= after + dt.timedelta(days=1, hours=1)
    assert first.astimezone(zoneinfo.ZoneInfo(timezone)).date() < second.astimezone(zoneinfo.ZoneInfo(timezone)).date()
    assert dt.timedelta(hours=22) <= second - first <= dt.timedelta(hours=26)


def test_next_run_daily_first_pull_is_now_then_the_local_time() -> None:
    now = utc(2026, 6, 10, 12, 0)
    assert next_run(ONE_AM, timezone="Europe/Berlin", last_start=None, now=now) == now
    last = utc(2026, 6, 9, 23, 0)
    assert next_run(ONE_AM, timezone="Europe/Berlin", last_start=last, now=now) == utc(2026, 6, 10, 23, 0)


SPEC = MetricSpec(metric="heart_rate", resolution_ms=1000, lookback_ms=2 * DAY, max_window_ms=7 * DAY)


def test_first_pull_backfills_from_enrolment_in_capped_windows() -> None:
    enrolled = enrolment_ms(dt.date(2026, 1, 1), "America/New_York")
    assert enrolled == int(dt.datetime(2026, 1, 1, 5, tzinfo=UTC).timestamp() * 1000)
    now = enrolled + 20 * DAY + 3 * HOUR
    windows = pull_windows(SPEC, enrolled_ms=enrolled, fetched_through_ms=None, now_ms=now)
    assert windows == [
        Window(enrolled, enrolled + 7 * DAY),
        Window(enrolled + 7 * DAY, enrolled + 14 * DAY),
        Window(enrolled + 14 * DAY, now),
    ]


def test_later_pulls_re_read_the_lookback_but_never_before_enrolment() -> None:
    enrolled = 1_000 * DAY
    through = enrolled + 10 * DAY
    windows = pull_windows(SPEC, enrolled_ms=enrolled, fetched_through_ms=through, now_ms=through + HOUR)
    assert windows == [Window(through - 2 * DAY, through + HOUR)]
    young = pull_windows(SPEC, enrolled_ms=enrolled, fetched_through_ms=enrolled + DAY, now_ms=enrolled + 2 * DAY)
    assert young == [Window(enrolled, enrolled + 2 * DAY)]
    assert pull_windows(SPEC, enrolled_ms=enrolled, fetched_through_ms=None, now_ms=enrolled) == []


@given(st.integers(0, 10**13), st.integers(1, 10**9), st.integers(0, 500), st.floats(0, 1))
def test_windows_tile_the_span_without_gap_or_overlap(start: int, cap: int, whole: int, part: float) -> None:
    length = whole * cap + int(part * (cap - 1))
    windows = split_windows(start, start + length, cap)
    if length == 0:
        assert windows == []
        return
    assert windows[0].start_ms == start
    assert windows[-1].end_ms == start + length
    assert all(a.end_ms == b.start_ms for a, b in itertools.pairwise(windows))
    assert all(0 < w.end_ms - w.start_ms <= cap for w in windows)
    assert len(windows) == -(-length // cap)
    with pytest.raises(ValueError, match="max_window_ms must be positive"):
        split_windows(start, start + 1, 0)
