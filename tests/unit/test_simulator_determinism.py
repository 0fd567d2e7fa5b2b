"""The cohort simulator is a pure function of (seed, start, k, day): no dependence on cohort size or day order."""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producers.simulator import CohortSimulator, ParticipantDay
from producers.simulator.grid import DAY_MS, day_start_ms
from producers.simulator.sleep import night_timing
from producers.simulator.traits import delivers_on
from schemas.metrics import METRICS
from schemas.readings import make_batch

START = dt.date(2025, 3, 20)  # Europe switches to summer time on day 10, the US is already on it


def assert_same_day(left: ParticipantDay, right: ParticipantDay) -> None:
    assert left.participant_id == right.participant_id
    assert left.day == right.day
    assert left.truth == right.truth
    assert [(b.batch_id, b.sync_time, b.metric) for b in left.batches] == [
        (b.batch_id, b.sync_time, b.metric) for b in right.batches
    ]
    assert left.batches == right.batches
    for metric in METRICS:
        a, b = left.readings[metric], right.readings[metric]
        np.testing.assert_array_equal(a.timestamps, b.timestamps)
        np.testing.assert_array_equal(a.values, b.values)
        assert a.values.dtype == b.values.dtype
        assert a.extra.keys() == b.extra.keys()
        for column in a.extra:
            np.testing.assert_array_equal(a.extra[column], b.extra[column])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), k=st.integers(1, 10_000), day=st.integers(-3, 400))
def test_same_seed_gives_identical_days_and_batch_ids(seed: int, k: int, day: int) -> None:
    first = CohortSimulator(seed=seed, start=START).simulate_day(k, day)
    second = CohortSimulator(seed=seed, start=START).simulate_day(k, day)
    assert_same_day(first, second)


def test_batch_ids_are_the_deterministic_ids_of_their_content() -> None:
    simulator = CohortSimulator(seed=5, start=START)
    batches = [b for k in range(1, 6) for b in simulator.simulate_day(k, 2).batches]
    assert batches
    for batch in batches[::7]:
        rebuilt = make_batch(
            participant_id=batch.participant_id,
            metric=batch.metric,
            device_id=batch.device_id,
            sync_time=batch.sync_time,
            timestamps=batch.timestamps_array(),
            values=batch.values_array(),
            extra={column: batch.extra_array(column) for column in batch.extra} or None,
            timezone=batch.timezone,
        )
        assert rebuilt == batch
        assert batch.timezone == simulator.traits(int(batch.participant_id[1:])).timezone
    assert len({b.batch_id for b in batches}) == len(batches)


def test_different_seeds_give_different_cohorts() -> None:
    a = CohortSimulator(seed=1, start=START)
    b = CohortSimulator(seed=2, start=START)
    assert [a.traits(k).resting_hr for k in range(1, 20)] != [b.traits(k).resting_hr for k in range(1, 20)]


def test_participant_does_not_depend_on_cohort_size_or_order() -> None:
    small = CohortSimulator(seed=42, start=START)
    small_days = {(k, d): small.simulate_day(k, d) for k in range(1, 4) for d in range(3)}
    large = CohortSimulator(seed=42, start=START)
    large_days = {(k, d): large.simulate_day(k, d) for k in range(50, 0, -1) for d in (2, 0, 1)}
    for key, participant_day in small_days.items():
        assert_same_day(participant_day, large_days[key])
    assert small.traits(3) == large.traits(3)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), k=st.integers(1, 500), day=st.integers(1, 120))
def test_day_does_not_depend_on_which_days_were_simulated_before(seed: int, k: int, day: int) -> None:
    fresh = CohortSimulator(seed=seed, start=START).simulate_day(k, day)
    warmed = CohortSimulator(seed=seed, start=START)
    for earlier in (day - 1, day + 1, day - 5):
        warmed.simulate_day(k, earlier)
    assert_same_day(fresh, warmed.simulate_day(k, day))


def test_night_spanning_midnight_is_the_same_night_on_both_days() -> None:
    """London/Berlin nights cross 00:00 UTC: the two days' parts join into exactly the full night."""
    simulator = CohortSimulator(seed=3, start=START)
    replay_start = day_start_ms(START, 0)
    checked = 0
    for k in range(1, 200):
        traits = simulator.traits(k)
        if traits.timezone not in ("Europe/London", "Europe/Berlin"):
            continue
        for n in range(12):
            timing = night_timing(simulator.seed, traits, START, n)
            second_day = (timing.end_ms - replay_start) // DAY_MS
            midnight = day_start_ms(START, second_day)
            if not timing.onset_ms < midnight < timing.end_ms:
                continue
            if not (delivers_on(traits, second_day - 1) and delivers_on(traits, second_day)):
                continue
            # Simulated in the "wrong" order, by separate simulators: no state may leak between days.
            second = simulator.simulate_day(k, second_day)
            first = CohortSimulator(seed=3, start=START).simulate_day(k, second_day - 1)
            night = simulator.night(k, n).readings()
            parts = {
                metric: [
                    day.readings[metric].select(
                        (day.readings[metric].timestamps >= timing.onset_ms)
                        & (day.readings[metric].timestamps < timing.end_ms)
                    )
                    for day in (first, second)
                ]
                for metric in ("sleep_stage", "spo2", "hrv_rmssd")
            }
            if not len(parts["sleep_stage"][0]) + len(parts["sleep_stage"][1]):
                continue  # the device was off that night
            for metric, (before, after) in parts.items():
                assert len(before), metric
                assert len(after), metric
                np.testing.assert_array_equal(
                    np.concatenate([before.timestamps, after.timestamps]), night[metric].timestamps
                )
                np.testing.assert_array_equal(np.concatenate([before.values, after.values]), night[metric].values)
            # The 30 s epoch grid runs on across midnight without a hole or an overlap.
            assert parts["sleep_stage"][1].timestamps[0] - parts["sleep_stage"][0].timestamps[-1] == 30_000
            checked += 1
            if checked >= 6:
                return
    raise AssertionError(f"only {checked} nights across midnight found")
