"""A mean-reverting AR(1) (the Ornstein–Uhlenbeck process sampled every minute) observed with noise, and its
bridge: the conditional mean and variance of the state inside a gap given noisy readings of it at the gap's
edges — what a Kalman smoother over the gap computes (Durbin & Koopman, "Time Series Analysis by State Space
Methods", 2nd ed. 2012, ch. 4; imputeTS's `na_kalman`, Moritz & Bartz-Beielstein, R Journal 2017).

Model, per minute t: x_t = s_t + e_t with s_t = φ · s_{t−1} + η_t, stationary variance `state_var` of s and
`noise_var` of the white noise e. Autocorrelations are then ρ_0 = 1 and ρ_k = c · φ^k for k ≥ 1, with
c = state_var / (state_var + noise_var): `fit_ar1` reads φ and c off the observed lags.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stream_processors.imputation.grid import FloatArray, IntArray


@dataclass(frozen=True)
class Ar1:
    """φ (per minute), the state's stationary variance and the white noise's variance."""

    phi: float
    state_var: float
    noise_var: float


def autocorrelation(residual: FloatArray, lags: IntArray) -> tuple[FloatArray, FloatArray]:
    """ρ at `lags` of a zero-mean series with missing minutes (NaN), over the pairs observed at both ends; and
    the number of those pairs per lag."""
    known = ~np.isnan(residual)
    x = np.where(known, residual, 0.0)
    n = len(x)
    counts = np.array([np.count_nonzero(known[k:] & known[: n - k]) for k in lags], dtype=np.float64)
    sums = np.array([float(np.dot(x[k:], x[: n - k])) for k in lags])
    variance = float(np.dot(x, x)) / max(int(np.count_nonzero(known)), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sums / counts) / variance if variance > 0 else np.full(len(lags), np.nan), counts


def fit_ar1(
    residual: FloatArray, max_lag: int = 30, min_pairs: int = 100, *, lags: IntArray | None = None
) -> Ar1 | None:
    """φ and c by least squares of log ρ_k = log c + k log φ over the lags 1 … max_lag (or `lags`) whose ρ_k is
    above 0.05 (and has `min_pairs` pairs); None when fewer than two lags qualify. φ is kept in [0, 0.999], c in
    (0, 1]."""
    lags = np.arange(1, max_lag + 1) if lags is None else lags
    rho, counts = autocorrelation(residual, lags)
    variance = float(np.nanmean(residual**2)) if np.any(~np.isnan(residual)) else 0.0
    usable = (counts >= min_pairs) & (rho > 0.05)
    if np.count_nonzero(usable) < 2 or variance <= 0:
        return None
    slope, intercept = np.polyfit(lags[usable], np.log(rho[usable]), 1)
    phi = float(np.clip(np.exp(slope), 0.0, 0.999))
    share = float(np.clip(np.exp(intercept), 1e-6, 1.0))
    return Ar1(phi=phi, state_var=share * variance, noise_var=(1 - share) * variance)


def bridge(
    model: Ar1, n: int, left: float | None, right: float | None, *, left_var: float = 0.0, right_var: float = 0.0
) -> tuple[FloatArray, FloatArray]:
    """The state's conditional mean and variance at gap minutes 1 … n, given a reading `left` of the state one
    minute before the first (with error variance `left_var`) and `right` one minute after the last; None: that
    side unobserved. With neither side, the stationary mean 0 and variance."""
    i = np.arange(1, n + 1, dtype=np.float64)
    s2, phi = model.state_var, model.phi
    edges: list[tuple[float, FloatArray, float]] = []  # (reading, lag from the target, its error variance)
    if left is not None:
        edges.append((left, i, left_var))
    if right is not None:
        edges.append((right, n + 1 - i, right_var))
    if not edges or s2 <= 0:  # a state that never varies: the stationary mean, known exactly
        return np.zeros(n), np.full(n, max(s2, 0.0))
    if len(edges) == 1:
        reading, lag, err = edges[0]
        gain = s2 * phi**lag / (s2 + err)
        return gain * reading, s2 - gain * s2 * phi**lag
    (a, lag_a, err_a), (b, lag_b, err_b) = edges
    # Σ_yy = s2 [[1, φ^(n+1)], [φ^(n+1), 1]] + diag(err_a, err_b); Σ_ty = s2 [φ^lag_a, φ^lag_b]
    cross = s2 * phi ** (n + 1)
    saa, sbb = s2 + err_a, s2 + err_b
    det = saa * sbb - cross**2
    ka, kb = s2 * phi**lag_a, s2 * phi**lag_b
    wa = (ka * sbb - kb * cross) / det
    wb = (kb * saa - ka * cross) / det
    return wa * a + wb * b, s2 - (wa * ka + wb * kb)
