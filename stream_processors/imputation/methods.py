"""Imputation methods: fill one gap of a `MinuteSeries` with a value, a standard error and a 95 % interval per
minute, or say why not.

The baselines the imputation literature compares against (neighbour mean, neighbour median, linear
interpolation; e.g. Moritz & Bartz-Beielstein, "imputeTS", R Journal 2017) read only the observed minutes next
to the gap; `profile.ProfileMethod` also reads the participant's other days. Every method has a valid range:
a longer gap is left empty and reported, never stretched over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Final, Protocol

import numpy as np

from stream_processors.imputation.grid import FloatArray, MinuteSeries

Z95: Final = 1.959963984540054
"""The standard normal's 97.5 % quantile: a 95 % interval is value ± Z95 · standard error."""


@dataclass(frozen=True, eq=False)
class Fill:
    """Per gap minute: value, standard error, 95 % interval (NaN in all four: that minute left empty)."""

    values: FloatArray
    std_error: FloatArray
    lower: FloatArray
    upper: FloatArray

    @property
    def filled(self) -> int:
        return int(np.count_nonzero(~np.isnan(self.values)))


@dataclass(frozen=True)
class Skipped:
    """The gap is left empty, for this reason."""

    reason: str


class Method(Protocol):
    name: ClassVar[str]
    version: ClassVar[str]

    @property
    def max_gap_minutes(self) -> int:
        """Gaps longer than this are left empty."""
        ...

    def parameters(self) -> dict[str, Any]:
        """What, with name and version, reproduces the method's output."""
        ...

    def fill(self, series: MinuteSeries, start: int, end: int) -> Fill | Skipped:
        """Fills grid minutes [start, end) (missing in `series`), reading only `series`."""
        ...


def clipped(
    series: MinuteSeries, values: FloatArray, std_error: FloatArray, lower: FloatArray, upper: FloatArray
) -> Fill:
    """A fill whose values and interval are kept inside the metric's valid range."""
    return Fill(
        values=np.clip(values, series.low, series.high),
        std_error=std_error,
        lower=np.clip(lower, series.low, series.high),
        upper=np.clip(upper, series.low, series.high),
    )


def combined(series: MinuteSeries, ours: Fill, other: Fill, cap: float) -> Fill:
    """The two fills weighted by the inverse of their variances, `other`'s weight at most `cap` (Bates & Granger,
    "The Combination of Forecasts", Oper. Res. Q. 1969; a cap towards equal weights because estimated weights
    are noisy: Smith & Wallis, "A Simple Explanation of the Forecast Combination Puzzle", Oxf. Bull. Econ. Stat.
    2009). Standard error: the weighted sum of the two, the combination's error at full correlation (an upper
    bound at any correlation); interval ± Z95 of it. A minute `other` left empty keeps `ours`."""
    ours_var, other_var = ours.std_error**2, other.std_error**2
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = np.minimum(cap, ours_var / (ours_var + other_var))
    weight = np.where(np.isfinite(weight) & ~np.isnan(other.values), weight, 0.0)
    values = (1 - weight) * ours.values + weight * np.nan_to_num(other.values)
    se = (1 - weight) * ours.std_error + weight * np.nan_to_num(other.std_error)
    return clipped(series, values, se, values - Z95 * se, values + Z95 * se)


def neighbours(series: MinuteSeries, start: int, end: int, window: int) -> tuple[FloatArray, FloatArray]:
    """The observed values in the `window` minutes before the gap and in the `window` after it."""
    before = series.values[max(0, start - window) : max(0, start)]
    after = series.values[min(len(series), end) : min(len(series), end + window)]
    return before[~np.isnan(before)], after[~np.isnan(after)]


def _too_long(method: Method, start: int, end: int) -> Skipped | None:
    if end - start > method.max_gap_minutes:
        return Skipped(f"{end - start} min is longer than {method.name}'s valid range ({method.max_gap_minutes} min)")
    return None


