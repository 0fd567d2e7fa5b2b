"""NightSignal equals the lab's published procedure on fixtures; the tracker equals the batch on every prefix."""

from __future__ import annotations

import datetime as dt
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream_processors.detectors import NightInput, NightSignalConfig, NightSignalDetector, run_incremental
from stream_processors.resting_hr import night_inputs

D0 = dt.date(2026, 3, 1)
FAITHFUL = NightSignalDetector(NightSignalConfig(faithful=True))


def _night(i: int, value: float) -> NightInput:
    return NightInput(night=D0 + dt.timedelta(days=i), resting_hr=value, resting_hr_lab=int(value), minutes=420)


def _lab_alerts(rows: list[tuple[str, float, int]]) -> dict[str, int]:
    """The lab script's Fitbit branch restated: rows of ("YYYY-MM-DD HH:MM:SS", minute HR, steps) in local
    time; returns {date: 0 | 1 (yellow) | 2 (red)} for every night it scores."""
    per_date: dict[str, list[int]] = {}
    for stamp, hr, steps in rows:
        date, time = stamp.split(" ")
        if steps == 0 and int(time[:2]) < 7:
            per_date.setdefault(date, []).append(int(float(hr)))
    avgs = {d: int(sum(v) / len(v)) for d, v in per_date.items()}
    keys = sorted(avgs)
    days = [dt.date.fromisoformat(k) for k in keys]
    missing: dict[str, int] = {}
    for i in range(1, len(keys) - 1):
        gap_before, gap_after = (days[i] - days[i - 1]).days, (days[i + 1] - days[i]).days
        if gap_after == 1 and gap_before == 2:
            mean = round((avgs[keys[i]] + avgs[keys[i - 1]]) / 2, 1)
            missing.setdefault(str(days[i] - dt.timedelta(days=1)), int(mean))
        if gap_after == 2 and gap_before == 1:
            mean = round((avgs[keys[i]] + avgs[keys[i + 1]]) / 2, 1)
            missing.setdefault(str(days[i] + dt.timedelta(days=1)), int(mean))
    for key, value in missing.items():
        avgs.setdefault(key, value)
    ordered = sorted(avgs)
    medians = {k: int(statistics.median([avgs[j] for j in ordered if j <= k])) for k in ordered}
    reds = [k for k in ordered if avgs[k] >= medians[k] + 4]
    yellows = [k for k in ordered if avgs[k] >= medians[k] + 3]

    def pairs(dates: list[str]) -> list[str]:
        return [
            dates[i + 1]
            for i in range(len(dates) - 1)
            if (dt.date.fromisoformat(dates[i + 1]) - dt.date.fromisoformat(dates[i])).days == 1
        ]

    red_alerts = pairs(reds)
    yellow_alerts = [d for d in pairs(yellows) if d not in red_alerts]
    return {k: 2 if k in red_alerts else 1 if k in yellow_alerts else 0 for k in ordered}


def _rows(nightly_minutes: dict[int, list[float]]) -> tuple[list[tuple[str, float, int]], list[NightInput]]:
    """Night i's minute HRs laid out from 00:00 local of D0 + i (UTC zone), as lab rows and as NightInputs."""
    rows: list[tuple[str, float, int]] = []
    minute_ms: list[int] = []
    hr: list[float] = []
    for i, values in sorted(nightly_minutes.items()):
        midnight = dt.datetime.combine(D0 + dt.timedelta(days=i), dt.time(0), tzinfo=dt.UTC)
        for m, value in enumerate(values):
            at = midnight + dt.timedelta(minutes=m)
            rows.append((at.strftime("%Y-%m-%d %H:%M:%S"), value, 0))
            minute_ms.append(int(at.timestamp()) * 1000)
            hr.append(value)
    inputs = night_inputs(np.array(minute_ms), np.array(hr), np.zeros(len(hr)), "UTC")
    return rows, inputs


def _levels(outcomes: list) -> dict[str, int]:  # type: ignore[type-arg]
    return {str(o.night): {None: 0, "yellow": 1, "red": 2}[o.level] for o in outcomes}


def test_faithful_mode_truncates_each_minute_and_the_mean() -> None:
    rows, inputs = _rows({0: [60.9, 61.9, 61.9]})
    assert inputs[0].resting_hr_lab == int((60 + 61 + 61) / 3) == 60
    assert inputs[0].resting_hr == pytest.approx((60.9 + 61.9 + 61.9) / 3)
    assert _levels(FAITHFUL.batch(inputs)) == _lab_alerts(rows)


