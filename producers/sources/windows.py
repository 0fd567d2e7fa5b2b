"""Which windows an incremental pull asks a source for: from enrolment on the first run, else from the cursor
minus the metric's lookback (devices sync late), up to now, each window at most `max_window_ms` long."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from producers.sources.base import MetricSpec, Window


def pull_start_ms(spec: MetricSpec, *, enrolled_ms: int, fetched_through_ms: int | None) -> int:
    """Backfill from enrolment when nothing was fetched yet; else re-read the lookback, never before enrolment."""
    if fetched_through_ms is None:
        return enrolled_ms
    return max(enrolled_ms, fetched_through_ms - spec.lookback_ms)


def split_windows(start_ms: int, end_ms: int, max_window_ms: int) -> list[Window]:
    """[start_ms, end_ms) cut into consecutive windows of at most `max_window_ms` (empty when start ≥ end)."""
    if max_window_ms <= 0:
        raise ValueError(f"max_window_ms must be positive, got {max_window_ms}")
    windows = []
    begin = start_ms
    while begin < end_ms:
        end = min(begin + max_window_ms, end_ms)
        windows.append(Window(begin, end))
        begin = end
    return windows


def pull_windows(spec: MetricSpec, *, enrolled_ms: int, fetched_through_ms: int | None, now_ms: int) -> list[Window]:
    """The windows of one incremental pull of `spec`'s metric, oldest first."""
    start = pull_start_ms(spec, enrolled_ms=enrolled_ms, fetched_through_ms=fetched_through_ms)
    return split_windows(start, now_ms, spec.max_window_ms)


def enrolment_ms(enrolled_on: dt.date, timezone: str) -> int:
    """Local midnight of the enrolment date in the participant's zone, as epoch milliseconds."""
    midnight = dt.datetime.combine(enrolled_on, dt.time(), tzinfo=zoneinfo.ZoneInfo(timezone))
    return int(midnight.timestamp() * 1000)
