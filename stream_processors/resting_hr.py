"""Nightly and hourly resting heart rate from 1-minute rollups: what the illness detectors read.

The input is one participant's minutes with heart rate (start of each minute, its mean HR, its stored steps
or NaN when no steps value is stored), in any span. A night is dated by the local date of its morning:
- `resting_hr`: the mean, over the minutes 00:00–06:59 local with steps = 0, of each minute's mean HR — the
  daily summaries' `resting_hr` (NightSignal's definition); `resting_hr_lab` the same as the lab's script
  computes it (each minute's HR truncated to an integer, their mean truncated too);
- `hourly`: per local hour of that date, the median HR of the minutes with no steps in them nor in the
  `rest_after_steps_minutes` minutes before (RHR-Diff's resting minutes), NaN where an hour has none.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Final

import numpy as np
import numpy.typing as npt

from stream_processors.detectors.base import NightInput

MINUTE_MS: Final = 60_000
HOUR_MS: Final = 60 * MINUTE_MS
DAY_MS: Final = 24 * HOUR_MS
NIGHT_END_MINUTE: Final = 7 * 60
"""Minutes of the local day in the night window: 00:00–06:59."""
REST_AFTER_STEPS_MINUTES: Final = 10
_EPOCH: Final = dt.date(1970, 1, 1)

Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def local_time_ms(timestamps_ms: Int64Array, timezone: str) -> Int64Array:
    """Local wall-clock time of each timestamp, as epoch-like ms (the UTC offset looked up once per UTC hour)."""
    zone = zoneinfo.ZoneInfo(timezone)
    hours, inverse = np.unique(timestamps_ms // HOUR_MS, return_inverse=True)
    offsets = np.array(
        [
            # The offset in force at that instant (tz=zone), not the offset of a wall time that reads the same.
            dt.datetime.fromtimestamp(int(h) * 3600, tz=zone).utcoffset().total_seconds() * 1000  # type: ignore[union-attr]
            for h in hours
        ],
        dtype=np.int64,
    )
    return timestamps_ms + offsets[inverse]


def night_inputs(
    minute_ms: Int64Array,
    hr_mean: FloatArray,
    steps: FloatArray,
    timezone: str,
    *,
    rest_after_steps_minutes: int = REST_AFTER_STEPS_MINUTES,
) -> list[NightInput]:
    """One NightInput per local date with at least one resting minute in its night window, ascending.

    `minute_ms` must be sorted and unique, each a whole minute; `steps` NaN where no steps value is stored.
    """
    minute_ms = np.asarray(minute_ms, dtype=np.int64)
    hr_mean = np.asarray(hr_mean, dtype=np.float64)
    steps = np.asarray(steps, dtype=np.float64)
    if not minute_ms.size:
        return []
    if minute_ms.shape != hr_mean.shape or minute_ms.shape != steps.shape:
        raise ValueError("minute_ms, hr_mean and steps must have the same length")
    if np.any(np.diff(minute_ms) <= 0) or np.any(minute_ms % MINUTE_MS):
        raise ValueError("minute_ms must be whole minutes, sorted and unique")
    local = local_time_ms(minute_ms, timezone)
    day = local // DAY_MS
    minute_of_day = (local % DAY_MS) // MINUTE_MS

    night = (minute_of_day < NIGHT_END_MINUTE) & (steps == 0)
    night_days, night_index = np.unique(day[night], return_inverse=True)
    counts = np.bincount(night_index, minlength=night_days.size)
    means = np.bincount(night_index, weights=hr_mean[night], minlength=night_days.size) / counts
    truncated = np.bincount(night_index, weights=np.trunc(hr_mean[night]), minlength=night_days.size)

    resting = _rested(minute_ms, steps, rest_after_steps_minutes)
    hourly = _hourly_medians(day[resting], minute_of_day[resting] // 60, hr_mean[resting])
    return [
        NightInput(
            night=_EPOCH + dt.timedelta(days=int(d)),
            resting_hr=float(means[i]),
            resting_hr_lab=int(int(truncated[i]) / int(counts[i])),
            minutes=int(counts[i]),
            hourly=hourly.get(int(d), ()),
        )
        for i, d in enumerate(night_days.tolist())
    ]


def _rested(minute_ms: Int64Array, steps: FloatArray, before: int) -> npt.NDArray[np.bool_]:
    """Minutes with a stored 0 steps and no steps > 0 in the `before` minutes preceding them."""
    first = int(minute_ms[0]) // MINUTE_MS - before
    index = minute_ms // MINUTE_MS - first
    moving = np.zeros(int(index[-1]) + 1, dtype=np.int64)
    moving[index[steps > 0]] = 1
    recent = np.concatenate(([0], np.cumsum(moving)))
    # Steps in [m − before, m]: cumulative counts up to m minus up to m − before − 1.
    low = np.maximum(index - before, 0)
    rested: npt.NDArray[np.bool_] = (steps == 0) & (recent[index + 1] - recent[low] == 0)
    return rested


def _hourly_medians(days: Int64Array, hours: Int64Array, values: FloatArray) -> dict[int, tuple[float, ...]]:
    """Exact median per (local day, hour) of `values`, as 24 values per day (NaN where an hour has none)."""
    if not days.size:
        return {}
    order = np.lexsort((values, hours, days))
    key = (days * 24 + hours)[order]
    ordered = values[order]
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    ends = np.append(starts[1:], key.size)
    n = ends - starts
    medians = (ordered[starts + (n - 1) // 2] + ordered[starts + n // 2]) / 2
    out: dict[int, list[float]] = {}
    for k, median in zip(key[starts].tolist(), medians.tolist(), strict=True):
        out.setdefault(k // 24, [float("nan")] * 24)[k % 24] = median
    return {d: tuple(row) for d, row in out.items()}
