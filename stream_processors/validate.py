"""Validate: decode a ReadingBatch, check every field, and keep the readings that the registry allows.

Every field is checked before anything reaches numpy or SQL: ids (charset, length, no NUL), the time zone
(the zone database), the sync time, the columns (lengths, dtypes, at most MAX_READINGS readings).
A message that cannot be used at all raises InvalidMessage (the whole message goes to the dead-letter topic).
A partly bad batch keeps its good readings; the rejected ones are counted by reason and the original message
is dead-lettered beside them, so nothing is silently lost.
"""

from __future__ import annotations

from collections import Counter
from typing import Final

import msgspec
import numpy as np
import numpy.typing as npt

from schemas.identifiers import MIN_PLAUSIBLE_MS, identifier_problem, instant_problem, timezone_problem
from schemas.metrics import METRIC_IDS, METRICS, Metric
from schemas.readings import TIMESTAMP_DTYPE, ReadingBatch, decode_batch
from stream_processors.envelope import Envelope
from stream_processors.errors import InvalidMessage

DAY_MS: Final = 24 * 3600 * 1000
ENROLMENT_GRACE_MS: Final = DAY_MS
"""Readings this long before enrolment are kept: devices are often set up the evening before, or in another
zone than recorded."""
MAX_READINGS: Final = 250_000
"""Readings per batch (one upload is at most a day of 1 Hz heart rate, 86,400); larger arrays are refused."""


class ValidBatch(msgspec.Struct, frozen=True, kw_only=True):
    """The usable part of one message: readings sorted by time, unique timestamps, values as received."""

    envelope: Envelope
    batch: ReadingBatch
    metric: Metric
    metric_id: int
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    extra: dict[str, npt.NDArray[np.float32]]
    rejected: dict[str, int]
    """Rejected readings by reason (empty when every reading was kept)."""

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def rejection_summary(self) -> str:
        details = ", ".join(f"{reason} ({count})" for reason, count in sorted(self.rejected.items()))
        return f"{self.rejected_total} of {self.rejected_total + len(self.timestamps)} readings rejected: {details}"


def validate(
    envelope: Envelope,
    *,
    expected_metric: str | None,
    now_ms: int,
    enrolment_start_ms: dict[str, int] | None = None,
    future_tolerance_ms: int = DAY_MS,
) -> ValidBatch:
    """Decodes and checks one message. Raises InvalidMessage when nothing in it can be used."""

    def invalid(reason: str) -> InvalidMessage:
        return InvalidMessage(topic=envelope.topic, partition=envelope.partition, offset=envelope.offset, reason=reason)

    try:
        batch = decode_batch(envelope.payload)
    except msgspec.ValidationError as error:
        raise invalid(f"schema: {error}") from None
    except msgspec.DecodeError as error:
        raise invalid(f"decode: {error}") from None
    metric = METRICS.get(batch.metric)
    if metric is None:
        raise invalid(f"unknown metric {batch.metric!r}")
    if expected_metric is not None and batch.metric != expected_metric:
        raise invalid(f"metric {batch.metric!r} on the topic of {expected_metric!r}")
    problem = _field_problem(batch)
    if problem is not None:
        raise invalid(problem)

    try:
        timestamps, values, extra = _columns(batch, metric)
    except ValueError as error:
        raise invalid(str(error)) from None
    if len(timestamps) == 0:
        raise invalid("empty batch")
    latest_ms = now_ms + future_tolerance_ms
    problem = instant_problem(batch.sync_time, latest_ms=latest_ms)
    if problem is not None:
        raise invalid(f"sync_time {problem}")

    enrolled = (enrolment_start_ms or {}).get(batch.participant_id)
    rejected: dict[str, int] = {}
    if not _all_kept(timestamps, values, metric, latest_ms, enrolled):
        reasons, codes = _reading_problems(timestamps, values, metric, latest_ms, enrolled)
        order = np.argsort(timestamps, kind="stable")
        keep = order[reasons[order] == 0]  # in time order, as before
        rejected = dict(Counter(codes[code] for code in reasons[reasons != 0].tolist()))
        if len(keep) == 0:
            raise invalid("no valid readings: " + ", ".join(f"{r} ({n})" for r, n in sorted(rejected.items())))
        timestamps, values = timestamps[keep], values[keep]
        extra = {column: column_values[keep] for column, column_values in extra.items()}
    return ValidBatch(
        envelope=envelope,
        batch=batch,
        metric=metric,
        metric_id=METRIC_IDS[metric.name],
        timestamps=timestamps,
        values=values,
        extra=extra,
        rejected=rejected,
    )


