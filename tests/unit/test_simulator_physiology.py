"""Simulated physiology is plausible and consistent: ranges, sampling, AZM from HR zones, sleep, illness."""

from __future__ import annotations

import datetime as dt
from functools import cache
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from producers.simulator import CohortSimulator, ParticipantDay, azm_thresholds_bpm
from producers.simulator.failures import illness_raise_bpm, wear_events
from producers.simulator.grid import MINUTE_MS
from producers.simulator.sleep import night_timing
from producers.simulator.traits import TIMEZONES
from schemas.metrics import METRICS, SleepStage

START = dt.date(2025, 3, 20)
SEED = 11
DAYS = 10


@cache
def simulator() -> CohortSimulator:
    return CohortSimulator(seed=SEED, start=START)


@cache
def cohort_days() -> tuple[ParticipantDay, ...]:
    """Delivering participant-days of the first 40 participants over DAYS days."""
    days = (simulator().simulate_day(k, d) for k in range(1, 41) for d in range(DAYS))
    return tuple(day for day in days if day.batches)


def assert_inside_registry(participant_day: ParticipantDay) -> None:
    for metric, readings in participant_day.readings.items():
        spec = METRICS[metric]
        assert readings.values.dtype == np.dtype(spec.wire_dtype), metric
        assert all(array.size == readings.timestamps.size for array in readings.extra.values()), metric
        assert sorted(readings.extra) == sorted(spec.extra_columns) or not len(readings), metric
        if len(readings):
            values = readings.values.astype(np.float64)
            assert values.min() >= spec.min_value, metric
            assert values.max() <= spec.max_value, metric
            assert np.all(np.diff(readings.timestamps) > 0), f"{metric} timestamps not sorted and unique"


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32), k=st.integers(1, 5_000), day=st.integers(-5, 700))
def test_every_value_lies_inside_the_registry_range(seed: int, k: int, day: int) -> None:
    assert_inside_registry(CohortSimulator(seed=seed, start=START).simulate_day(k, day))


def test_cohort_days_stay_inside_the_registry() -> None:
    for participant_day in cohort_days():
        assert_inside_registry(participant_day)


def test_traits_are_plausible() -> None:
    traits = [simulator().traits(k) for k in range(1, 1001)]
    resting = np.array([t.resting_hr for t in traits])
    assert np.mean((resting >= 50) & (resting <= 85)) > 0.95
    assert all(t.max_hr == 220 - t.age and 18 <= t.age <= 85 for t in traits)
    assert {t.timezone for t in traits} == set(TIMEZONES)
    assert {t.sex for t in traits} == {"female", "male", None}
    statuses = [t.authorisation for t in traits]
    assert statuses.count("authorised") > 800
    assert {"expired", "revoked", "never"} <= set(statuses)
    assert any(t.enrolment_day > 0 for t in traits)
    assert all(t.enrolment_day <= 5 for t in traits)
    t = traits[0]
    assert (t.participant_id, t.contact_email) == ("P0001", "p0001@study.example")
    assert len({x.device_id for x in traits}) == len(traits)


def test_participant_record_reflects_traits_and_status_changes() -> None:
    for k in range(1, 200):
        traits = simulator().traits(k)
        record = simulator().participant_record(k)
        assert (record.participant_id, record.timezone, record.device_id) == (
            traits.participant_id,
            traits.timezone,
            traits.device_id,
        )
        assert record.enrolled_on == traits.enrolled_on
        assert record.authorisation == traits.authorisation
        if traits.authorised_until_day is not None:
            before = simulator().participant_record(k, as_of_day=traits.authorised_until_day - 1)
            assert before.authorisation == "authorised"
            assert record.updated_at > before.updated_at


def test_sleep_lasts_five_to_ten_hours_on_most_nights() -> None:
    durations = np.array(
        [
            (timing.end_ms - timing.onset_ms) / 3_600_000
            for k in range(1, 200)
            for timing in (night_timing(SEED, simulator().traits(k), START, n) for n in range(30))
        ]
    )
    assert np.mean((durations >= 5) & (durations <= 10)) > 0.95
    assert 6.8 < np.median(durations) < 8.2


