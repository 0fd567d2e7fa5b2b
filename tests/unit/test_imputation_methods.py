"""The imputation methods on series with known answers, and the grid's local minutes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from stream_processors.imputation import (
    Fill,
    Linear,
    MinuteSeries,
    NeighbourMean,
    NeighbourMedian,
    ProfileMethod,
    Skipped,
    local_minutes,
    method_named,
    minute_grid,
)

DAY = 1440
START_MS = int(dt.datetime(2026, 1, 5, tzinfo=dt.UTC).timestamp() * 1000)


def series(values: np.ndarray, steps: np.ndarray | None = None, low: float = 0, high: float = 300) -> MinuteSeries:
    local = START_MS // 60_000 + np.arange(len(values), dtype=np.int64)
    return MinuteSeries(start_ms=START_MS, values=values.astype(float), local=local, low=low, high=high, steps=steps)


def filled(result: Fill | Skipped) -> Fill:
    assert isinstance(result, Fill), result
    return result


def test_neighbour_mean_is_the_mean_of_both_sides_with_a_new_observations_error() -> None:
    values = np.full(300, np.nan)
    values[40:100], values[110:170] = 10.0, 20.0
    fill = filled(NeighbourMean().fill(series(values), 100, 110))
    assert fill.values == pytest.approx(np.full(10, 15.0))
    sd = np.concatenate([np.full(60, 10.0), np.full(60, 20.0)]).std(ddof=1)
    assert fill.std_error == pytest.approx(np.full(10, sd * np.sqrt(1 + 1 / 120)))
    assert fill.lower == pytest.approx(15 - 1.959963984540054 * fill.std_error)


def test_neighbour_median_ignores_an_outlier_and_its_interval_is_the_neighbours_quantiles() -> None:
    values = np.full(300, np.nan)
    values[90:100] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 250]
    fill = filled(NeighbourMedian(window=10).fill(series(values), 100, 120))
    assert fill.values == pytest.approx(np.full(20, 5.5))
    low, high = np.quantile(values[90:100], [0.025, 0.975])
    assert fill.lower[0] == pytest.approx(low)
    assert fill.upper[0] == pytest.approx(high)


def test_linear_joins_the_edges() -> None:
    values = np.full(300, np.nan)
    values[50:100], values[109:150] = 10.0, 20.0
    fill = filled(Linear().fill(series(values), 100, 109))
    assert fill.values == pytest.approx(np.arange(11.0, 20.0))
    assert fill.std_error == pytest.approx(np.zeros(9))


def test_linear_is_flat_with_one_side() -> None:
    values = np.full(300, np.nan)
    values[50:100] = 42.0
    assert filled(Linear().fill(series(values), 100, 130)).values == pytest.approx(np.full(30, 42.0))


@pytest.mark.parametrize("method", [NeighbourMean(), NeighbourMedian(), Linear(), ProfileMethod()])
def test_a_gap_longer_than_the_valid_range_is_left_empty_and_said_so(method: NeighbourMean) -> None:
    values = np.full(3 * DAY, 50.0)
    result = method.fill(series(values), 10, 11 + method.max_gap_minutes)
    assert isinstance(result, Skipped)
    assert "longer than" in result.reason
    assert str(method.max_gap_minutes) in result.reason


@pytest.mark.parametrize("method", [NeighbourMean(), NeighbourMedian(), Linear()])
def test_a_gap_without_neighbours_is_left_empty(method: NeighbourMean) -> None:
    values = np.full(600, np.nan)
    values[:10] = 50.0
    result = method.fill(series(values), 200, 300)
    assert isinstance(result, Skipped)
    assert "fewer than 2 observed minutes" in result.reason


def daily(days: int) -> np.ndarray:
    """60 bpm at midnight rising by 1 bpm every 10 minutes, every day."""
    return np.tile(60 + np.arange(DAY) / 10, days)


def test_profile_recovers_the_time_of_day_pattern_from_other_days() -> None:
    values = daily(7)
    truth = values[3 * DAY + 360 : 3 * DAY + 720].copy()
    values[3 * DAY + 360 : 3 * DAY + 720] = np.nan
    fill = filled(ProfileMethod(tau=1e-3).fill(series(values), 3 * DAY + 360, 3 * DAY + 720))
    # The first and last minutes take the neighbours' median; every other minute is the profile.
    assert fill.values[1:-1] == pytest.approx(truth[1:-1])
    assert fill.values[0] == pytest.approx(
        np.median(np.concatenate([values[3 * DAY + 300 : 3 * DAY + 360], values[3 * DAY + 720 : 3 * DAY + 780]]))
    )
    assert (fill.lower <= fill.values).all()
    assert (fill.values <= fill.upper).all()


def test_profile_blends_towards_the_neighbours_near_the_edges() -> None:
    values = daily(7)
    values[3 * DAY + 300 : 3 * DAY + 360] += 30  # this day runs high just before the gap
    values[3 * DAY + 360 : 3 * DAY + 720] = np.nan
    fill = filled(ProfileMethod().fill(series(values), 3 * DAY + 360, 3 * DAY + 720))
    profile = daily(1)[360:720]
    lift = fill.values - profile
    assert lift[0] > lift[60] > lift[180] > 0
    assert lift[180] < 0.5 * lift[0]


def test_profile_conditions_heart_rate_on_steps_where_the_gap_has_them() -> None:
    days = 8
    steps = np.zeros(days * DAY)
    hr = np.full(days * DAY, 60.0)
    for d in range(0, days, 2):  # every other day active at 12:00 – 14:00
        steps[d * DAY + 720 : d * DAY + 840] = 100
        hr[d * DAY + 720 : d * DAY + 840] = 110
    gap = slice(5 * DAY + 720, 5 * DAY + 840)  # day 5 was at rest, but the gap's steps say active
    hr[gap] = np.nan
    steps[gap] = 100
    method = ProfileMethod(tau=1e-3)
    with_steps = filled(method.fill(series(hr, steps=steps), gap.start, gap.stop))
    assert with_steps.values[10:-10] == pytest.approx(np.full(100, 110.0))
    steps[gap] = 0  # a not-worn gap records zeros: no evidence, the profile alone
    without = filled(method.fill(series(hr, steps=steps), gap.start, gap.stop))
    assert without.values[10:-10].min() >= 60
    assert (without.values[10:-10] < 110).any()


def test_profile_needs_enough_other_days() -> None:
    values = daily(3)
    values[DAY + 360 : DAY + 720] = np.nan
    result = ProfileMethod().fill(series(values), DAY + 360, DAY + 720)
    assert isinstance(result, Skipped)
    assert "fewer than 3 other days" in result.reason
    assert isinstance(ProfileMethod(min_days=2).fill(series(values), DAY + 360, DAY + 720), Fill)


def test_fills_stay_inside_the_valid_range() -> None:
    values = np.full(300, np.nan)
    values[40:100] = 100.0
    fill = filled(NeighbourMean().fill(series(values, low=0, high=100), 100, 110))
    assert fill.upper.max() <= 100
    assert fill.values.max() <= 100


def test_method_named_knows_every_method_and_names_them_when_not() -> None:
    for name in ("neighbour_mean", "neighbour_median", "linear", "profile", "bridge"):
        assert method_named(name).name == name
    with pytest.raises(ValueError, match="known: neighbour_mean, neighbour_median, linear, profile, bridge"):
        method_named("kalman")


def test_local_minutes_follow_the_clock_change() -> None:
    change = int(dt.datetime(2026, 3, 29, 0, 59, tzinfo=dt.UTC).timestamp() * 1000)  # London: 01:00 → 02:00
    local = local_minutes(change, 2, "Europe/London")
    assert local[1] - local[0] == 61
    assert local_minutes(START_MS, 3, "America/New_York")[0] == START_MS // 60_000 - 5 * 60


def test_minute_grid_places_minutes_and_leaves_the_rest_missing() -> None:
    grid = minute_grid(
        START_MS, START_MS + 5 * 60_000, np.array([START_MS + 60_000, START_MS + 9 * 60_000]), np.array([7.0, 8.0])
    )
    assert np.isnan(grid[[0, 2, 3, 4]]).all()
    assert grid[1] == 7.0


def test_a_series_rejects_misaligned_input() -> None:
    with pytest.raises(ValueError, match="not on a minute"):
        MinuteSeries(start_ms=START_MS + 1, values=np.zeros(2), local=np.zeros(2, dtype=np.int64), low=0, high=1)
    with pytest.raises(ValueError, match="one entry per minute"):
        MinuteSeries(start_ms=START_MS, values=np.zeros(2), local=np.zeros(3, dtype=np.int64), low=0, high=1)
