"""Peak-preserving reduction of raw readings: MinMaxLTTB (tsdownsample), plus the range's extremes."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from tsdownsample import MinMaxLTTBDownsampler

_DOWNSAMPLER = MinMaxLTTBDownsampler()  # type: ignore[no-untyped-call]


def reduce_indices(
    times_ms: npt.NDArray[np.int64], values: npt.NDArray[np.float64], max_points: int
) -> npt.NDArray[np.int64]:
    """Indices of at most `max_points` readings (sorted by time) that keep the shape and, always, the first
    occurrence of the global minimum and maximum. `max_points` must be at least 4."""
    n = len(times_ms)
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    chosen = _DOWNSAMPLER.downsample(times_ms, values, n_out=max_points - 2).astype(np.int64)
    extremes = np.array([int(np.argmin(values)), int(np.argmax(values))], dtype=np.int64)
    return np.union1d(chosen, extremes)