def test_steps_per_day_mostly_between_2000_and_20000() -> None:
    totals = np.array(
        [int(day.readings["steps"].values.sum()) for day in cohort_days() if day.truth.worn_minutes > 1300]
    )
    assert totals.size > 200
    assert np.mean((totals >= 2000) & (totals <= 20000)) > 0.85


def test_heart_rate_is_whole_bpm_sampled_every_second_when_moving_and_about_5_s_when_still() -> None:
    day = next(d for d in cohort_days() if d.truth.worn_minutes == 1440)
    hr = day.readings["heart_rate"]
    day_start = int(day.readings["steps"].timestamps[0])
    steps = np.asarray(day.readings["steps"].values, dtype=np.float64)
    minute = (hr.timestamps - day_start) // MINUTE_MS
    gaps = np.diff(hr.timestamps) // 1000
    same_minute = minute[1:] == minute[:-1]
    moving = same_minute & (steps[minute[1:]] > 0)
    still = same_minute & (steps[minute[1:]] == 0)
    assert np.median(gaps[moving]) == 1
    assert np.median(gaps[still]) == 5
    assert np.percentile(gaps[still], 95) <= 10
    assert gaps[still].max() <= 20
    assert np.all(hr.timestamps % 1000 == 0)
    assert 15_000 <= len(hr) <= 45_000
    assert hr.values.dtype == np.int16


def test_heart_rate_follows_steps_and_sleep() -> None:
    for day in cohort_days()[:40]:
        hr, steps = day.readings["heart_rate"], day.readings["steps"]
        day_start = int(steps.timestamps[0])
        minute = (hr.timestamps - day_start) // MINUTE_MS
        brisk = np.asarray(steps.values, dtype=np.float64)[minute] >= 110
        stages = day.readings["sleep_stage"]
        asleep = np.isin((hr.timestamps - hr.timestamps % 30_000), stages.timestamps[stages.values != SleepStage.WAKE])
        if brisk.sum() > 600 and asleep.sum() > 600:
            assert hr.values[brisk].mean() > hr.values[asleep].mean() + 20


def test_active_zone_minutes_agree_with_the_heart_rate_of_each_minute() -> None:
    credited = 0
    for day in cohort_days():
        traits = simulator().traits(int(day.participant_id[1:]))
        fat_burn, cardio = azm_thresholds_bpm(traits)
        assert fat_burn < cardio <= traits.max_hr
        hr, azm = day.readings["heart_rate"], day.readings["active_zone_minutes"]
        day_start = int(azm.timestamps[0])
        minute = (hr.timestamps - day_start) // MINUTE_MS
        total = np.bincount(minute, weights=hr.values.astype(np.int64), minlength=1440)
        count = np.bincount(minute, minlength=1440)
        mean = np.divide(total, count, out=np.zeros(1440), where=count > 0)
        expected = np.where(count == 0, 0, np.where(mean >= cardio, 2, np.where(mean >= fat_burn, 1, 0)))
        np.testing.assert_array_equal(azm.values, expected)
        credited += int(azm.values.astype(np.int64).sum())
        # Zone minutes come from activity: nearly all have steps in that minute or the one before.
        active = np.asarray(azm.values, dtype=np.float64) > 0
        stepped = np.asarray(day.readings["steps"].values, dtype=np.float64) > 0
        stepping = stepped | np.roll(stepped, 1)
        assert np.mean(stepping[active]) > 0.9 if active.sum() > 10 else True
    assert credited > 0


def test_sleep_architecture_has_cycles_deep_early_rem_late_and_brief_wakes() -> None:
    deep_positions, rem_positions, fractions = [], [], []
    for n in range(20):
        night = simulator().night(2, n)
        stages = night.stages
        position = np.arange(stages.size) / stages.size
        deep_positions.append(position[stages == SleepStage.DEEP].mean())
        rem_positions.append(position[stages == SleepStage.REM].mean())
        fractions.append(np.bincount(stages, minlength=4) / stages.size)
        transitions_to_rem = np.count_nonzero((stages[1:] == SleepStage.REM) & (stages[:-1] != SleepStage.REM))
        assert transitions_to_rem >= 3
        assert np.all(np.diff(night.epoch_ts) == 30_000)
        assert night.timing.onset_ms % MINUTE_MS == 0
    assert np.mean(deep_positions) < 0.4 < 0.55 < np.mean(rem_positions)
    wake, light, deep, rem = np.mean(fractions, axis=0)
    assert 0.03 < wake < 0.15
    assert 0.45 < light < 0.7
    assert 0.1 < deep < 0.25
    assert 0.15 < rem < 0.3


