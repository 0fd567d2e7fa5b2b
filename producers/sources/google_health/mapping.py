"""Data points → ReadingBatches, one batch per page and metric, values exactly as the service sent them.

| metric | data type (`list` path) | reading | resolution |
|---|---|---|---|
| heart_rate | `heart-rate` | `beatsPerMinute` at `sampleTime` | 1 s (5 s when still) |
| steps | `steps` | `count` at the interval's start | 1 min |
| active_zone_minutes | `active-zone-minutes` | `activeZoneMinutes` (1 fat burn, 2 cardio/peak) at start | 1 min |
| spo2 | `oxygen-saturation` | `percentage` at `sampleTime` | 1 min, in sleep |
| hrv_rmssd | `heart-rate-variability` | `rootMeanSquareOfSuccessive…Milliseconds` at `sampleTime` | 5 min, in sleep |
| breathing_rate | `respiratory-rate-sleep-summary` | `breathsPerMinute` per stage, `sampleTime` + 0–3 ms | per sleep |
| sleep_stage | `sleep` | the stage of each 30 s epoch from the session's start | 30 s |

Breathing rate's offsets (full night / light / deep / rem, `stage` column -1 / 1 / 2 / 3) give each stage its
own timestamp, as the Fitbit importer and the simulator stamp them.

What the wire format cannot carry is said, not hidden: times are epoch milliseconds, so digits below the
millisecond are dropped (the service's times are whole seconds in practice); HRV's `coverage`, `lf` and `hf`
columns are NaN (the service does not report them); sleep's ASLEEP counts as light and RESTLESS as wake, as
Fitbit's classic logs do. Anything else unexpected (an unknown sleep stage, a malformed time, a missing value)
raises `MappingError` naming the point: the page is refused whole, never published in part.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeVar

import numpy as np

from producers.sources.google_health import shapes
from schemas.metrics import SleepStage
from schemas.readings import ReadingBatch, make_batch

_T = TypeVar("_T")
EPOCH_MS: Final = 30_000
MAX_SLEEP_EPOCHS: Final = 7 * 24 * 120
FULL_NIGHT_STAGE: Final = -1
_TIME: Final = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")
STAGE_OF_TYPE: Final = {
    "AWAKE": SleepStage.WAKE,
    "RESTLESS": SleepStage.WAKE,
    "LIGHT": SleepStage.LIGHT,
    "ASLEEP": SleepStage.LIGHT,
    "DEEP": SleepStage.DEEP,
    "REM": SleepStage.REM,
}
_BREATHING_STAGES: Final = (
    ("full_sleep_stats", FULL_NIGHT_STAGE, 0),
    ("light_sleep_stats", int(SleepStage.LIGHT), 1),
    ("deep_sleep_stats", int(SleepStage.DEEP), 2),
    ("rem_sleep_stats", int(SleepStage.REM), 3),
)


class MappingError(ValueError):
    """A data point that cannot be mapped without changing it; `where` names it (data type and index)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


@dataclass
class Columns:
    timestamps: list[int] = field(default_factory=list)
    values: list[float | int] = field(default_factory=list)
    extra: dict[str, list[float]] = field(default_factory=dict)

    def add(self, timestamp: int, value: float | int, **extra: float) -> None:
        self.timestamps.append(timestamp)
        self.values.append(value)
        for name, column_value in extra.items():
            self.extra.setdefault(name, []).append(column_value)


@dataclass(frozen=True)
class DataType:
    metric: str
    path: str
    """The data type as the `list` URL names it (`users/me/dataTypes/{path}/dataPoints`)."""
    filter_field: str
    """The time field of the list filter (AIP-160)."""
    resolution_ms: int
    read: Callable[[shapes.DataPoint, Columns, str], None]
    max_page_size: int = 10_000


def epoch_ms(text: str, where: str) -> int:
    """An RFC 3339 time as epoch ms (digits below the millisecond dropped)."""
    match = _TIME.match(text)
    if match is None:
        raise MappingError(where, f"{text!r} is not an RFC 3339 time")
    base, fraction, offset = match.groups()
    moment = dt.datetime.fromisoformat(base + ("+00:00" if offset == "Z" else offset))
    millis = int((fraction or "").ljust(3, "0")[:3])
    return int(moment.timestamp()) * 1000 + millis