def test_red_alert_on_the_second_raised_night_and_yellow_on_plus_three() -> None:
    values = [60, 60, 61, 60, 60, 65, 66, 60, 60, 63, 64, 60]
    outcomes = FAITHFUL.batch([_night(i, v) for i, v in enumerate(values)])
    levels = [o.level for o in outcomes]
    assert levels[6] == "red"
    assert levels[5] is None
    assert levels[10] == "yellow"  # 63 and 64 against a baseline of 60: +3 and +4 → yellow, not red
    assert [o.baseline for o in outcomes][:3] == [60, 60, 60]
    assert levels.count(None) == len(values) - 2


def test_one_missing_night_is_filled_only_beside_a_consecutive_pair() -> None:
    # Night 3 missing between 2 and 4, with 1–2 present: filled with int((70 + 61) / 2) = 65.
    outcomes = FAITHFUL.batch([_night(i, v) for i, v in [(0, 60), (1, 60), (2, 70), (4, 61)]])
    assert [(o.night, o.value, o.filled) for o in outcomes][3] == (D0 + dt.timedelta(days=3), 65, True)
    # An isolated gap (neighbours without present neighbours of their own) stays a gap; so do two missing nights.
    assert len(FAITHFUL.batch([_night(0, 60), _night(2, 60), _night(4, 60)])) == 3
    assert len(FAITHFUL.batch([_night(0, 60), _night(1, 60), _night(4, 60), _night(5, 60)])) == 4


def test_fill_can_complete_a_red_pair_and_the_default_mode_does_not_fill() -> None:
    nights = [_night(i, v) for i, v in [(0, 60), (1, 60), (2, 60), (3, 60), (4, 60), (5, 68), (7, 68), (8, 60)]]
    faithful = {o.night: o for o in FAITHFUL.batch(nights)}
    assert faithful[D0 + dt.timedelta(days=6)].filled
    assert faithful[D0 + dt.timedelta(days=6)].level == "red"
    assert faithful[D0 + dt.timedelta(days=7)].level == "red"
    default = {o.night: o for o in NightSignalDetector().batch(nights)}
    assert D0 + dt.timedelta(days=6) not in default
    assert default[D0 + dt.timedelta(days=7)].level is None


def test_minimum_baseline_and_consecutive_nights_are_configurable() -> None:
    # Medians 45 and 50 after two and three nights: 50 and 56 are both ≥ +4, so night 2 alerts as published.
    nights = [_night(i, v) for i, v in enumerate([40, 50, 56, 56, 56, 56])]
    assert NightSignalDetector().batch(nights)[2].level == "red"
    strict = NightSignalDetector(NightSignalConfig(min_baseline_nights=5))
    assert all(o.level is None for o in strict.batch(nights))
    three = NightSignalDetector(NightSignalConfig(consecutive_nights=3))
    raised = [_night(i, v) for i, v in enumerate([60] * 5 + [66, 66, 66])]
    assert [o.level for o in three.batch(raised)][5:] == [None, None, "red"]
    with pytest.raises(ValueError, match="consecutive_nights"):
        NightSignalConfig(consecutive_nights=0)


_night_values = st.dictionaries(
    st.integers(0, 30), st.floats(45.0, 90.0, allow_nan=False).map(lambda v: round(v, 2)), max_size=24
)


@settings(max_examples=80, deadline=None)
@given(values=_night_values, faithful=st.booleans())
def test_tracker_equals_batch_after_every_night(values: dict[int, float], faithful: bool) -> None:
    detector = NightSignalDetector(NightSignalConfig(faithful=faithful))
    nights = [_night(i, v) for i, v in sorted(values.items())]
    tracker = detector.tracker()
    latest = {}
    for i, night in enumerate(nights):
        for outcome in tracker.push(night):
            latest[outcome.night] = outcome
        assert [latest[d] for d in sorted(latest)] == detector.batch(nights[: i + 1])
    assert run_incremental(detector, nights) == detector.batch(nights)


@settings(max_examples=60, deadline=None)
@given(nights=st.dictionaries(st.integers(0, 25), st.lists(st.floats(40.0, 95.0), min_size=1, max_size=6), max_size=25))
def test_faithful_mode_equals_the_lab_script_on_random_minute_data(nights: dict[int, list[float]]) -> None:
    rows, inputs = _rows(nights)
    assert _levels(FAITHFUL.batch(inputs)) == _lab_alerts(rows)
    assert _levels(run_incremental(FAITHFUL, inputs)) == _lab_alerts(rows)


def test_nights_out_of_order_are_refused() -> None:
    tracker = FAITHFUL.tracker()
    tracker.push(_night(3, 60))
    with pytest.raises(ValueError, match="ascending"):
        tracker.push(_night(3, 61))