def _edge_values(
    method: NeighbourMean | NeighbourMedian, series: MinuteSeries, start: int, end: int
) -> FloatArray | Skipped:
    """The observed minutes within the method's window of either edge, or why the gap is left empty (too
    long for the method, or fewer than 2 such minutes)."""
    if skipped := _too_long(method, start, end):
        return skipped
    observed = np.concatenate(neighbours(series, start, end, method.window))
    if len(observed) < 2:
        return Skipped(f"fewer than 2 observed minutes within {method.window} min of the gap")
    return observed


@dataclass(frozen=True)
class NeighbourMean:
    """The mean of the observed minutes within `window` of either edge; its standard error is that of a new
    observation, sd · √(1 + 1/n)."""

    name: ClassVar[str] = "neighbour_mean"
    version: ClassVar[str] = "1"
    window: int = 60
    max_gap_minutes: int = 8 * 60

    def parameters(self) -> dict[str, Any]:
        return {"window": self.window, "max_gap_minutes": self.max_gap_minutes}

    def fill(self, series: MinuteSeries, start: int, end: int) -> Fill | Skipped:
        observed = _edge_values(self, series, start, end)
        if isinstance(observed, Skipped):
            return observed
        mean, sd = float(observed.mean()), float(observed.std(ddof=1))
        se = np.full(end - start, sd * np.sqrt(1 + 1 / len(observed)))
        values = np.full(end - start, mean)
        return clipped(series, values, se, values - Z95 * se, values + Z95 * se)


@dataclass(frozen=True)
class NeighbourMedian:
    """The median of the observed minutes within `window` of either edge; interval: their 2.5 – 97.5 %
    quantiles; standard error 1.4826 · MAD (the normal-consistent spread)."""

    name: ClassVar[str] = "neighbour_median"
    version: ClassVar[str] = "1"
    window: int = 60
    max_gap_minutes: int = 8 * 60

    def parameters(self) -> dict[str, Any]:
        return {"window": self.window, "max_gap_minutes": self.max_gap_minutes}

    def fill(self, series: MinuteSeries, start: int, end: int) -> Fill | Skipped:
        observed = _edge_values(self, series, start, end)
        if isinstance(observed, Skipped):
            return observed
        median = float(np.median(observed))
        low, high = np.quantile(observed, [0.025, 0.975])
        n = end - start
        mad = 1.4826 * float(np.median(np.abs(observed - median)))
        return clipped(series, np.full(n, median), np.full(n, mad), np.full(n, low), np.full(n, high))


@dataclass(frozen=True)
class Linear:
    """A straight line from the mean of the last `edge` observed minutes before the gap to the mean of the first
    `edge` after it (flat when only one side is observed within `window`); standard error: the neighbours'
    spread around that line's ends."""

    name: ClassVar[str] = "linear"
    version: ClassVar[str] = "1"
    edge: int = 5
    window: int = 60
    max_gap_minutes: int = 8 * 60

    def parameters(self) -> dict[str, Any]:
        return {"edge": self.edge, "window": self.window, "max_gap_minutes": self.max_gap_minutes}

    def fill(self, series: MinuteSeries, start: int, end: int) -> Fill | Skipped:
        if skipped := _too_long(self, start, end):
            return skipped
        before, after = neighbours(series, start, end, self.window)
        if len(before) + len(after) < 2:
            return Skipped(f"fewer than 2 observed minutes within {self.window} min of the gap")
        left = float(before[-self.edge :].mean()) if len(before) else float(after[: self.edge].mean())
        right = float(after[: self.edge].mean()) if len(after) else left
        n = end - start
        values = left + (right - left) * (np.arange(1, n + 1) / (n + 1))
        spread = np.concatenate([before - left, after - right])
        se = np.full(n, float(np.sqrt(np.mean(spread**2))) if len(spread) else 0.0)
        return clipped(series, values, se, values - Z95 * se, values + Z95 * se)
