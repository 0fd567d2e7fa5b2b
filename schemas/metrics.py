"""The metric registry: the single source for units, resolutions, valid ranges, wire types and gap thresholds.

Every other part of wearstream (simulator, importer, validator, rollups, API, dashboards) reads metric facts
from here; nothing else hard-codes a range or a unit.
"""

from __future__ import annotations

import enum
from typing import Final, Literal

import msgspec

Aggregate = Literal["mean", "sum", "stage"]


class SleepStage(enum.IntEnum):
    """Sleep stages as the small integers carried in `sleep_stage` batches (30 s epochs).

    Fitbit "classic" sleep logs map `awake`/`restless` to WAKE and `asleep` to LIGHT.
    """

    WAKE = 0
    LIGHT = 1
    DEEP = 2
    REM = 3


class Metric(msgspec.Struct, frozen=True, kw_only=True):
    """Facts about one metric. `scale` is the registry's precision (1 / scale), for validation and display:
    it never alters data. Raw segments whose values are exact at this scale keep it as their layout."""

    name: str
    unit: str
    resolution_s: float
    """Native sampling interval of the device, in seconds (0 when irregular, e.g. per night)."""
    min_value: float
    max_value: float
    wire_dtype: str
    """numpy dtype (little-endian) of the `values` column in a ReadingBatch when it carries every value exactly
    (else the batch sends float64: `ReadingBatch.values_dtype`)."""
    scale: int
    aggregate: Aggregate
    """How 1 min / 1 h / 1 day rollups summarise this metric (all also keep count, min, max, mean)."""
    gap_threshold_s: int | None
    """A hole at least this long inside uploaded data counts as `not_worn` (None: no wear gaps)."""
    extra_columns: tuple[str, ...] = ()
    """Secondary columns carried beside `values` (e.g. HRV coverage, lf, hf), float32 on the wire."""
    description: str = ""


HEART_RATE: Final = Metric(
    name="heart_rate",
    unit="bpm",
    resolution_s=1,
    min_value=25,
    max_value=250,
    wire_dtype="<i2",
    scale=1,
    aggregate="mean",
    gap_threshold_s=10 * 60,
    description="Heart rate, 1 s while moving and ~5 s while still; the wear signal (no HR: not worn).",
)
STEPS: Final = Metric(
    name="steps",
    unit="steps",
    resolution_s=60,
    min_value=0,
    max_value=300,
    wire_dtype="<i2",
    scale=1,
    aggregate="sum",
    gap_threshold_s=None,
    description="Steps per minute; 0 also when the device is not worn.",
)
ACTIVE_ZONE_MINUTES: Final = Metric(
    name="active_zone_minutes",
    unit="AZM",
    resolution_s=60,
    min_value=0,
    max_value=2,
    wire_dtype="<i1",
    scale=1,
    aggregate="sum",
    gap_threshold_s=None,
    description="Active zone minutes per minute: 1 in the fat-burn zone, 2 in cardio or peak.",
)
SPO2: Final = Metric(
    name="spo2",
    unit="%",
    resolution_s=60,
    min_value=70,
    max_value=100,
    wire_dtype="<f4",
    scale=10,
    aggregate="mean",
    gap_threshold_s=None,
    description="Blood oxygen saturation per minute during sleep, 0.1 % precision.",
)
HRV_RMSSD: Final = Metric(
    name="hrv_rmssd",
    unit="ms",
    resolution_s=300,
    min_value=5,
    max_value=250,
    wire_dtype="<f4",
    scale=1000,
    aggregate="mean",
    gap_threshold_s=None,
    extra_columns=("coverage", "lf", "hf"),
    description="Heart-rate variability (RMSSD) per 5 min during sleep, with coverage, lf and hf.",
)
BREATHING_RATE: Final = Metric(
    name="breathing_rate",
    unit="breaths/min",
    resolution_s=0,
    min_value=4,
    max_value=40,
    wire_dtype="<f4",
    scale=1000,
    aggregate="mean",
    gap_threshold_s=None,
    extra_columns=("stage",),
    description="Breathing rate per night and sleep stage (stage column: SleepStage code, -1 for the full night).",
)
SLEEP_STAGE: Final = Metric(
    name="sleep_stage",
    unit="stage",
    resolution_s=30,
    min_value=0,
    max_value=3,
    wire_dtype="<i1",
    scale=1,
    aggregate="stage",
    gap_threshold_s=None,
    description="Sleep stage per 30 s epoch: 0 wake, 1 light, 2 deep, 3 rem (see SleepStage).",
)

METRICS: Final[dict[str, Metric]] = {
    m.name: m for m in (HEART_RATE, STEPS, ACTIVE_ZONE_MINUTES, SPO2, HRV_RMSSD, BREATHING_RATE, SLEEP_STAGE)
}
METRIC_IDS: Final[dict[str, int]] = {name: i for i, name in enumerate(METRICS, start=1)}
"""Stable small-integer ids used in the database; append new metrics at the end."""


class UnknownMetricError(KeyError):
    """Raised for a metric name that the registry does not define."""


def get_metric(name: str) -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        raise UnknownMetricError(name) from None