def test_sleep_metrics_only_during_recorded_sleep() -> None:
    for day in cohort_days()[:80]:
        spans = day.truth.sleep
        for metric in ("sleep_stage", "spo2", "hrv_rmssd"):
            ts = day.readings[metric].timestamps
            inside = np.zeros(ts.size, dtype=bool)
            for span in spans:
                inside |= (ts >= span.start_ms) & (ts < span.end_ms)
            assert inside.all(), metric
        spo2 = np.asarray(day.readings["spo2"].values, dtype=np.float64)
        assert np.allclose(spo2 * 10, np.round(spo2 * 10), atol=1e-3)
        if spo2.size:
            assert np.mean((spo2 >= 90) & (spo2 <= 100)) > 0.97
        assert np.all(day.readings["hrv_rmssd"].timestamps % (5 * MINUTE_MS) == 0)
        coverage = day.readings["hrv_rmssd"].extra["coverage"]
        assert np.all((coverage > 0) & (coverage <= 1))
        breathing = day.readings["breathing_rate"]
        ends = {span.end_ms for span in spans}
        assert {int(ts - ts % 30_000) for ts in breathing.timestamps} <= ends
        assert breathing.extra["stage"].tolist() == [-1.0, 1.0, 2.0, 3.0] * (len(breathing) // 4)


def _ill_participant() -> tuple[int, list[int]]:
    for k in range(1, 400):
        traits = simulator().traits(k)
        if traits.enrolment_day > 0 or traits.authorisation != "authorised" or traits.dropout_day is not None:
            continue
        ill = [
            n
            for n in range(1, 50)
            if illness_raise_bpm(SEED, traits, n) > 0 and wear_events(SEED, traits, n).night_worn
        ]
        if len(ill) >= 3:
            return k, ill
    raise AssertionError("no participant with an illness episode")


def test_illness_raises_sleeping_heart_rate_by_4_to_8_bpm() -> None:
    k, ill_nights = _ill_participant()
    traits = simulator().traits(k)
    days = {d: simulator().simulate_day(k, d) for d in range(0, 52)}
    hr_ts = np.concatenate([day.readings["heart_rate"].timestamps for day in days.values()])
    hr = np.concatenate([day.readings["heart_rate"].values for day in days.values()]).astype(np.float64)
    level: dict[int, float] = {}
    for n in range(1, 50):
        night = simulator().night(k, n)
        light = night.epoch_ts[night.stages == SleepStage.LIGHT]
        samples = hr[np.isin(hr_ts - hr_ts % 30_000, light)]
        if samples.size > 200:
            level[n] = float(samples.mean())
    healthy = np.median([v for n, v in level.items() if n not in ill_nights])
    for n in ill_nights:
        raise_bpm = illness_raise_bpm(SEED, traits, n)
        assert 4.0 <= raise_bpm <= 8.0
        assert raise_bpm - 3.0 < level[n] - healthy < raise_bpm + 3.0
        timing = night_timing(SEED, traits, START, n)
        flagged = [d for d, day in days.items() if day.truth.illness]
        assert any(span.start_ms == timing.onset_ms for d in flagged for span in days[d].truth.sleep)
    assert all(days[d].truth.illness_raise_bpm == 0.0 for d in days if not days[d].truth.illness)


@pytest.mark.parametrize("timezone", TIMEZONES)
def test_sleep_happens_at_local_night(timezone: str) -> None:
    k = next(k for k in range(1, 2000) if simulator().traits(k).timezone == timezone)
    traits = simulator().traits(k)
    for n in range(0, 30, 3):
        timing = night_timing(SEED, traits, START, n)
        onset = dt.datetime.fromtimestamp(timing.onset_ms / 1000, tz=ZoneInfo(timezone))
        assert onset.hour >= 19 or onset.hour <= 3
        assert onset.date() in (START + dt.timedelta(days=n), START + dt.timedelta(days=n + 1))
