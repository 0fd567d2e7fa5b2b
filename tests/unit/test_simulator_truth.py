"""Ground truth and delivery: not-worn holes, uploads and batches, dropout, authorisation, late syncs."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from functools import cache

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from producers.simulator import CohortSimulator, Interval, ParticipantDay, ParticipantTraits
from producers.simulator.grid import DAY_MS, MINUTE_MS, day_start_ms
from schemas.metrics import HEART_RATE, METRICS

START = dt.date(2025, 3, 20)
SEED = 23
THRESHOLD_MS = (HEART_RATE.gap_threshold_s or 0) * 1000


@cache
def simulator() -> CohortSimulator:
    return CohortSimulator(seed=SEED, start=START)


@cache
def cohort_days() -> tuple[ParticipantDay, ...]:
    return tuple(simulator().simulate_day(k, d) for k in range(1, 31) for d in range(12))


def find(predicate: Callable[[ParticipantTraits], bool]) -> int:
    """The first participant (k ≤ 1000) whose traits satisfy `predicate`."""
    for k in range(1, 1001):
        if predicate(simulator().traits(k)):
            return k
    raise AssertionError("no such participant")


def holes(timestamps: np.ndarray, day_start: int) -> list[Interval]:
    points = np.concatenate(([day_start], timestamps, [day_start + DAY_MS]))
    return [Interval(int(a), int(b)) for a, b in itertools.pairwise(points) if b - a >= THRESHOLD_MS]


def assert_batches_deliver_exactly_the_readings(participant_day: ParticipantDay) -> None:
    batches = participant_day.batches
    assert [(b.sync_time, b.metric) for b in batches] == sorted((b.sync_time, b.metric) for b in batches)
    assert len({(b.sync_time, b.metric) for b in batches}) == len(batches)
    for metric, readings in participant_day.readings.items():
        mine = [b for b in batches if b.metric == metric]
        assert all(len(b) > 0 for b in mine)
        assert all(b.participant_id == participant_day.participant_id for b in mine)
        assert sum(len(b) for b in mine) == len(readings)
        if not mine:
            continue
        np.testing.assert_array_equal(np.concatenate([b.timestamps_array() for b in mine]), readings.timestamps)
        np.testing.assert_array_equal(np.concatenate([b.values_array() for b in mine]), readings.values)
        for column in METRICS[metric].extra_columns:
            np.testing.assert_array_equal(np.concatenate([b.extra_array(column) for b in mine]), readings.extra[column])
        # Upload model: a batch at sync time t carries the readings after the previous upload, up to t.
        previous = -1
        for batch in mine:
            timestamps = batch.timestamps_array()
            assert timestamps[-1] <= batch.sync_time
            assert timestamps[0] > previous
            previous = batch.sync_time
    assert participant_day.truth.uploads == sorted({b.sync_time for b in batches})


def assert_truth_matches_heart_rate(participant_day: ParticipantDay, day_start: int) -> None:
    hr = participant_day.readings["heart_rate"].timestamps
    truth = participant_day.truth
    assert truth.not_worn == holes(hr, day_start)
    minutes = np.unique((hr - day_start) // MINUTE_MS)
    assert truth.worn_minutes == minutes.size
    for interval in truth.not_worn:
        assert interval.duration_ms >= THRESHOLD_MS
        assert day_start <= interval.start_ms < interval.end_ms <= day_start + DAY_MS
        for metric in ("heart_rate", "sleep_stage", "spo2", "hrv_rmssd"):
            ts = participant_day.readings[metric].timestamps
            assert not np.any((ts > interval.start_ms) & (ts < interval.end_ms)), metric


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32), k=st.integers(1, 3_000), day=st.integers(-5, 500))
def test_batches_and_truth_are_exact_for_any_participant_day(seed: int, k: int, day: int) -> None:
    simulator = CohortSimulator(seed=seed, start=START)
    participant_day = simulator.simulate_day(k, day)
    assert_batches_deliver_exactly_the_readings(participant_day)
    assert_truth_matches_heart_rate(participant_day, day_start_ms(START, day))
    assert simulator.expected_counts(k, day) == {m: len(r) for m, r in participant_day.readings.items()}


def test_cohort_batches_and_truth_are_exact() -> None:
    for index, participant_day in enumerate(cohort_days()):
        assert_batches_deliver_exactly_the_readings(participant_day)
        assert_truth_matches_heart_rate(participant_day, day_start_ms(START, index % 12))


def test_every_delivered_day_has_a_step_and_azm_reading_every_minute_zero_when_not_worn() -> None:
    seen_not_worn = 0
    for index, participant_day in enumerate(cohort_days()):
        if not participant_day.batches:
            continue
        day_start = day_start_ms(START, index % 12)
        for metric in ("steps", "active_zone_minutes"):
            readings = participant_day.readings[metric]
            np.testing.assert_array_equal(readings.timestamps, day_start + MINUTE_MS * np.arange(1440))
        steps = participant_day.readings["steps"].values
        for interval in participant_day.truth.not_worn:
            first = -(-(interval.start_ms + 1 - day_start) // MINUTE_MS)
            last = (interval.end_ms - day_start) // MINUTE_MS
            assert not steps[first:last].any()
            seen_not_worn += last > first
    assert seen_not_worn > 5


def test_failure_modes_occur_in_the_cohort() -> None:
    days = [d for d in cohort_days() if d.batches]
    lengths = [i.duration_ms / 3_600_000 for d in days for i in d.truth.not_worn]
    assert any(0.5 <= h <= 1.7 for h in lengths), "charging"
    assert any(h >= 8 for h in lengths), "forgotten days / nights off"
    late_h = [(b.sync_time - int(b.timestamps_array()[-1])) / 3_600_000 for d in days for b in d.batches]
    assert max(late_h) >= 24, "an upload days late"
    assert sum(h >= 2 for h in late_h) >= 20, "uploads hours late"
    assert np.median(late_h) < 0.5
    assert any(d.truth.not_synced for d in days)


def test_uploads_are_about_every_sync_interval_when_the_phone_is_near() -> None:
    k = find(lambda t: t.sync_interval_s == 900 and t.authorisation == "authorised" and t.enrolment_day <= 0)
    gaps = np.concatenate([np.diff(simulator().simulate_day(k, d).truth.uploads) for d in range(5)]) / 60_000
    assert 10 <= np.median(gaps) <= 20
    assert gaps.min() >= 2


def test_not_synced_truth_marks_long_upload_gaps() -> None:
    threshold = simulator().not_synced_after_s * 1000
    marked = 0
    for index, participant_day in enumerate(cohort_days()):
        day_start = day_start_ms(START, index % 12)
        uploads = participant_day.truth.uploads
        for interval in participant_day.truth.not_synced:
            assert not any(interval.start_ms < u < interval.end_ms for u in uploads)
            assert day_start <= interval.start_ms < interval.end_ms <= day_start + DAY_MS
        # On a delivering day every upload carries steps, so `uploads` lists all of the day's uploads.
        for earlier, later in itertools.pairwise(uploads):
            if later - earlier >= threshold and earlier < day_start + DAY_MS:
                gap = Interval(max(earlier, day_start), min(later, day_start + DAY_MS))
                assert gap in participant_day.truth.not_synced
                marked += 1
    assert marked > 0


def test_never_authorised_participants_produce_nothing() -> None:
    k = find(lambda t: t.authorisation == "never")
    assert simulator().participant_record(k).authorisation == "never"
    for day in range(-2, 40, 3):
        participant_day = simulator().simulate_day(k, day)
        assert participant_day.batches == []
        assert all(len(r) == 0 for r in participant_day.readings.values())
        assert not participant_day.truth.authorised


def test_dropped_out_participants_produce_nothing_from_the_dropout_day() -> None:
    k = find(lambda t: t.dropout_day is not None and t.authorisation == "authorised")
    dropout_day = simulator().traits(k).dropout_day
    assert dropout_day is not None
    last = simulator().simulate_day(k, dropout_day - 1)
    assert last.batches
    assert not last.truth.dropped_out
    assert all(b.sync_time >= 0 for b in last.batches)
    for day in range(dropout_day, dropout_day + 10):
        gone = simulator().simulate_day(k, day)
        assert gone.truth.dropped_out
        assert gone.batches == []
        assert all(len(r) == 0 for r in gone.readings.values())
        assert gone.truth.worn_minutes == 0


def test_expired_authorisation_stops_uploads_from_that_day() -> None:
    k = find(lambda t: t.authorisation in ("expired", "revoked") and t.dropout_day is None)
    until = simulator().traits(k).authorised_until_day
    assert until is not None
    assert simulator().simulate_day(k, until - 1).batches
    assert simulator().simulate_day(k, until - 1).truth.authorised
    after = simulator().simulate_day(k, until)
    assert after.batches == []
    assert not after.truth.authorised


def test_nothing_before_enrolment() -> None:
    k = find(lambda t: t.enrolment_day > 0 and t.authorisation == "authorised")
    enrolment_day = simulator().traits(k).enrolment_day
    before = simulator().simulate_day(k, enrolment_day - 1)
    assert before.batches == []
    assert not before.truth.enrolled
    assert before.truth.not_synced == []
    assert simulator().simulate_day(k, enrolment_day).batches
