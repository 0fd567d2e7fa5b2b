"""CuSum on fixtures (quiet baseline, a sustained rise, a short blip) and tracker = batch."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream_processors.detectors import CusumConfig, CusumDetector, NightInput, run_incremental

D0 = dt.date(2026, 3, 1)


def _day(i: int, hourly: np.ndarray) -> NightInput:
    return NightInput(
        night=D0 + dt.timedelta(days=i), resting_hr=60.0, resting_hr_lab=60, minutes=420, hourly=tuple(hourly.tolist())
    )


def _cohort(raise_bpm: dict[int, float], days: int = 50, seed: int = 3) -> list[NightInput]:
    rng = np.random.default_rng(seed)
    shape = 60.0 + 8.0 * np.sin(np.arange(24) / 24 * 2 * np.pi)
    return [_day(i, shape + rng.normal(0.0, 2.0, 24) + raise_bpm.get(i, 0.0)) for i in range(days)]


def test_quiet_baseline_rarely_alerts_and_a_sustained_rise_turns_red() -> None:
    detector = CusumDetector()
    quiet = detector.batch(_cohort({}))
    assert all(o.value is None for o in quiet[:14])  # no hour has 14 baseline days yet
    assert sum(o.level is not None for o in quiet[14:]) <= 3
    assert all(o.level != "red" for o in quiet)
    raised = {i: 6.0 for i in range(40, 46)}
    outcomes = {o.night: o for o in detector.batch(_cohort(raised))}
    levels = [outcomes[D0 + dt.timedelta(days=i)].level for i in range(40, 46)]
    assert levels[0] in ("yellow", "red")
    assert "red" in levels
    first = outcomes[D0 + dt.timedelta(days=41)]
    assert first.value is not None
    assert first.baseline is not None
    assert first.value > first.baseline


def test_a_single_hour_blip_is_not_red() -> None:
    nights = _cohort({})
    blip = np.array(nights[35].hourly)
    blip[3] += 40.0
    nights[35] = _day(35, blip)
    assert CusumDetector().batch(nights)[35].level != "red"


def test_days_without_hourly_values_carry_nothing_and_wrong_lengths_are_refused() -> None:
    nights = _cohort({}, days=30)
    nights[20] = NightInput(night=nights[20].night, resting_hr=60.0, resting_hr_lab=60, minutes=420)
    assert CusumDetector().batch(nights)[20].level is None
    with pytest.raises(ValueError, match="24 values"):
        CusumDetector().tracker().push(
            NightInput(night=D0, resting_hr=60.0, resting_hr_lab=60, minutes=1, hourly=(60.0,))
        )
    with pytest.raises(ValueError, match="min_baseline_days"):
        CusumConfig(min_baseline_days=40)


@settings(max_examples=40, deadline=None)
@given(
    present=st.lists(st.booleans(), min_size=20, max_size=60),
    raised=st.dictionaries(st.integers(0, 59), st.floats(0.0, 15.0), max_size=10),
    seed=st.integers(0, 1000),
    sustained=st.integers(3, 24),
)
def test_tracker_equals_batch(present: list[bool], raised: dict[int, float], seed: int, sustained: int) -> None:
    nights = [n for n, keep in zip(_cohort(raised, days=len(present), seed=seed), present, strict=True) if keep]
    detector = CusumDetector(CusumConfig(min_baseline_days=7, sustained_hours=sustained))
    assert run_incremental(detector, nights) == detector.batch(nights)
