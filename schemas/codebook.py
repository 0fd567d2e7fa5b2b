"""The metrics' part of the data dictionary, derived from the registry: what each metric is, its unit, range,
native resolution and precision, how it is stored, and the fields of its raw and rollup points.

One source for the API (`GET /v1/metrics`, the series' columns), the analyst client's frames and the export's
`codebook.json`.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

from schemas.metrics import METRICS, Aggregate, Metric, SleepStage

Level = Literal["raw", "1m", "1h", "1d"]
LEVELS: Final[tuple[Level, ...]] = ("raw", "1m", "1h", "1d")
STAGES: Final = tuple(stage.name.lower() for stage in SleepStage)
STORAGE: Final = (
    "lossless: each value is stored and served exactly as the source sent it; segments whose values are all "
    "exact at `precision` are kept as integers of it, any others bit-exact as float64"
)
EXTRA_UNITS: Final[dict[str, str]] = {"coverage": "fraction", "stage": "SleepStage code (-1 = full night)"}


class MetricEntry(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One metric of the codebook."""

    name: str
    unit: str
    description: str
    valid_range: tuple[float, float]
    """Readings outside [min, max] are refused at validation (dead-lettered)."""
    native_resolution_s: float | None
    """The device's sampling interval; null when irregular (breathing rate: per night and stage)."""
    precision: float
    """The registry's precision (1 / scale), for validation and display; it never rewrites a value."""
    storage: str
    rollup: Aggregate
    """How the 1 min / 1 h / 1 day rollups summarise it: `mean`, `sum` (+ the bucket's total) or `stage`."""
    raw_fields: list[str]
    """Columns of a raw point (`format=arrow|csv|parquet`; JSON nests the secondary ones in `extra`)."""
    rollup_fields: list[str]
    """Columns of a rollup point (JSON gives sleep stages' epochs as the list `stage_epochs`)."""
    units: dict[str, str]
    """Unit of each raw and rollup field that has one."""
    gap_threshold_s: int | None = None
    """A hole at least this long inside uploaded data is a `not_worn` gap (the wear signal only)."""
    extra_columns: list[str] = msgspec.field(default_factory=list)
    codes: dict[int, str] | None = None
    """Categorical metrics: what each code means."""


def point_fields(metric: Metric, level: str) -> list[str]:
    """The columns of a point of `metric` at `level` (`raw`, or a rollup level): `time`, then `value` and the
    secondary columns (raw), or `count, min, max, mean` (+ `sum` for summed metrics, + one `<stage>_epochs`
    per sleep stage)."""
    if level == "raw":
        return ["time", "value", *metric.extra_columns]
    fields = ["time", "count", "min", "max", "mean"]
    if metric.aggregate == "sum":
        fields.append("sum")
    if metric.aggregate == "stage":
        fields.extend(f"{stage}_epochs" for stage in STAGES)
    return fields


def field_units(metric: Metric, level: str) -> dict[str, str]:
    """Unit of each point field of `metric` at `level` that has one (`time` is UTC)."""
    units = {"time": "UTC"}
    if level == "raw":
        units["value"] = metric.unit
        units.update({name: EXTRA_UNITS[name] for name in metric.extra_columns if name in EXTRA_UNITS})
        return units
    units.update({"count": "readings", "min": metric.unit, "max": metric.unit, "mean": metric.unit})
    if metric.aggregate == "sum":
        units["sum"] = metric.unit
    if metric.aggregate == "stage":
        units.update({f"{stage}_epochs": "30 s epochs" for stage in STAGES})
    return units


IMPUTED_POINT_FIELDS: Final = ("imputed", "imputation_run", "standard_error", "lower", "upper")
"""Columns a series answer with `imputed=include|only` adds after the point fields: whether the point is one
imputed minute, the run that imputed it, its standard error and 95 % interval (null on observed points)."""


def imputed_fields(level: str) -> list[str]:
    """The columns `imputed=include|only` adds at `level`: for rollups first `imputed_minutes` (how many of the
    bucket's `count` values are imputed minutes), then `IMPUTED_POINT_FIELDS`."""
    return [*(() if level == "raw" else ("imputed_minutes",)), *IMPUTED_POINT_FIELDS]


def imputed_units(metric: Metric, level: str) -> dict[str, str]:
    units = {name: metric.unit for name in ("standard_error", "lower", "upper")}
    if level != "raw":
        units["imputed_minutes"] = "imputed minutes (each one of count's values)"
    return units


def metric_entry(metric: Metric) -> MetricEntry:
    return MetricEntry(
        name=metric.name,
        unit=metric.unit,
        description=metric.description,
        valid_range=(metric.min_value, metric.max_value),
        native_resolution_s=metric.resolution_s or None,
        precision=1 / metric.scale,
        storage=STORAGE,
        rollup=metric.aggregate,
        raw_fields=point_fields(metric, "raw"),
        rollup_fields=point_fields(metric, "1m"),
        units={**field_units(metric, "1m"), **field_units(metric, "raw")},
        gap_threshold_s=metric.gap_threshold_s,
        extra_columns=list(metric.extra_columns),
        codes={stage.value: stage.name.lower() for stage in SleepStage} if metric.aggregate == "stage" else None,
    )


CODEBOOK: Final[tuple[MetricEntry, ...]] = tuple(metric_entry(metric) for metric in METRICS.values())
"""Every metric of the registry, in registry order."""
