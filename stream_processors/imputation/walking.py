"""Minute steps as a two-state Markov chain, walking or still, and its bridge: the probability of walking at each
minute of a gap given the state at its edges (the forward–backward recursion of a hidden Markov model with the
states observed at both ends; e.g. Rabiner, Proc. IEEE 1989).

Minute step counts are zero-inflated: most minutes have none, so the value that minimises absolute error is 0
unless the participant is more likely walking than not. The chain says for how long a walk under way at an edge
is likely to go on; `mixture_quantiles` turns that probability into the conditional median (and interval) of the
step count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stream_processors.imputation.grid import FloatArray


@dataclass(frozen=True)
class Chain:
    """P(still → walking) and P(walking → still) per minute."""

    start_walking: float
    stop_walking: float

    @property
    def matrix(self) -> FloatArray:
        return np.array(
            [[1 - self.start_walking, self.start_walking], [self.stop_walking, 1 - self.stop_walking]], dtype=float
        )

    @property
    def walking_share(self) -> float:
        """The chain's stationary probability of walking."""
        total = self.start_walking + self.stop_walking
        return self.start_walking / total if total > 0 else 0.0


def fit_chain(walking: FloatArray, prior: float = 1.0) -> Chain:
    """Transition probabilities counted over consecutive observed minutes (`walking`: 1, 0, or NaN for missing),
    each count with `prior` added (so a participant never seen walking still gets a small chance)."""
    now, after = walking[:-1], walking[1:]
    pairs = ~np.isnan(now) & ~np.isnan(after)
    still_to = after[pairs & (now == 0)]
    walking_to = after[pairs & (now == 1)]
    start = (float(np.sum(still_to == 1)) + prior) / (len(still_to) + 2 * prior)
    stop = (float(np.sum(walking_to == 0)) + prior) / (len(walking_to) + 2 * prior)
    return Chain(start_walking=start, stop_walking=stop)


def bridge_probability(chain: Chain, n: int, left: int | None, right: int | None) -> FloatArray:
    """P(walking) at gap minutes 1 … n given the state one minute before the first (`left`: 1 walking, 0 still,
    None unobserved: the stationary distribution) and one minute after the last (`right`, None: unconditioned).
    Forward: the left state moved i minutes; backward: the chance of reaching `right` in the n + 1 − i after."""
    matrix = chain.matrix
    share = chain.walking_share
    state = np.array([1 - share, share]) if left is None else np.eye(2)[left]
    forward = np.empty((n, 2))
    for i in range(n):
        state = state @ matrix
        forward[i] = state
    backward = np.ones((n, 2))
    if right is not None:
        reach = np.eye(2)[:, right]
        for i in range(n - 1, -1, -1):
            reach = matrix @ reach
            backward[i] = reach
    joint = forward * backward
    total = joint.sum(axis=1)
    return np.asarray(np.where(total > 0, joint[:, 1] / np.where(total > 0, total, 1.0), share), dtype=np.float64)


def mixture_quantiles(
    p_walking: FloatArray, walking_counts: FloatArray, still_counts: FloatArray, grid: FloatArray, q: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per minute, the quantiles `q` (rows: minutes, columns: q) and standard deviation of the mixture
    p · (walking counts' distribution) + (1 − p) · (still counts'), both empirical, over the values `grid`."""
    walk_cdf = _cdf(walking_counts, grid)
    still_cdf = _cdf(still_counts, grid)
    cdf = p_walking[:, None] * walk_cdf[None, :] + (1 - p_walking[:, None]) * still_cdf[None, :]
    cdf[:, -1] = 1.0
    quantiles = np.stack([grid[np.argmax(cdf >= level - 1e-12, axis=1)] for level in q], axis=1)
    mass = np.diff(cdf, axis=1, prepend=0.0)
    mean = mass @ grid
    sd = np.sqrt(np.maximum(mass @ grid**2 - mean**2, 0.0))
    return quantiles, sd


def _cdf(counts: FloatArray, grid: FloatArray) -> FloatArray:
    if len(counts) == 0:
        return np.ones(len(grid))
    ordered = np.sort(counts)
    return np.searchsorted(ordered, grid, side="right") / len(ordered)
