"""Which stored level `auto` reads once retention dropped part of a range."""

from __future__ import annotations

from api.series.levels import AutoSource, auto_source, choose_level
from schemas.metrics import HEART_RATE

DAY_MS = 86_400_000
START = 1_730_419_200_000  # 1 November 2024


def test_auto_keeps_its_level_where_nothing_was_dropped() -> None:
    assert choose_level(HEART_RATE, DAY_MS, 1000) == "1m"
    assert auto_source("1m", START, {}) == AutoSource("1m")
    assert auto_source("1m", START, {"rollup_1m": START}) == AutoSource("1m")
    assert auto_source("raw", START, {"rollup_1m": START + DAY_MS}) == AutoSource("raw")


def test_dropped_minutes_come_from_raw_readings_else_hours_else_days() -> None:
    assert auto_source("1m", START, {"rollup_1m": START + 1}) == AutoSource("1m", minutes_from_raw=True)
    dropped = {"rollup_1m": START + 1, "raw_segments": START + 1}
    assert auto_source("1m", START, dropped) == AutoSource("1h")
    assert auto_source("raw", START, dropped) == AutoSource("1h")
    assert auto_source("raw", START, {"raw_segments": START + 1}) == AutoSource("1m")
    assert auto_source("1m", START, {**dropped, "rollup_1h": START + 1}) == AutoSource("1d")
    assert auto_source("1h", START, {"rollup_1h": START + 1}) == AutoSource("1d")
