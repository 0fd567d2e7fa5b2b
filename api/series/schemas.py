"""Response shapes of time series."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

Resolution = Literal["auto", "raw", "1m", "1h", "1d"]
ExportFormat = Literal["json", "arrow", "csv", "parquet"]
Imputed = Literal["exclude", "include", "only"]


class Point(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A rollup point `{time, count, min, max, mean}` (+ `sum` for summed metrics, `stage_epochs` for sleep)
    — a bucket of readings in [time, time + bucket_seconds) — or a raw point `{time, value}` (+ `extra`)."""

    time: dt.datetime
    value: float | None = None
    """Raw points: the reading."""
    extra: dict[str, float] | None = None
    """Raw points: secondary columns (hrv_rmssd: coverage, lf, hf; breathing_rate: stage, −1 = full night)."""
    count: int | None = None
    """Rollup points: readings in the bucket."""
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    sum: float | None = None
    """Rollup points of summed metrics (steps, active_zone_minutes): the bucket's total."""
    stage_epochs: list[int] | None = None
    """Rollup points of sleep_stage: 30 s epochs per stage (wake, light, deep, rem)."""
    imputed_minutes: int | None = None
    """`imputed=include|only`, rollup points: how many of the bucket's `count` values are imputed minutes (each
    imputed minute counts as one value, its 1-minute estimate)."""
    imputed: bool | None = None
    """`imputed=include|only`: true on a point that is one imputed minute, false on observed points and buckets."""
    imputation_run: str | None = None
    """Imputed points: the run that imputed them."""
    standard_error: float | None = None
    """Imputed points: the estimate's standard error."""
    lower: float | None = None
    """Imputed points: the lower bound of the 95 % interval."""
    upper: float | None = None
    """Imputed points: the upper bound of the 95 % interval."""


class SeriesPage(msgspec.Struct, frozen=True, kw_only=True):
    participant_id: str
    metric: str
    unit: str
    start: dt.datetime
    end: dt.datetime
    resolution: Literal["raw", "1m", "1h", "1d"]
    """The stored resolution the points come from."""
    bucket_seconds: int | None
    """Width of each rollup point (a multiple of the stored resolution when `auto` merged buckets)."""
    points: list[Point]
    next_cursor: str | None
    imputed: Imputed = "exclude"
    """Whether imputed minutes are left out (`exclude`), served with the observed data (`include`) or alone."""
    imputation_run: str | None = None
    """The imputation run the imputed points come from (null with `exclude`, or when no run covers the series)."""
