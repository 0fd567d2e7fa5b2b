"""What simulating one participant-day returns: the readings, their upload-sized batches, and ground truth."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import msgspec
import numpy as np
import numpy.typing as npt

from producers.simulator.grid import BoolArray, Int64Array
from schemas.metrics import get_metric
from schemas.readings import ReadingBatch


class Interval(msgspec.Struct, frozen=True):
    """[start_ms, end_ms), epoch milliseconds."""

    start_ms: int
    end_ms: int

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


class MetricReadings(msgspec.Struct, frozen=True, kw_only=True, eq=False):
    """One metric's readings of a day, columnar: `timestamps` sorted and unique (int64 epoch ms), `values` in
    the metric's wire dtype, each extra column float32 and as long as `timestamps`."""

    timestamps: Int64Array
    values: npt.NDArray[np.generic]
    extra: dict[str, npt.NDArray[np.float32]] = {}

    def __len__(self) -> int:
        return int(self.timestamps.size)

    def select(self, keep: BoolArray) -> MetricReadings:
        """The readings where `keep` is true."""
        return MetricReadings(
            timestamps=self.timestamps[keep],
            values=self.values[keep],
            extra={column: array[keep] for column, array in self.extra.items()},
        )


def metric_readings(
    metric: str, timestamps: npt.ArrayLike, values: npt.ArrayLike, extra: Mapping[str, npt.ArrayLike] | None = None
) -> MetricReadings:
    """Readings of `metric` with each column converted to its wire dtype (values rounded by the caller)."""
    return MetricReadings(
        timestamps=np.ascontiguousarray(timestamps, dtype=np.int64),
        values=np.ascontiguousarray(values, dtype=np.dtype(get_metric(metric).wire_dtype)),
        extra={column: np.ascontiguousarray(array, dtype=np.float32) for column, array in (extra or {}).items()},
    )


def concat_readings(metric: str, parts: list[MetricReadings]) -> MetricReadings:
    """Consecutive parts joined; no parts gives the metric's empty readings, extra columns included."""
    if not parts:
        empty = np.zeros(0)
        return metric_readings(metric, empty, empty, dict.fromkeys(get_metric(metric).extra_columns, empty))
    return MetricReadings(
        timestamps=np.concatenate([part.timestamps for part in parts]),
        values=np.concatenate([part.values for part in parts]),
        extra={column: np.concatenate([part.extra[column] for part in parts]) for column in parts[0].extra},
    )


class DayTruth(msgspec.Struct, frozen=True, kw_only=True):
    """What really happened on the day, for scoring gap and anomaly detection.

    `not_worn` is computed from the generated heart rate itself: every hole of at least the registry's
    heart-rate `gap_threshold_s` inside the day, as [last HR reading before it (or 00:00 UTC), first HR
    reading after it (or the next 00:00 UTC)). A device off across midnight thus gives one interval on each
    day, each reported if its part in that day is long enough; a day without HR is one full-day interval.
    """

    not_worn: list[Interval]
    uploads: list[int]
    """Sync times of the uploads carrying readings of this day, ascending (some fall on later days)."""
    illness: bool
    """Resting HR is raised during a night whose sleep overlaps this day."""
    dropped_out: bool
    worn_minutes: int
    """Minutes of the day with at least one HR reading."""
    illness_raise_bpm: float = 0.0
    """How much resting HR is raised in that night (4–8 bpm when ill, else 0)."""
    enrolled: bool = True
    authorised: bool = True
    """False for `never` participants, and for `expired`/`revoked` ones from the day uploads stop."""
    sleep: list[Interval] = []
    """Recorded nights (device worn) whose sleep overlaps this day, unclipped: [onset, wake-up)."""
    not_synced: list[Interval] = []
    """Parts of the day in gaps between consecutive uploads (or since enrolment, or after the last upload
    ever) of at least the simulator's `not_synced_after_s`; each gap given as [earlier upload, later upload)
    clipped to the day."""
    symptom_onset: bool = False
    """This day is the symptom onset of an illness episode (only with an `EpisodeModel`; its local date)."""


class ParticipantDay(msgspec.Struct, frozen=True, kw_only=True, eq=False):
    """One participant's UTC day: every registry metric's readings, the batches that deliver them, the truth."""

    participant_id: str
    day: dt.date
    readings: dict[str, MetricReadings]
    """Every metric of schemas.metrics.METRICS, possibly empty: exactly what the day's batches carry."""
    batches: list[ReadingBatch]
    """One per upload × metric with readings, sorted by (sync_time, metric)."""
    truth: DayTruth
