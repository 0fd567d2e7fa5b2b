"""Sleep logs (v1.2) → 30 s epochs of SleepStage codes.

Fitbit describes a night as level segments (`levels.data`: start, level, length in seconds) plus, for
"stages" logs, short wakes (`levels.shortData`, ≤ 3 min each) laid over them. The `sleep_stage` stream
carries one reading per 30 s epoch instead, which is what rollups and hypnograms need.
"""

from __future__ import annotations

import zoneinfo
from typing import Final

import numpy as np
import numpy.typing as npt

from producers.fitbit.errors import ShapeError
from producers.fitbit.localtime import to_utc_ms, wall_ms_of_datetime
from producers.fitbit.shapes import SleepLevel, SleepLog
from schemas.metrics import SleepStage

EPOCH_MS: Final = 30_000
MAX_EPOCHS: Final = 7 * 24 * 120
"""A log spanning more than a week is a broken file, not a night; refuse it before allocating for it."""

STAGE_OF_LEVEL: Final[dict[SleepLevel, SleepStage]] = {
    "wake": SleepStage.WAKE,
    "light": SleepStage.LIGHT,
    "deep": SleepStage.DEEP,
    "rem": SleepStage.REM,
    # "classic" logs (older devices, short naps): no stages, only these three.
    "awake": SleepStage.WAKE,
    "restless": SleepStage.WAKE,
    "asleep": SleepStage.LIGHT,
}


def sleep_epochs(
    log: SleepLog, zone: zoneinfo.ZoneInfo, json_path: str
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int8]]:
    """The log's epochs as (UTC epoch-start ms, SleepStage code), ascending and without repeats.

    Epoch k starts at `startTime` + 30 s·k. A `levels.data` segment labels every epoch whose start lies in
    [dateTime, dateTime + seconds); where data segments overlap the later one wins. `levels.shortData` then
    relabels the epochs it covers, but only epochs that `data` labelled: a short wake never extends the
    night. Segment starts are converted to UTC each on its own and lengths are elapsed seconds, so a night
    across a DST change keeps its true length.
    """
    data, short_data = log.levels.data, log.levels.short_data
    if not data:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int8)
    segments = [*data, *short_data]
    wall = np.array([wall_ms_of_datetime(log.start_time)] + [wall_ms_of_datetime(s.start) for s in segments])
    utc = to_utc_ms(wall, zone)
    origin, starts = int(utc[0]), utc[1:]
    lengths = np.array([s.seconds for s in segments], dtype=np.int64) * 1000
    first = _ceil_div(starts - origin, EPOCH_MS)
    end = _ceil_div(starts + lengths - origin, EPOCH_MS)

    base = int(first[: len(data)].min())
    size = int(end[: len(data)].max()) - base
    if size > MAX_EPOCHS:
        raise ShapeError(f'{json_path}["levels"]["data"]', f"the segments span {size} epochs, more than 7 days")
    labels = np.full(max(size, 0), -1, dtype=np.int8)
    for index, segment in enumerate(data):
        labels[first[index] - base : end[index] - base] = STAGE_OF_LEVEL[segment.level]
    in_night = labels >= 0
    for index, segment in enumerate(short_data, start=len(data)):
        low, high = (int(np.clip(edge - base, 0, labels.size)) for edge in (first[index], end[index]))
        labels[low:high] = np.where(in_night[low:high], STAGE_OF_LEVEL[segment.level], labels[low:high])

    epochs = np.flatnonzero(labels >= 0)
    return origin + (epochs + base) * EPOCH_MS, labels[epochs]


def _ceil_div(numerator: npt.NDArray[np.int64], denominator: int) -> npt.NDArray[np.int64]:
    return -(-numerator // denominator)
