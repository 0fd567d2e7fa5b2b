"""Seeds an account from ReadingBatches (the simulator's): each reading becomes the data point the Google Health
API would answer for it, at the batch's `sync_time` (so late uploads stay invisible until the clock reaches
them). Sleep epochs become sessions of stage segments; breathing-rate readings become one summary per night."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from typing import Any, Final

import numpy as np

from producers.sources.google_health.mapping import DATA_TYPES, EPOCH_MS
from schemas.metrics import SleepStage
from schemas.readings import ReadingBatch
from tests.contract.google_health.state import Account, Point

SOURCE: Final = {"recordingMethod": "PASSIVELY_MEASURED", "device": {"displayName": "Charge 6"}, "platform": "FITBIT"}
STAGE_TYPE: Final = {
    SleepStage.WAKE: "AWAKE",
    SleepStage.LIGHT: "LIGHT",
    SleepStage.DEEP: "DEEP",
    SleepStage.REM: "REM",
}
BREATHING_FIELD: Final = {-1: "fullSleepStats", 1: "lightSleepStats", 2: "deepSleepStats", 3: "remSleepStats"}
BREATHING_OFFSET: Final = {-1: 0, 1: 1, 2: 2, 3: 3}


def iso(ms: int) -> str:
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{ms % 1000:03d}Z" if ms % 1000 else f"{text}Z"


def _sample(ms: int) -> dict[str, str]:
    return {"physicalTime": iso(ms), "utcOffset": "0s"}


def _interval(ms: int, length_ms: int) -> dict[str, str]:
    return {"startTime": iso(ms), "endTime": iso(ms + length_ms)}


def _point(field: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"dataSource": SOURCE, field: value}


def _whole(value: float) -> str:
    assert float(value).is_integer(), f"{value} is not whole: the service sends these as int64"
    return str(int(value))


def _simple(batch: ReadingBatch) -> list[Point]:
    times, values = batch.timestamps_array().tolist(), batch.values_float64().tolist()
    metric, sync = batch.metric, batch.sync_time
    if metric == "heart_rate":
        bodies = [
            _point("heartRate", {"sampleTime": _sample(t), "beatsPerMinute": _whole(v)})
            for t, v in zip(times, values, strict=True)
        ]
    elif metric == "steps":
        bodies = [
            _point("steps", {"interval": _interval(t, 60_000), "count": _whole(v)})
            for t, v in zip(times, values, strict=True)
        ]
    elif metric == "active_zone_minutes":
        bodies = [
            _point(
                "activeZoneMinutes",
                {
                    "interval": _interval(t, 60_000),
                    "heartRateZone": "FAT_BURN" if v == 1 else "CARDIO",
                    "activeZoneMinutes": _whole(v),
                },
            )
            for t, v in zip(times, values, strict=True)
        ]
    elif metric == "spo2":
        bodies = [
            _point("oxygenSaturation", {"sampleTime": _sample(t), "percentage": v})
            for t, v in zip(times, values, strict=True)
        ]
    elif metric == "hrv_rmssd":
        key = "rootMeanSquareOfSuccessiveDifferencesMilliseconds"
        bodies = [
            _point("heartRateVariability", {"sampleTime": _sample(t), key: v})
            for t, v in zip(times, values, strict=True)
        ]
    else:
        raise ValueError(metric)
    return [Point(t, sync, body) for t, body in zip(times, bodies, strict=True)]


def _breathing(batch: ReadingBatch) -> list[Point]:
    nights: dict[int, dict[str, Any]] = {}
    stages = batch.extra_array("stage").astype(int).tolist()
    for t, v, stage in zip(batch.timestamps_array().tolist(), batch.values_float64().tolist(), stages, strict=True):
        base = t - BREATHING_OFFSET[stage]
        nights.setdefault(base, {"sampleTime": _sample(base)})[BREATHING_FIELD[stage]] = {"breathsPerMinute": v}
    return [Point(base, batch.sync_time, _point("respiratoryRateSleepSummary", s)) for base, s in nights.items()]


def _sleep(batch: ReadingBatch) -> list[Point]:
    times = batch.timestamps_array()
    codes = batch.values_array().astype(int)
    breaks = np.flatnonzero(np.diff(times) != EPOCH_MS) + 1
    points = []
    for session_times, session_codes in zip(np.split(times, breaks), np.split(codes, breaks), strict=True):
        changes = [0, *(np.flatnonzero(np.diff(session_codes)) + 1).tolist(), len(session_codes)]
        stages = [
            {
                "startTime": iso(int(session_times[a])),
                "endTime": iso(int(session_times[a]) + (b - a) * EPOCH_MS),
                "type": STAGE_TYPE[SleepStage(int(session_codes[a]))],
            }
            for a, b in itertools.pairwise(changes)
        ]
        start = int(session_times[0])
        body = {"interval": _interval(start, len(session_times) * EPOCH_MS), "type": "STAGES", "stages": stages}
        points.append(Point(start, batch.sync_time, _point("sleep", body)))
    return points


def _points(batch: ReadingBatch) -> list[Point]:
    if batch.metric == "breathing_rate":
        return _breathing(batch)
    if batch.metric == "sleep_stage":
        return _sleep(batch)
    return _simple(batch)


def seed(account: Account, batches: Iterable[ReadingBatch]) -> int:
    """Adds the batches' readings to the account; returns how many readings."""
    readings = 0
    points: dict[str, list[Point]] = {}
    for batch in batches:
        readings += len(batch)
        points.setdefault(DATA_TYPES[batch.metric].path, []).extend(_points(batch))
    for data_type, added in points.items():  # one sort per data type, not one per batch
        account.add(data_type, added)
    return readings


def correct(account: Account, batches: Iterable[ReadingBatch]) -> int:
    """Uploads the batches' readings as corrections of the points at their times (from each batch's `sync_time`
    on, the service lists the corrected values); returns how many points they replaced."""
    return sum(account.correct(DATA_TYPES[batch.metric].path, _points(batch)) for batch in batches)