def _integer(value: int | str, where: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise MappingError(where, f"{value!r} is not an integer") from None


def _read_heart_rate(point: shapes.DataPoint, columns: Columns, where: str) -> None:
    sample = _need(point.heart_rate, where, "heartRate")
    columns.add(epoch_ms(sample.sample_time.physical_time, where), _integer(sample.beats_per_minute, where))


def _read_steps(point: shapes.DataPoint, columns: Columns, where: str) -> None:
    steps = _need(point.steps, where, "steps")
    columns.add(epoch_ms(steps.interval.start_time, where), _integer(steps.count, where))


def _read_azm(point: shapes.DataPoint, columns: Columns, where: str) -> None:
    azm = _need(point.active_zone_minutes, where, "activeZoneMinutes")
    columns.add(epoch_ms(azm.interval.start_time, where), _integer(azm.active_zone_minutes, where))


def _read_spo2(point: shapes.DataPoint, columns: Columns, where: str) -> None:
    sample = _need(point.oxygen_saturation, where, "oxygenSaturation")
    columns.add(epoch_ms(sample.sample_time.physical_time, where), sample.percentage)


def _read_hrv(point: shapes.DataPoint, columns: Columns, where: str) -> None:
    sample = _need(point.heart_rate_variability, where, "heartRateVariability")
    rmssd = sample.root_mean_square_of_successive_differences_milliseconds
    if rmssd is None:
        raise MappingError(where, "no rootMeanSquareOfSuccessiveDifferencesMilliseconds (RMSSD)")
    nan = float("nan")
    columns.add(epoch_ms(sample.sample_time.physical_time, where), rmssd, coverage=nan, lf=nan, hf=nan)


def _read_breathing(point: shapes.DataPoint, columns: Columns, where: str) -> None:
    summary = _need(point.respiratory_rate_sleep_summary, where, "respiratoryRateSleepSummary")
    at = epoch_ms(summary.sample_time.physical_time, where)
    present = [(stage, offset, stats) for name, stage, offset in _BREATHING_STAGES if (stats := getattr(summary, name))]
    if not present:
        raise MappingError(where, "no breathing rate: expected fullSleepStats or deep/light/remSleepStats")
    for stage, offset, stats in present:
        columns.add(at + offset, stats.breaths_per_minute, stage=float(stage))


def _read_sleep(point: shapes.DataPoint, columns: Columns, where: str) -> None:
    sleep = _need(point.sleep, where, "sleep")
    origin = epoch_ms(sleep.interval.start_time, where)
    end = epoch_ms(sleep.interval.end_time, where)
    size = -(-(end - origin) // EPOCH_MS)
    if not 0 <= size <= MAX_SLEEP_EPOCHS:
        raise MappingError(where, f"the session spans {size} epochs of 30 s (0 to 7 days expected)")
    labels = np.full(size, -1, dtype=np.int8)
    for index, segment in enumerate(sleep.stages):
        stage = STAGE_OF_TYPE.get(segment.type)
        if stage is None:
            raise MappingError(f"{where}.stages[{index}]", f"unknown sleep stage type {segment.type!r}")
        first = -(-(epoch_ms(segment.start_time, where) - origin) // EPOCH_MS)
        last = -(-(epoch_ms(segment.end_time, where) - origin) // EPOCH_MS)
        labels[max(first, 0) : min(last, size)] = stage
    for epoch in np.flatnonzero(labels >= 0):
        columns.add(origin + int(epoch) * EPOCH_MS, int(labels[epoch]))


def _need(value: _T | None, where: str, name: str) -> _T:
    if value is None:
        raise MappingError(where, f"the data point has no {name}")
    return value


DATA_TYPES: Final = {
    t.metric: t
    for t in (
        DataType("heart_rate", "heart-rate", "heart_rate.sample_time.physical_time", 1_000, _read_heart_rate),
        DataType("steps", "steps", "steps.interval.start_time", 60_000, _read_steps),
        DataType(
            "active_zone_minutes", "active-zone-minutes", "active_zone_minutes.interval.start_time", 60_000, _read_azm
        ),
        DataType("spo2", "oxygen-saturation", "oxygen_saturation.sample_time.physical_time", 60_000, _read_spo2),
        DataType(
            "hrv_rmssd",
            "heart-rate-variability",
            "heart_rate_variability.sample_time.physical_time",
            300_000,
            _read_hrv,
        ),
        DataType(
            "breathing_rate",
            "respiratory-rate-sleep-summary",
            "respiratory_rate_sleep_summary.sample_time.physical_time",
            0,
            _read_breathing,
        ),
        DataType("sleep_stage", "sleep", "sleep.interval.start_time", EPOCH_MS, _read_sleep, max_page_size=25),
    )
}
"""Every metric the connector delivers. Breathing rate has no fixed resolution: one summary per sleep."""


def page_batches(
    data_type: DataType,
    points: Sequence[shapes.DataPoint],
    *,
    participant_id: str,
    device_id: str,
    sync_time: int,
) -> list[ReadingBatch]:
    """The page's readings as (at most) one batch; none for an empty page."""
    columns = Columns()
    for index, point in enumerate(points):
        data_type.read(point, columns, f"{data_type.path}[{index}]")
    if not columns.timestamps:
        return []
    return [
        make_batch(
            participant_id=participant_id,
            metric=data_type.metric,
            device_id=device_id,
            sync_time=sync_time,
            timestamps=np.array(columns.timestamps, dtype=np.int64),
            values=np.array(columns.values, dtype=np.float64),
            extra={name: np.array(column, dtype=np.float64) for name, column in columns.extra.items()} or None,
        )
    ]