def _all_kept(
    timestamps: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    metric: Metric,
    latest_ms: int,
    enrolled: int | None,
) -> bool:
    """Whether `_reading_problems` would keep every reading, in a few whole-array comparisons: the common case
    of a device's upload, strictly increasing in time (so the first and last are the extremes), every value in
    range (NaN fails every comparison)."""
    earliest = MIN_PLAUSIBLE_MS if enrolled is None else max(MIN_PLAUSIBLE_MS, enrolled - ENROLMENT_GRACE_MS)
    return bool(
        timestamps[0] >= earliest
        and timestamps[-1] <= latest_ms
        and values.min() >= metric.min_value
        and values.max() <= metric.max_value
        and np.all(timestamps[1:] > timestamps[:-1])
    )


def _reading_problems(
    timestamps: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    metric: Metric,
    latest_ms: int,
    enrolled: int | None,
) -> tuple[npt.NDArray[np.int8], list[str]]:
    """Each reading's reason code (0 = kept) and the codes' texts: not a number, out of range, in the future,
    before enrolment, or a repeated timestamp (among readings otherwise kept, the first occurrence stays)."""
    reasons = np.zeros(len(timestamps), dtype=np.int8)  # 0 = kept
    codes = ["", "value not a number", f"value outside [{metric.min_value:g}, {metric.max_value:g}]"]
    codes += ["timestamp in the future", "timestamp before enrolment", "duplicate timestamp"]
    bad_value = ~np.isfinite(values)
    reasons[bad_value] = 1
    out_of_range = ~bad_value & ((values < metric.min_value) | (values > metric.max_value))
    reasons[out_of_range & (reasons == 0)] = 2
    too_late = timestamps > latest_ms
    reasons[(too_late | (timestamps < MIN_PLAUSIBLE_MS)) & (reasons == 0)] = 3
    if enrolled is not None:
        reasons[(timestamps < enrolled - ENROLMENT_GRACE_MS) & (reasons == 0)] = 4
    order = np.argsort(timestamps, kind="stable")
    order = order[reasons[order] == 0]
    sorted_ts = timestamps[order]
    duplicate = np.zeros(len(order), dtype=bool)
    duplicate[1:] = sorted_ts[1:] == sorted_ts[:-1]
    reasons[order[duplicate]] = 5
    return reasons, codes


def _field_problem(batch: ReadingBatch) -> str | None:
    """The first field of the batch (other than its columns and times) that cannot be used, as a reason."""
    for name, value, allow_empty in (
        ("participant_id", batch.participant_id, False),
        ("device_id", batch.device_id, True),
        ("batch_id", batch.batch_id, False),
    ):
        problem = identifier_problem(value, allow_empty=allow_empty)
        if problem is not None:
            return f"{name} {problem}"
    problem = timezone_problem(batch.timezone, allow_empty=True)
    if problem is not None:
        return f"timezone {problem}"
    if len(batch.timestamps) > MAX_READINGS * TIMESTAMP_DTYPE.itemsize:
        return f"{len(batch.timestamps) // TIMESTAMP_DTYPE.itemsize} readings in one batch (at most {MAX_READINGS})"
    return None


def _columns(
    batch: ReadingBatch, metric: Metric
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], dict[str, npt.NDArray[np.float32]]]:
    """The batch's columns as arrays; raises ValueError naming what does not fit together."""
    try:
        timestamps = batch.timestamps_array()
        values = batch.values_float64()
        extra = {column: batch.extra_array(column) for column in batch.extra}
    except ValueError as error:
        raise ValueError(f"column buffer: {error}") from None
    if len(values) != len(timestamps):
        raise ValueError(f"{len(timestamps)} timestamps but {len(values)} values")
    if set(extra) != set(metric.extra_columns):
        raise ValueError(f"extra columns {sorted(extra)}, expected {sorted(metric.extra_columns)}")
    for column, column_values in extra.items():
        if len(column_values) != len(timestamps):
            raise ValueError(f"extra column {column!r} has {len(column_values)} values for {len(timestamps)} readings")
    return timestamps, values, extra
