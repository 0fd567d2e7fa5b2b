"""Which local dates and nights a group's readings touch (stream_processors/summaries.py), across a
daylight-saving change."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from stream_processors.summaries import NIGHT_SHIFT, Touched, local_dates

NEW_YORK = ZoneInfo("America/New_York")


def ms(year: int, month: int, day: int, hour: int, minute: int = 0) -> int:
    return int(dt.datetime(year, month, day, hour, minute, tzinfo=NEW_YORK).timestamp() * 1000)


def test_days_are_local_dates_and_nights_start_at_local_noon() -> None:
    # 3 November 2024: clocks go back at 02:00, the day has 25 hours.
    first, last = ms(2024, 11, 2, 23, 30), ms(2024, 11, 3, 23, 59)
    assert local_dates(first, last, "America/New_York") == [dt.date(2024, 11, 2), dt.date(2024, 11, 3)]
    assert local_dates(first, last, "UTC") == [dt.date(2024, 11, 3), dt.date(2024, 11, 4)]
    assert local_dates(ms(2024, 11, 3, 11, 59), ms(2024, 11, 3, 11, 59), "America/New_York", NIGHT_SHIFT) == [
        dt.date(2024, 11, 3)
    ]
    assert local_dates(ms(2024, 11, 3, 12), ms(2024, 11, 3, 12), "America/New_York", NIGHT_SHIFT) == [
        dt.date(2024, 11, 4)
    ]


def test_resting_hours_are_flagged_only_for_dates_the_readings_reach_before_seven() -> None:
    touched = Touched()
    touched.add("P1", ms(2024, 11, 3, 8), ms(2024, 11, 3, 9))
    touched.add("P2", ms(2024, 11, 3, 6, 59), ms(2024, 11, 3, 7, 30))
    touched.add("P2", ms(2024, 11, 2, 22), ms(2024, 11, 2, 23))
    pids, zones, dates, rest = touched.arguments({"P1": "America/New_York", "P2": "America/New_York"})
    assert list(zip(pids, dates, rest, strict=True)) == [
        ("P1", dt.date(2024, 11, 3), False),
        ("P2", dt.date(2024, 11, 2), False),
        ("P2", dt.date(2024, 11, 3), True),
    ]
    assert zones == ["America/New_York"] * 3
    assert Touched().arguments({}) == ([], [], [], [])


def test_active_zone_minutes_alone_leave_the_resting_hr_as_stored() -> None:
    touched = Touched()
    touched.add("P1", ms(2024, 11, 3, 5), ms(2024, 11, 3, 6), rest=False)
    assert touched.arguments({"P1": "America/New_York"})[3] == [False]
    touched.add("P1", ms(2024, 11, 3, 6), ms(2024, 11, 3, 6, 30))
    assert touched.arguments({"P1": "America/New_York"})[3] == [True]
