"""RHR-Diff / CuSum (after Mishra et al., Nat Biomed Eng 2020): hourly resting HR against a rolling baseline.

Each local day brings 24 hourly medians of resting HR (minutes with no steps in the preceding minutes; see
`stream_processors.resting_hr`). Every hour is z-scored against the same hour of day over the previous
`baseline_days` days (clipped to ±`z_clip`), and the CuSum statistic W = max(0, W + z − r) accumulates the
excess over an offset r, the `offset_quantile` of the baseline's own z-scores. The alarm threshold is the
(1 − `threshold_p`) quantile of W when the same CuSum runs over the baseline, so a healthy baseline crosses it
with probability about `threshold_p` in a given hour. A day is yellow when W has stayed above the threshold
for `alert_hours` hours in a row, red when for `sustained_hours`. The outcome's value is the day's highest W,
its baseline the threshold.
"""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Iterable
from typing import Final

import msgspec
import numpy as np
import numpy.typing as npt

from stream_processors.detectors.base import Level, NightInput, NightOutcome, check_order

HOURS: Final = 24
_NAN_DAY: Final = np.full(HOURS, np.nan)

FloatArray = npt.NDArray[np.float64]


class CusumConfig(msgspec.Struct, frozen=True, kw_only=True):
    baseline_days: int = 28
    min_baseline_days: int = 14
    """Days of the window an hour of day needs values on before it is z-scored."""
    z_clip: float = 4.0
    offset_quantile: float = 0.9
    threshold_p: float = 0.01
    alert_hours: int = 3
    """Hours in a row W must stay above the threshold for a yellow alert."""
    sustained_hours: int = 12
    """… and for a red one."""
    min_sd_bpm: float = 1.0
    """Floor of an hour's baseline standard deviation (a flat baseline would make every change infinite)."""

    def __post_init__(self) -> None:
        if not 1 <= self.min_baseline_days <= self.baseline_days:
            raise ValueError(f"need 1 ≤ min_baseline_days ≤ baseline_days, got {self.min_baseline_days}")
        if not 0 < self.threshold_p < 1 or not 0 < self.offset_quantile < 1:
            raise ValueError("threshold_p and offset_quantile must lie strictly between 0 and 1")
        if not 1 <= self.alert_hours <= self.sustained_hours:
            raise ValueError(f"need 1 ≤ alert_hours ≤ sustained_hours, got {self.alert_hours}, {self.sustained_hours}")
        if self.z_clip <= 0 or self.min_sd_bpm <= 0:
            raise ValueError("z_clip and min_sd_bpm must be positive")


class CusumDetector:
    name = "cusum"

    def __init__(self, config: CusumConfig | None = None) -> None:
        self.config = config or CusumConfig()

    def tracker(self) -> CusumTracker:
        return CusumTracker(self.config)

    def batch(self, nights: Iterable[NightInput]) -> list[NightOutcome]:
        """Every day judged against the days of the full history that fall in its window."""
        days = sorted(nights, key=lambda night: night.night)
        hourly = {night.night: _hourly(night) for night in days}
        w, run = 0.0, 0
        outcomes: list[NightOutcome] = []
        for night in days:
            window = [
                hourly[d]
                for d in (night.night - dt.timedelta(days=i) for i in range(self.config.baseline_days, 0, -1))
                if d in hourly
            ]
            outcome, w, run = _judge(self.config, night.night, window, hourly[night.night], w, run)
            outcomes.append(outcome)
        return outcomes


class CusumTracker:
    """One participant's CuSum state: the last `baseline_days` days of hourly values, W and the run above."""

    def __init__(self, config: CusumConfig) -> None:
        self.config = config
        self._window: collections.deque[tuple[dt.date, FloatArray]] = collections.deque()
        self._w = 0.0
        self._run = 0
        self._last: dt.date | None = None

    def push(self, night: NightInput) -> list[NightOutcome]:
        check_order(self._last, night.night)
        self._last = night.night
        first = night.night - dt.timedelta(days=self.config.baseline_days)
        while self._window and self._window[0][0] < first:
            self._window.popleft()
        today = _hourly(night)
        outcome, self._w, self._run = _judge(
            self.config, night.night, [values for _, values in self._window], today, self._w, self._run
        )
        self._window.append((night.night, today))
        return [outcome]


def _hourly(night: NightInput) -> FloatArray:
    if not night.hourly:
        return _NAN_DAY
    if len(night.hourly) != HOURS:
        raise ValueError(f"night {night.night}: hourly needs {HOURS} values, got {len(night.hourly)}")
    return np.asarray(night.hourly, dtype=np.float64)


def _judge(
    config: CusumConfig, night: dt.date, window: list[FloatArray], today: FloatArray, w: float, run: int
) -> tuple[NightOutcome, float, int]:
    """The day's outcome and the carried (W, hours above the threshold in a row)."""
    if not window:
        return NightOutcome(night=night, value=None, baseline=None), w, run
    baseline = np.vstack(window)
    enough = np.count_nonzero(~np.isnan(baseline), axis=0) >= config.min_baseline_days
    if not enough.any():
        return NightOutcome(night=night, value=None, baseline=None), w, run
    mean = np.nanmean(np.where(enough, baseline, 0.0), axis=0)
    sd = np.maximum(np.nanstd(np.where(enough, baseline, 0.0), axis=0), config.min_sd_bpm)
    base_z = np.clip((baseline[:, enough] - mean[enough]) / sd[enough], -config.z_clip, config.z_clip).ravel()
    base_z = base_z[~np.isnan(base_z)]
    offset = float(np.quantile(base_z, config.offset_quantile))
    # W over the baseline in closed form: W_t = S_t − min(S_0 … S_t) for S the running sum of z − r, S_0 = 0.
    path = np.concatenate(([0.0], np.cumsum(base_z - offset)))
    threshold = max(float(np.quantile(path - np.minimum.accumulate(path), 1.0 - config.threshold_p)), 1e-9)
    z = np.clip((today - mean) / sd, -config.z_clip, config.z_clip)
    highest, longest = 0.0, 0
    for hour in range(HOURS):
        if not enough[hour] or np.isnan(z[hour]):
            continue
        w = max(0.0, w + float(z[hour]) - offset)
        run = run + 1 if w > threshold else 0
        highest, longest = max(highest, w), max(longest, run)
    level: Level | None = None
    if longest >= config.sustained_hours:
        level = "red"
    elif longest >= config.alert_hours:
        level = "yellow"
    return NightOutcome(night=night, value=highest, baseline=threshold, level=level), w, run
