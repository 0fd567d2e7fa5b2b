"""The bridge method and its models on series with known answers: the AR(1) bridge against its closed form, the
fit on a simulated AR(1) with noise, the walking chain's bridge probabilities on a hand-computed chain, the
mixture median, and the method's fills."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from stream_processors.imputation import BridgeMethod, Fill, MinuteSeries, Skipped, method_named
from stream_processors.imputation.ou import Ar1, bridge, fit_ar1
from stream_processors.imputation.walking import Chain, bridge_probability, fit_chain, mixture_quantiles

DAY = 1440
START_MS = int(dt.datetime(2026, 1, 5, tzinfo=dt.UTC).timestamp() * 1000)


def series(values: np.ndarray, metric: str, steps: np.ndarray | None = None, high: float = 250) -> MinuteSeries:
    local = START_MS // 60_000 + np.arange(len(values), dtype=np.int64)
    return MinuteSeries(
        start_ms=START_MS, values=values.astype(float), local=local, low=0, high=high, steps=steps, metric=metric
    )


def filled(result: Fill | Skipped) -> Fill:
    assert isinstance(result, Fill), result
    return result


def test_the_noise_free_bridge_is_the_closed_form_conditional_mean() -> None:
    phi, n, a, b = 0.9, 10, 5.0, -3.0
    mean, variance = bridge(Ar1(phi=phi, state_var=4.0, noise_var=0.0), n, a, b)
    i = np.arange(1, n + 1)
    m = n + 1  # the edge readings sit one minute outside the gap
    expected = (phi**i * (1 - phi ** (2 * (m - i))) * a + phi ** (m - i) * (1 - phi ** (2 * i)) * b) / (
        1 - phi ** (2 * m)
    )
    assert mean == pytest.approx(expected)
    expected_var = 4.0 * (1 - phi ** (2 * i)) * (1 - phi ** (2 * (m - i))) / (1 - phi ** (2 * m))
    assert variance == pytest.approx(expected_var)


def test_one_edge_decays_geometrically_and_no_edge_is_the_stationary_mean() -> None:
    model = Ar1(phi=0.8, state_var=2.0, noise_var=0.0)
    mean, variance = bridge(model, 5, 10.0, None)
    assert mean == pytest.approx(10.0 * 0.8 ** np.arange(1, 6))
    assert variance == pytest.approx(2.0 * (1 - 0.8 ** (2 * np.arange(1, 6))))
    right, _ = bridge(model, 5, None, 10.0)
    assert right == pytest.approx(mean[::-1])
    none, stationary = bridge(model, 3, None, None)
    assert none == pytest.approx(np.zeros(3))
    assert stationary == pytest.approx(np.full(3, 2.0))


def test_a_noisy_edge_reading_is_shrunk_towards_the_mean() -> None:
    model = Ar1(phi=0.9, state_var=1.0, noise_var=1.0)
    exact, _ = bridge(model, 4, 6.0, None)
    noisy, _ = bridge(model, 4, 6.0, None, left_var=1.0)
    assert noisy == pytest.approx(exact / 2)  # gain s² / (s² + err) = 1/2


def test_fit_recovers_phi_and_the_noise_share_of_an_ar1_with_noise() -> None:
    rng = np.random.default_rng(5)
    phi, state_sd, noise_sd = 0.9, 3.0, 1.0
    state = np.empty(60_000)
    state[0] = 0.0
    shocks = rng.normal(0, state_sd * np.sqrt(1 - phi**2), len(state))
    for t in range(1, len(state)):
        state[t] = phi * state[t - 1] + shocks[t]
    observed = state + rng.normal(0, noise_sd, len(state))
    observed[rng.random(len(state)) < 0.2] = np.nan  # missing minutes
    model = fit_ar1(observed, max_lag=20)
    assert model is not None
    assert model.phi == pytest.approx(phi, abs=0.01)
    assert model.state_var == pytest.approx(state_sd**2, rel=0.1)
    assert model.noise_var == pytest.approx(noise_sd**2, rel=0.25)
    assert fit_ar1(np.full(100, np.nan)) is None


def test_the_walking_bridge_matches_a_hand_computed_chain() -> None:
    chain = Chain(start_walking=0.1, stop_walking=0.2)  # P = [[0.9, 0.1], [0.2, 0.8]]
    assert chain.walking_share == pytest.approx(1 / 3)
    # Walking one minute before, nothing known after: P(walking) after 1, 2 minutes is 0.8, 0.8·0.8 + 0.2·0.1.
    assert bridge_probability(chain, 2, 1, None) == pytest.approx([0.8, 0.66])
    # Walking before, still after a one-minute gap: walking 0.8 · 0.2 against still 0.2 · 0.9.
    assert bridge_probability(chain, 1, 1, 0) == pytest.approx([0.16 / 0.34])
    # Neither edge known: the stationary share throughout.
    assert bridge_probability(chain, 3, None, None) == pytest.approx(np.full(3, 1 / 3))


def test_the_chain_is_fitted_from_consecutive_observed_minutes() -> None:
    walking = np.array([0, 0, 0, 1, 1, 1, np.nan, 1, 0, 0])
    chain = fit_chain(walking, prior=0.0)
    # still → : 0→0, 0→0, 0→1, 0→0 (the 1→nan and nan→1 pairs are not counted): 1 of 4 start walking
    assert chain.start_walking == pytest.approx(1 / 4)
    # walking → : 1→1, 1→1, 1→0: 1 of 3 stop
    assert chain.stop_walking == pytest.approx(1 / 3)


def test_the_mixture_median_is_the_walking_count_only_where_walking_is_more_likely() -> None:
    grid = np.arange(0.0, 301.0)
    walks, still = np.full(50, 110.0), np.zeros(50)
    q, sd = mixture_quantiles(np.array([0.6, 0.4, 0.0]), walks, still, grid, np.array([0.025, 0.5, 0.975]))
    assert q[:, 1] == pytest.approx([110.0, 0.0, 0.0])
    assert q[0] == pytest.approx([0.0, 110.0, 110.0])
    assert sd == pytest.approx([110 * np.sqrt(0.24), 110 * np.sqrt(0.24), 0.0])


def walking_days(days: int) -> np.ndarray:
    """Still (0 steps) except a 40-minute walk at 110 steps/min at 09:00 on every even day."""
    steps = np.zeros(days * DAY)
    for d in range(0, days, 2):
        steps[d * DAY + 540 : d * DAY + 580] = 110
    return steps


def test_steps_carry_a_walk_under_way_at_the_edge_then_fall_to_zero() -> None:
    steps = walking_days(8)
    truth = steps.copy()
    gap = (4 * DAY + 550, 4 * DAY + 610)  # a walk that started at 09:00 is under way at the gap
    steps[gap[0] : gap[1]] = np.nan
    fill = filled(BridgeMethod().fill(series(steps, "steps", high=300), *gap))
    # 40-minute walks: P(stop) ≈ 1/40 a minute, so walking stays more likely than not for ~27 minutes.
    assert fill.values[:20] == pytest.approx(np.full(20, 110.0))
    assert fill.values[40:] == pytest.approx(np.zeros(20))
    assert (fill.lower <= fill.values).all()
    assert (fill.values <= fill.upper).all()
    assert np.abs(fill.values - truth[gap[0] : gap[1]]).mean() < np.abs(truth[gap[0] : gap[1]]).mean()


def test_steps_away_from_any_walk_are_zero() -> None:
    steps = walking_days(8)
    steps[3 * DAY + 700 : 3 * DAY + 760] = np.nan
    fill = filled(BridgeMethod().fill(series(steps, "steps", high=300), 3 * DAY + 700, 3 * DAY + 760))
    assert fill.values == pytest.approx(np.zeros(60))


def daily(days: int) -> np.ndarray:
    """60 bpm at midnight rising by 1 bpm every 10 minutes, every day."""
    return np.tile(60 + np.arange(DAY) / 10, days)


def test_heart_rate_without_deviations_is_the_time_of_day_profile() -> None:
    values = daily(7)
    truth = values[3 * DAY + 360 : 3 * DAY + 720].copy()
    values[3 * DAY + 360 : 3 * DAY + 720] = np.nan
    fill = filled(BridgeMethod().fill(series(values, "heart_rate"), 3 * DAY + 360, 3 * DAY + 720))
    # The profile is the median within ± 15 minutes over the days: the pattern itself, as the ramp is linear
    # (to within 0.1 bpm near the edges, where the gap's own day adds minutes on one side only).
    assert fill.values == pytest.approx(truth, abs=0.1)
    assert fill.values[20:-20] == pytest.approx(truth[20:-20])


def test_heart_rate_carries_an_edge_deviation_and_fades_back_to_the_profile() -> None:
    rng = np.random.default_rng(2)
    values = daily(10)
    deviation = np.zeros(len(values))
    for t in range(1, len(values)):  # an AR(1) deviation, φ = 0.95, so the fit has something to find
        deviation[t] = 0.95 * deviation[t - 1] + rng.normal(0, 1.0)
    values = values + deviation
    start, end = 5 * DAY + 600, 5 * DAY + 840
    values[start - 2 : start] = daily(1)[598:600] + 12  # the minutes before the gap run 12 bpm high
    values[start:end] = np.nan
    fill = filled(BridgeMethod().fill(series(values, "heart_rate"), start, end))
    profile = daily(1)[600:840]
    lift = fill.values - profile
    assert lift[0] > 8
    assert lift[0] > lift[10] > lift[30]
    assert abs(lift[120]) < 3
    assert (fill.std_error[1:120] >= fill.std_error[0]).all()


def test_heart_rate_is_conditioned_on_steps_where_the_gap_has_them() -> None:
    days = 8
    steps = np.zeros(days * DAY)
    hr = np.full(days * DAY, 60.0)
    for d in (0, 2):  # two days active at 12:00 – 14:00: the profile there is at rest
        steps[d * DAY + 720 : d * DAY + 840] = 100
        hr[d * DAY + 720 : d * DAY + 840] = 110
    gap = (5 * DAY + 720, 5 * DAY + 840)  # the gap's steps say day 5 was active
    hr[gap[0] : gap[1]] = np.nan
    steps[gap[0] : gap[1]] = 100
    with_steps = filled(BridgeMethod().fill(series(hr, "heart_rate", steps=steps), *gap))
    # 60 bpm profile + the median residual of minutes at ≥ 100 recent steps (+50)
    assert with_steps.values[2:] == pytest.approx(np.full(118, 110.0))
    steps[gap[0] : gap[1]] = 0  # a not-worn gap records zeros: no evidence of activity
    without = filled(BridgeMethod().fill(series(hr, "heart_rate", steps=steps), *gap))
    assert without.values == pytest.approx(np.full(120, 60.0))


def test_bridge_leaves_too_long_or_unfittable_gaps_empty_and_says_why() -> None:
    values = np.full(3 * DAY, 70.0)
    too_long = BridgeMethod().fill(series(values, "heart_rate"), 10, 11 + 24 * 60)
    assert isinstance(too_long, Skipped)
    assert "longer than bridge's valid range (1440 min)" in too_long.reason
    sparse = np.full(3 * DAY, np.nan)
    sparse[:30] = 70.0
    few = BridgeMethod().fill(series(sparse, "heart_rate"), 100, 200)
    assert isinstance(few, Skipped)
    assert "fewer than 60 observed minutes" in few.reason


def test_bridge_is_the_default_and_records_its_version_and_parameters() -> None:
    from stream_processors.imputation import DEFAULT_METHOD

    method = method_named(DEFAULT_METHOD)
    assert isinstance(method, BridgeMethod)
    assert (method.name, method.version) == ("bridge", "3")
    assert method.parameters()["walking_steps"] == 90.0
    assert method.parameters() != BridgeMethod(edge=5).parameters()


def test_a_profile_that_explains_nothing_is_replaced_by_a_constant() -> None:
    from stream_processors.imputation import Linear
    from stream_processors.imputation.bridge import _explains

    rng = np.random.default_rng(4)
    wander = np.clip(100 + np.cumsum(rng.normal(0, 1.5, 7 * DAY)), 50, 190)  # no daily pattern at all
    patterned = daily(7) + rng.normal(0, 1.0, 7 * DAY)
    method = BridgeMethod()
    for values, explains in ((wander, False), (patterned, True)):
        residual = values - method.profile_of(series(values, "heart_rate"), 0, 1)
        assert _explains(values, residual, 60) is explains
    start, end = 3 * DAY + 500, 3 * DAY + 560
    gapped = wander.copy()
    gapped[start:end] = np.nan
    truth = wander[start:end]
    ours = filled(method.fill(series(gapped, "heart_rate"), start, end)).values
    line = filled(Linear().fill(series(gapped, "heart_rate"), start, end)).values
    # Other days' values at this time of day are noise here: the fill joins the edges as a line does.
    assert np.abs(ours - truth).mean() <= 1.25 * np.abs(line - truth).mean()
    assert ours[0] == pytest.approx(float(np.median(wander[start - 2 : start])), abs=2.0)


def test_a_constant_series_is_filled_with_its_constant() -> None:
    values = np.full(7 * DAY, 70.0)
    values[3 * DAY : 3 * DAY + 90] = np.nan
    fill = filled(BridgeMethod().fill(series(values, "heart_rate"), 3 * DAY, 3 * DAY + 90))
    assert fill.values == pytest.approx(np.full(90, 70.0))
    assert fill.std_error == pytest.approx(np.zeros(90))
    assert bridge(Ar1(phi=0.5, state_var=0.0, noise_var=0.0), 3, 1.0, 2.0)[0] == pytest.approx(np.zeros(3))


def test_a_walk_starting_at_the_edge_does_not_lift_the_gap() -> None:
    rng = np.random.default_rng(8)
    days = 7
    hr = 60 + rng.normal(0, 1.0, days * DAY)
    steps = np.zeros(days * DAY)
    for d in range(days):  # a 20-minute walk at 10:00 every day, 100 bpm while it lasts
        steps[d * DAY + 600 : d * DAY + 620] = 110
        hr[d * DAY + 600 : d * DAY + 620] = 100
    start, end = 3 * DAY + 570, 3 * DAY + 600  # the gap ends as the day's walk starts
    hr[start:end] = np.nan
    steps[start:end] = np.nan  # a device off the wrist counts nothing
    fill = filled(BridgeMethod().fill(series(hr, "heart_rate", steps=steps), start, end))
    # The edge after the gap is read from still minutes only: the walk's 100 bpm says nothing of 09:30 – 10:00.
    assert fill.values == pytest.approx(np.full(30, 60.0), abs=2.0)
