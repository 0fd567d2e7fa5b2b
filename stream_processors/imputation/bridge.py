"""Our method: the participant's time-of-day profile, with the gap's edges carried across it by a fitted
stochastic model — a mean-reverting AR(1) bridge of the residual for heart rate and the other level metrics, a
walking/still Markov-chain bridge for steps.

Level metrics (heart rate, spo2, hrv_rmssd): the participant's time-of-day profile is the median of their
observed minutes within ± `half_width` minutes of that time of day over the days of the series (for heart rate,
of the minutes without recent steps: walks are few and at no fixed time, so the value that minimises absolute
error is the resting level), as hot-deck imputation borrows from similar records of the same unit (Andridge &
Little 2010). A profile that does not explain the participant's own data — their residual from it changes more
over `window` minutes than their values do, as in a series with no daily pattern — is replaced by a constant.
The residual from the profile has two parts: the day's offset, read on each side as the median residual of the
still minutes within `window` of the edge and bridged across the gap as a slow AR(1) (φ fitted over lags of 30
min – 4 h; time constant `level_minutes` where those lags show no correlation); and the short-term deviation
from it, an AR(1) observed with white noise (`ou.py`, φ and both variances fitted per participant over lags 1 –
`max_lag`), read at each edge as the median of the last `edge` observed minutes before the gap (the first
`edge` after; for heart rate, the last `edge` still minutes within `still_reach` minutes: an edge during a walk
or its recovery says nothing of the minutes beyond it) and filled with its conditional mean given those
readings — the Kalman smoother across the gap (Durbin & Koopman 2012; imputeTS's `na_kalman`, Moritz &
Bartz-Beielstein 2017). Where the gap has step counts
above zero (a measurement, not a not-worn zero), heart rate adds the participant's median residual at that
recent step count (`profile.recent_steps`, binned at `step_bins`) and the edges are read net of it. Where a
minute of the day has data on fewer than `min_days` days, the gap's neighbour median stands in for the profile.
Standard error: the bridge's conditional variance plus the white noise's; interval ± 1.96 of it. For gaps of
up to `combine_minutes`, the fill is then combined with the gap's neighbour median (`NeighbourMedian`) by the
inverse of their variances, the median's weight capped at `median_weight` (`methods.combined`): near the edges
the bridge is sure and keeps the fill; in the middle of an hour-long gap both are about as good and their
errors partly cancel. Not where the gap has step counts above zero: the neighbours know nothing of that activity.

Steps (`walking.py`): a minute is walking at ≥ `walking_steps` steps; a two-state chain fitted per participant
gives the probability of walking at each gap minute given the edges' states, shifted by how much more (or less)
the participant walks at that time of day than on average. The fill is the conditional median of the mixture of
their walking counts (centred on the cadence of a walk under way at the nearer edge) and still counts: 0 unless
walking is more likely than not.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from stream_processors.imputation.grid import MINUTES_PER_DAY, FloatArray, MinuteSeries, day_matrix
from stream_processors.imputation.methods import Z95, Fill, NeighbourMedian, Skipped, clipped, combined, neighbours
from stream_processors.imputation.ou import Ar1, bridge, fit_ar1
from stream_processors.imputation.profile import recent_steps
from stream_processors.imputation.walking import bridge_probability, fit_chain, mixture_quantiles

_MEDIAN_VARIANCE = np.pi / 2
"""The variance of a median of k normal readings is about π/2 · σ² / k."""


def time_of_day(
    series: MinuteSeries, values: FloatArray, half_width: int, *, median: bool
) -> tuple[FloatArray, FloatArray]:
    """Per minute of the day: the median (or mean) of `values` within ± `half_width` minutes of it over every
    day of the series, and the number of days with any such value."""
    matrix = day_matrix(series, values)[0]
    h = half_width
    padded = np.concatenate([matrix[:, -h:], matrix, matrix[:, :h]], axis=1) if h else matrix
    windows = sliding_window_view(padded, 2 * h + 1, axis=1)
    pool = windows.transpose(1, 0, 2).reshape(MINUTES_PER_DAY, -1)
    days = np.count_nonzero((~np.isnan(windows)).any(axis=2), axis=0).astype(np.float64)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a minute of the day without data is meant to be NaN
        profile = np.nanmedian(pool, axis=1) if median else np.nanmean(pool, axis=1)
    return np.asarray(profile, dtype=np.float64), days


def neighbours_of(values: FloatArray, start: int, end: int, window: int) -> tuple[FloatArray, FloatArray]:
    before = values[max(0, start - window) : start]
    after = values[end : end + window]
    return before[~np.isnan(before)], after[~np.isnan(after)]


def _explains(values: FloatArray, residual: FloatArray, lag: int) -> bool:
    """Whether the profile explains the participant's own data: their residual from it changes less over `lag`
    minutes than their values do (a profile of no use only adds other days' noise to a fill)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        raw = np.nanmean((values[lag:] - values[:-lag]) ** 2)
        net = np.nanmean((residual[lag:] - residual[:-lag]) ** 2)
    return bool(net < raw) if np.isfinite(raw) and np.isfinite(net) else True


def _stepped(series: MinuteSeries, start: int, end: int) -> bool:
    """Whether the gap has step counts above zero: evidence of activity that the neighbours do not have."""
    return series.steps is not None and bool(np.nansum(series.steps[start:end]) > 0)


def _last(values: FloatArray, count: int) -> FloatArray:
    """The last `count` observed values."""
    return values[~np.isnan(values)][-count:]


def _edge_median(values: FloatArray) -> tuple[float | None, int]:
    observed = values[~np.isnan(values)]
    return (float(np.median(observed)), len(observed)) if len(observed) else (None, 0)


@dataclass(frozen=True)
class BridgeMethod:
    name: ClassVar[str] = "bridge"
    version: ClassVar[str] = "3"
    half_width: int = 15
    min_days: int = 3
    edge: int = 2
    window: int = 60
    max_lag: int = 30
    step_bins: tuple[float, ...] = (1.0, 20.0, 60.0, 100.0)
    walking_steps: float = 90.0
    min_observed: int = 60
    level_minutes: float = 240.0
    still_reach: int = 10
    max_gap_minutes: int = 24 * 60
    combine_minutes: int = 120
    median_weight: float = 0.5

    def parameters(self) -> dict[str, Any]:
        return {
            "half_width": self.half_width,
            "min_days": self.min_days,
            "edge": self.edge,
            "window": self.window,
            "max_lag": self.max_lag,
            "step_bins": list(self.step_bins),
            "walking_steps": self.walking_steps,
            "min_observed": self.min_observed,
            "level_minutes": self.level_minutes,
            "still_reach": self.still_reach,
            "max_gap_minutes": self.max_gap_minutes,
            "combine_minutes": self.combine_minutes,
            "median_weight": self.median_weight,
        }

    def fill(self, series: MinuteSeries, start: int, end: int) -> Fill | Skipped:
        if end - start > self.max_gap_minutes:
            return Skipped(f"{end - start} min is longer than bridge's valid range ({self.max_gap_minutes} min)")
        if np.count_nonzero(~np.isnan(series.values)) < self.min_observed:
            return Skipped(f"fewer than {self.min_observed} observed minutes to fit the model to")
        if series.metric == "steps":
            return self._steps(series, start, end)
        level = self._level(series, start, end)
        if isinstance(level, Skipped) or end - start > self.combine_minutes or _stepped(series, start, end):
            return level
        median = NeighbourMedian(window=self.window).fill(series, start, end)
        return level if isinstance(median, Skipped) else combined(series, level, median, self.median_weight)

    def profile_of(self, series: MinuteSeries, start: int, end: int) -> FloatArray:
        """The time-of-day profile on every grid minute, the gap's neighbour median where too few days have data
        at that time of day (NaN where neither exists)."""
        profile, days = time_of_day(series, self._still(series), self.half_width, median=True)
        tod = series.local % MINUTES_PER_DAY
        on_grid = np.where(days[tod] >= self.min_days, profile[tod], np.nan)
        observed = np.concatenate(neighbours(series, start, end, self.window))
        if len(observed) >= 2:
            on_grid = np.where(np.isnan(on_grid), float(np.median(observed)), on_grid)
        return on_grid

    def _still(self, series: MinuteSeries) -> FloatArray:
        """The values of the minutes without recent steps (all values where steps are not known): the resting
        level, which is what a fill's median is about (a walk's minutes are few and at no fixed time)."""
        if series.steps is None:
            return series.values
        recent = recent_steps(series.steps)
        return np.where(recent == 0, series.values, np.nan)

    def _activity(self, series: MinuteSeries, residual: FloatArray, start: int, end: int) -> FloatArray:
        """Per grid minute, the participant's median residual at its recent step count over that when still (0
        where the step count is unknown, or the gap has no steps above zero)."""
        if series.steps is None or not _stepped(series, start, end):
            return np.zeros(len(series))
        recent = recent_steps(series.steps)
        bins = np.digitize(np.nan_to_num(recent, nan=-1.0), self.step_bins)
        known = ~np.isnan(recent) & ~np.isnan(residual)
        levels = [residual[known & (bins == b)] for b in range(len(self.step_bins) + 1)]
        base = float(np.median(levels[0])) if len(levels[0]) >= 10 else 0.0
        excess = np.array([float(np.median(v)) - base if len(v) >= 10 else 0.0 for v in levels])
        excess[0] = 0.0
        return np.where(np.isnan(recent), 0.0, excess[bins])

    def _slow(self, residual: FloatArray) -> Ar1:
        """The day's offset from the profile as a slow AR(1): φ fitted over lags of half an hour to four hours
        (the fixed time constant `level_minutes` where those lags show no correlation)."""
        fitted = fit_ar1(residual, lags=np.arange(30, 241, 10))
        if fitted is not None:
            return Ar1(phi=fitted.phi, state_var=1.0, noise_var=0.0)
        return Ar1(phi=float(np.exp(-1 / self.level_minutes)), state_var=1.0, noise_var=0.0)

    def _level(self, series: MinuteSeries, start: int, end: int) -> Fill | Skipped:
        profile = self.profile_of(series, start, end)
        if np.isnan(profile[start:end]).all():
            return Skipped(
                f"fewer than {self.min_days} days with data at this time of day and no observed minutes near the gap"
            )
        residual = series.values - profile
        if not _explains(series.values, residual, self.window):
            profile = np.where(np.isnan(profile), np.nan, float(np.nanmedian(series.values)))
            residual = series.values - profile
        activity = self._activity(series, residual, start, end)
        residual = residual - activity
        model = fit_ar1(residual, self.max_lag) or Ar1(phi=0.0, state_var=float(np.nanvar(residual)), noise_var=0.0)
        n = end - start
        still = np.where(np.isnan(self._still(series)), np.nan, residual)
        before, after = neighbours_of(still, start, end, self.window)
        if len(before) + len(after) < 10:
            before, after = neighbours_of(residual, start, end, self.window)
        level_before = float(np.median(before)) if len(before) else None
        level_after = float(np.median(after)) if len(after) else None
        level = bridge(self._slow(residual), n, level_before, level_after)[0]
        # Edges from still minutes: HR rises within minutes of a walk's start and falls within minutes of its
        # end, so an edge during a walk or its recovery says nothing of the gap's minutes beyond it.
        edges, reach = (residual, self.edge) if series.steps is None else (still, self.still_reach)
        left, n_left = _edge_median(_last(edges[max(0, start - reach) : start], self.edge) - (level_before or 0.0))
        right, n_right = _edge_median(_last(edges[end : end + reach][::-1], self.edge) - (level_after or 0.0))
        mean, variance = bridge(
            model,
            n,
            left,
            right,
            left_var=_MEDIAN_VARIANCE * model.noise_var / max(n_left, 1),
            right_var=_MEDIAN_VARIANCE * model.noise_var / max(n_right, 1),
        )
        mean = mean + level
        values = profile[start:end] + activity[start:end] + mean
        se = np.sqrt(variance + model.noise_var)
        se = np.where(np.isnan(values), np.nan, se)
        return clipped(series, values, se, values - Z95 * se, values + Z95 * se)

    def _steps(self, series: MinuteSeries, start: int, end: int) -> Fill:
        counts = series.values
        walking = np.where(np.isnan(counts), np.nan, (counts >= self.walking_steps).astype(np.float64))
        chain = fit_chain(walking)
        n = end - start
        left = None if start < 1 or np.isnan(walking[start - 1]) else int(walking[start - 1])
        right = None if end >= len(series) or np.isnan(walking[end]) else int(walking[end])
        p_walking = bridge_probability(chain, n, left, right)
        share, days = time_of_day(series, walking, self.half_width, median=False)
        tod = series.local[start:end] % MINUTES_PER_DAY
        at_time = np.where(days[tod] >= self.min_days, share[tod], chain.walking_share)
        p_walking = np.clip(p_walking - chain.walking_share + at_time, 0.0, 1.0)
        observed = counts[~np.isnan(counts)]
        walks, still = observed[observed >= self.walking_steps], observed[observed < self.walking_steps]
        if len(walks) == 0:
            p_walking = np.zeros(n)
        grid = np.arange(series.low, series.high + 1, dtype=np.float64)
        levels = self._walk_levels(counts, start, end, left, right)
        quantiles = np.empty((n, 3))
        sd = np.empty(n)
        for level in np.unique(levels):
            rows = np.isnan(levels) if np.isnan(level) else levels == level
            pool = walks if np.isnan(level) or not len(walks) else walks - np.median(walks) + level
            quantiles[rows], sd[rows] = mixture_quantiles(
                p_walking[rows], np.clip(pool, series.low, series.high), still, grid, np.array([0.025, 0.5, 0.975])
            )
        return clipped(series, quantiles[:, 1], sd, quantiles[:, 0], quantiles[:, 2])

    def _walk_levels(self, counts: FloatArray, start: int, end: int, left: int | None, right: int | None) -> FloatArray:
        """Per gap minute, the cadence of the walk under way at the nearer walking edge (the median of its last
        `edge` walking minutes), NaN where neither edge is walking."""
        n = end - start
        before = counts[max(0, start - self.edge) : start]
        after = counts[end : end + self.edge]
        left_level = float(np.median(before[before >= self.walking_steps])) if left == 1 else np.nan
        right_level = float(np.median(after[after >= self.walking_steps])) if right == 1 else np.nan
        position = np.arange(1, n + 1)
        nearer_left = position <= n + 1 - position
        levels = np.where(nearer_left, left_level, right_level)
        return np.where(np.isnan(levels), np.where(nearer_left, right_level, left_level), levels)
