"""Which stored resolution serves a range, and how coarse `auto` must bin it: pure functions."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final, Literal

import msgspec

from schemas.metrics import Metric

Level = Literal["raw", "1m", "1h", "1d"]
AUTO_BUDGET_FACTOR: Final = 10
"""`auto` reads at most this many stored rows per point asked for (then merges them down)."""
IRREGULAR_INTERVAL_MS: Final = 6 * 3_600_000
"""Assumed spacing of metrics without a native resolution (breathing rate: a few readings per night)."""


class RollupLevel(msgspec.Struct, frozen=True):
    name: Level
    table: str
    width_ms: int


ROLLUPS: Final[dict[str, RollupLevel]] = {
    "1m": RollupLevel("1m", "rollup_1m", 60_000),
    "1h": RollupLevel("1h", "rollup_1h", 3_600_000),
    "1d": RollupLevel("1d", "rollup_1d", 86_400_000),
}


def raw_interval_ms(metric: Metric) -> int:
    return int(metric.resolution_s * 1000) if metric.resolution_s > 0 else IRREGULAR_INTERVAL_MS


def choose_level(metric: Metric, range_ms: int, max_points: int) -> Level:
    """The finest stored resolution whose expected row count in the range is within the auto budget."""
    budget = AUTO_BUDGET_FACTOR * max_points
    if range_ms / raw_interval_ms(metric) <= budget:
        return "raw"
    for level in ROLLUPS.values():
        if range_ms / level.width_ms <= budget:
            return level.name
    return "1d"


def bin_factor(range_ms: int, width_ms: int, max_points: int) -> int:
    """How many stored buckets each output point merges so that the range gives at most `max_points`."""
    return max(1, math.ceil(range_ms / (max_points * width_ms)))


class AutoSource(msgspec.Struct, frozen=True):
    level: Level
    minutes_from_raw: bool = False
    """1-minute bins computed from raw readings (the 1-minute rollups of the range were dropped by retention)."""


RAW_TABLE: Final = "raw_segments"


def holds(table: str, start_ms: int, dropped_before_ms: Mapping[str, int]) -> bool:
    """Whether `table` still holds the range from `start_ms` on (retention dropped only rows before it)."""
    return dropped_before_ms.get(table, -(1 << 62)) <= start_ms


def auto_source(level: Level, start_ms: int, dropped_before_ms: Mapping[str, int]) -> AutoSource:
    """The stored level `auto` reads instead of `level` when retention dropped part of the range: raw gone →
    1-minute rollups; 1-minute rollups gone → the same bins from raw readings, else hours; hours gone → days."""
    if level == "raw" and not holds(RAW_TABLE, start_ms, dropped_before_ms):
        level = "1m"
    if level == "1m" and not holds(ROLLUPS["1m"].table, start_ms, dropped_before_ms):
        if holds(RAW_TABLE, start_ms, dropped_before_ms):
            return AutoSource("1m", minutes_from_raw=True)
        level = "1h"
    if level == "1h" and not holds(ROLLUPS["1h"].table, start_ms, dropped_before_ms):
        level = "1d"
    return AutoSource(level)
