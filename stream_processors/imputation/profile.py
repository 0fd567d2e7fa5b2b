"""Our method: the participant's own time-of-day profile across their other days, blended with the gap's
neighbours near its edges, with heart rate conditioned on steps where the gap has them.

It follows the "hot deck" idea of borrowing values from similar records of the same unit (Andridge & Little,
"A Review of Hot Deck Imputation for Survey Non-response", Int. Stat. Rev. 2010), with donors chosen by time of
day across days — the daily structure that the hour-of-day baselines of wearable heart rate rely on (Mishra et
al. 2020) — and the local level near the gap carried in with a weight that decays with the distance from the
nearer edge, as seasonal decomposition + interpolation of the remainder does (imputeTS's `na_seadec`, Moritz &
Bartz-Beielstein 2017).

Per gap minute t (local day d, time of day m): the donors are the observed minutes of days d − `days` … d +
`days` other than d, within ± `half_width` minutes of m; the profile is their median (the value that minimises
absolute error), with their 2.5 – 97.5 % quantiles as the 95 % interval and 1.4826 · their MAD as the standard
error. The estimate is w · (the gap's neighbour median, interval and spread, as `NeighbourMedian` computes
them) + (1 − w) · (the profile's), with w = exp(−(distance to the nearer edge − 1) / `tau`). Where the gap has
step counts above zero (the device counted steps, so they are a measurement rather than a not-worn zero),
heart-rate donors are restricted to minutes with a similar recent step count (the maximum of this and the two
minutes before, binned at `step_bins`) when at least `min_donors` remain. A minute with donors from fewer than
`min_days` days is left empty.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from stream_processors.imputation.grid import MINUTES_PER_DAY, FloatArray, IntArray, MinuteSeries, day_matrix
from stream_processors.imputation.methods import Fill, Skipped, clipped, neighbours


@dataclass(frozen=True)
class Donors:
    """Per target minute × donor day × minute of the window: the donors' values and recent step counts (NaN:
    none)."""

    values: FloatArray
    steps: FloatArray | None


def recent_steps(steps: FloatArray) -> FloatArray:
    """Per minute, the maximum step count of it and the two minutes before (NaN where none is known)."""
    shifted = [steps, np.concatenate([[np.nan], steps[:-1]]), np.concatenate([[np.nan, np.nan], steps[:-2]])]
    with np.errstate(invalid="ignore"):
        stacked = np.vstack(shifted)
        known = ~np.isnan(stacked)
        return np.where(known.any(axis=0), np.nanmax(np.where(known, stacked, -np.inf), axis=0), np.nan)


@dataclass(frozen=True)
class ProfileMethod:
    name: ClassVar[str] = "profile"
    version: ClassVar[str] = "1"
    days: int = 14
    half_width: int = 15
    min_days: int = 3
    tau: float = 120.0
    window: int = 60
    min_donors: int = 10
    step_bins: tuple[float, ...] = (1.0, 20.0, 60.0, 100.0)
    max_gap_minutes: int = 24 * 60

    def parameters(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "half_width": self.half_width,
            "min_days": self.min_days,
            "tau": self.tau,
            "window": self.window,
            "min_donors": self.min_donors,
            "step_bins": list(self.step_bins),
            "max_gap_minutes": self.max_gap_minutes,
        }

    def fill(self, series: MinuteSeries, start: int, end: int) -> Fill | Skipped:
        if end - start > self.max_gap_minutes:
            return Skipped(f"{end - start} min is longer than profile's valid range ({self.max_gap_minutes} min)")
        targets = np.arange(start, end)
        use_steps = series.steps is not None and bool(np.nansum(series.steps[start:end]) > 0)
        median, low, high, spread = self.estimate(series, targets, conditioned=use_steps)
        if np.isnan(median).all():
            return Skipped(f"fewer than {self.min_days} other days with data at this time of day")
        values, low, high, spread = self._edge_blend(series, start, end, (median, low, high, spread))
        return clipped(series, values, spread, low, high)

    def estimate(
        self, series: MinuteSeries, targets: IntArray, *, conditioned: bool
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Donor median, 2.5 % and 97.5 % quantiles and 1.4826 · MAD per target minute (NaN: too few days)."""
        donors = self._donors(series, targets)
        pool = donors.values
        if conditioned and donors.steps is not None and series.steps is not None:
            wanted = np.digitize(recent_steps(series.steps)[targets], self.step_bins)
            known = ~np.isnan(recent_steps(series.steps)[targets])
            similar = np.digitize(np.nan_to_num(donors.steps, nan=-1.0), self.step_bins) == wanted[:, None, None]
            similar &= ~np.isnan(donors.steps)
            narrowed = np.where(similar, pool, np.nan)
            enough = known & (np.count_nonzero(~np.isnan(narrowed), axis=(1, 2)) >= self.min_donors)
            pool = np.where(enough[:, None, None], narrowed, pool)
        days_with_data = np.count_nonzero((~np.isnan(pool)).any(axis=2), axis=1)
        flat = pool.reshape(len(targets), -1)
        flat[days_with_data < self.min_days] = np.nan
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN minutes are meant to come out NaN
            median = np.nanmedian(flat, axis=1)
            low, high = np.nanquantile(flat, [0.025, 0.975], axis=1)
            mad = 1.4826 * np.nanmedian(np.abs(flat - median[:, None]), axis=1)
        return median, low, high, mad

    def _donors(self, series: MinuteSeries, targets: IntArray) -> Donors:
        h = self.half_width
        matrices = [day_matrix(series, series.values)[0]]
        if series.steps is not None:
            matrices.append(day_matrix(series, recent_steps(series.steps))[0])
        first_day = int(series.local[0] // MINUTES_PER_DAY)
        day = series.local[targets] // MINUTES_PER_DAY - first_day
        minute = series.local[targets] % MINUTES_PER_DAY
        offsets = np.array([o for o in range(-self.days, self.days + 1) if o != 0])
        rows = day[:, None] + offsets[None, :]
        valid = (rows >= 0) & (rows < matrices[0].shape[0])
        gathered = []
        for matrix in matrices:
            padded = np.concatenate([matrix[:, -h:], matrix, matrix[:, :h]], axis=1) if h else matrix
            windows = sliding_window_view(padded, 2 * h + 1, axis=1)
            taken = windows[np.clip(rows, 0, matrix.shape[0] - 1), minute[:, None], :]
            gathered.append(np.where(valid[:, :, None], taken, np.nan))
        return Donors(values=gathered[0], steps=gathered[1] if len(gathered) > 1 else None)

    def _edge_blend(
        self,
        series: MinuteSeries,
        start: int,
        end: int,
        estimate: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """The profile blended with the gap's neighbours: weight exp(−distance to the nearer edge / tau) on the
        neighbours' median (and their interval), the rest on the profile."""
        before, after = neighbours(series, start, end, self.window)
        observed = np.concatenate([before, after])
        median, low, high, spread = estimate
        if len(observed) < 2:
            return estimate
        level = float(np.median(observed))
        level_low, level_high = (float(q) for q in np.quantile(observed, [0.025, 0.975]))
        level_spread = 1.4826 * float(np.median(np.abs(observed - level)))
        n = end - start
        position = np.arange(1, n + 1)
        weight = np.exp(-(np.minimum(position, n + 1 - position) - 1) / self.tau)
        weight = np.where(np.isnan(median), np.nan, weight)

        def blend(own: FloatArray, near: float) -> FloatArray:
            return weight * near + (1 - weight) * own

        return blend(median, level), blend(low, level_low), blend(high, level_high), blend(spread, level_spread)
