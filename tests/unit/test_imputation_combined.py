"""Bridge's combination with the neighbour median for short gaps: inverse-variance weights with the median's
weight capped, on hand-computed fills, and inside the method (up to `combine_minutes`, not where the gap has
steps)."""

from __future__ import annotations

import numpy as np
import pytest

from stream_processors.imputation import BridgeMethod, Fill, MinuteSeries, NeighbourMedian
from stream_processors.imputation.methods import Z95, combined

DAY = 1440


def fill(values: list[float], se: list[float]) -> Fill:
    v, s = np.array(values), np.array(se)
    return Fill(values=v, std_error=s, lower=v - Z95 * s, upper=v + Z95 * s)


def series(values: np.ndarray, steps: np.ndarray | None = None) -> MinuteSeries:
    local = np.arange(len(values), dtype=np.int64)
    return MinuteSeries(start_ms=0, values=values, local=local, low=0, high=250, steps=steps, metric="heart_rate")


def test_weights_are_inverse_variances_with_the_other_capped() -> None:
    grid = series(np.zeros(4))
    ours = fill([60.0, 60.0, 60.0, 60.0], [1.0, 1.0, 3.0, 1.0])
    other = fill([70.0, 70.0, 70.0, np.nan], [3.0, 1.0, 1.0, np.nan])
    both = combined(grid, ours, other, cap=0.5)
    # weights of `other`: 1/(1+9) = 0.1; 0.5; 9/10 capped at 0.5; none where it is empty
    assert both.values == pytest.approx([61.0, 65.0, 65.0, 60.0])
    assert both.std_error == pytest.approx([1.2, 1.0, 2.0, 1.0])
    assert both.upper - both.values == pytest.approx(Z95 * both.std_error)
    assert combined(grid, ours, other, cap=0.0).values == pytest.approx(ours.values)


def wavy(days: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(days * DAY)
    return 65 + 8 * np.sin(2 * np.pi * t / DAY) + rng.normal(0, 3, len(t))


def test_short_gaps_are_combined_and_long_or_stepped_gaps_are_not() -> None:
    values = wavy(8, 3)
    start, end = 4 * DAY + 300, 4 * DAY + 360
    values[start:end] = np.nan
    grid = series(values)
    alone = BridgeMethod(combine_minutes=0).fill(grid, start, end)
    median = NeighbourMedian().fill(grid, start, end)
    assert isinstance(alone, Fill)
    assert isinstance(median, Fill)
    expected = combined(grid, alone, median, 0.5)
    ours = BridgeMethod().fill(grid, start, end)
    assert isinstance(ours, Fill)
    assert ours.values == pytest.approx(expected.values)
    assert not np.allclose(ours.values, alone.values)
    longer = BridgeMethod(combine_minutes=59).fill(grid, start, end)
    assert isinstance(longer, Fill)
    assert longer.values == pytest.approx(alone.values)
    steps = np.zeros(len(values))
    steps[start:end] = 100.0  # the device counted steps in the gap: the neighbours know nothing of that walk
    walked = series(values, steps)
    stepped = BridgeMethod().fill(walked, start, end)
    assert isinstance(stepped, Fill)
    unstepped = BridgeMethod(combine_minutes=0).fill(walked, start, end)
    assert isinstance(unstepped, Fill)
    assert stepped.values == pytest.approx(unstepped.values)
