"""Delta-load by content (the import plan) and the latest-upload-wins rule, as pure functions."""

from __future__ import annotations

import datetime as dt

import numpy as np

from producers.import_job import MS_PER_DAY, first_local_date, plan
from schemas.readings import ReadingBatch, make_batch
from schemas.watermarks import Watermark, decode_watermark, encode_watermark
from stream_processors.corrections import day_ranges, winners

DAY = 19_800  # days since 1970-01-01


def batch(day: int, values: list[int], metric: str = "steps") -> ReadingBatch:
    ts = day * MS_PER_DAY + np.arange(len(values)) * 60_000
    return make_batch(
        participant_id="p", metric=metric, device_id="d", sync_time=1, timestamps=ts, values=values, origin="import"
    )


def test_the_same_content_is_unchanged_other_content_corrected_and_new_days_new() -> None:
    first = plan([batch(DAY, [1, 2, 3]), batch(DAY + 1, [4, 5])], {}, "p")
    assert (first.new, first.unchanged, first.corrected) == ({"steps": 5}, {"steps": 0}, {"steps": 0})
    assert len(first.publish) == 2
    marks = {("p", m.metric): decode_watermark(encode_watermark(m)) for m in first.marks}

    again = plan([batch(DAY + 1, [4, 5]), batch(DAY, [1, 2, 3])], marks, "p")
    assert again.publish == []
    assert again.marks == []
    assert again.unchanged == {"steps": 5}

    changed = plan([batch(DAY, [1, 2, 9]), batch(DAY + 2, [7])], marks, "p")
    assert (changed.new, changed.unchanged, changed.corrected) == ({"steps": 1}, {"steps": 0}, {"steps": 3})
    assert [b.timestamps_array()[0] // MS_PER_DAY for b in changed.publish] == [DAY, DAY + 2]
    # Both contents of the day are remembered: re-importing either older export publishes nothing.
    marks = {("p", m.metric): m for m in changed.marks}
    assert plan([batch(DAY, [1, 2, 3])], marks, "p").publish == []
    assert plan([batch(DAY, [1, 2, 9])], marks, "p").publish == []


def test_old_watermarks_without_content_hashes_publish_everything_again() -> None:
    old = {("p", "steps"): Watermark(source="import", participant_id="p", metric="steps", until_ms=2**40)}
    assert plan([batch(DAY, [1])], old, "p").new == {"steps": 1}


def test_enrolment_is_the_first_local_date() -> None:
    late_utc = make_batch(
        participant_id="p",
        metric="steps",
        device_id="d",
        sync_time=1,
        timestamps=[int(dt.datetime(2024, 3, 4, 20, tzinfo=dt.UTC).timestamp() * 1000)],
        values=[1],
    )
    assert first_local_date([late_utc], "UTC") == dt.date(2024, 3, 4)
    assert first_local_date([late_utc], "Asia/Tokyo") == dt.date(2024, 3, 5)
    assert first_local_date([], "UTC") is None


def test_the_greatest_sync_time_wins_then_the_greatest_batch() -> None:
    ts = np.array([5, 5, 5, 7, 7, 9])
    sync = np.array([1, 3, 2, 4, 4, 0])
    rank = np.array([0, 1, 2, 0, 1, 0])
    assert winners(ts, sync, rank).tolist() == [False, True, False, False, True, True]


def test_day_ranges_cover_whole_local_days_widened_to_hours() -> None:
    kolkata_midnight = int(dt.datetime(2026, 3, 2, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))).timestamp())
    start = kolkata_midnight * 1000
    ranges = day_ranges(np.array([start + 1000, start + 86_400_000 + 5], dtype=np.int64), "Asia/Kolkata")
    assert ranges == [(start - 1_800_000, start + 2 * 86_400_000 + 1_800_000, start, start + 2 * 86_400_000)]
