"""Nights: when a participant sleeps, the hypnogram in 30 s epochs, and what the device measures in sleep.

Night `n` begins in the evening of local date `start + n`. Each night is drawn from its own keys
(`NIGHT_TIMING`, `NIGHT_DETAIL` at index n), never from the simulated UTC day, so a night spanning midnight
UTC is the same night whichever day is simulated; a day merely clips it.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import msgspec
import numpy as np
import numpy.typing as npt

from producers.simulator.grid import (
    EPOCH_MS,
    HOUR_MS,
    MINUTE_MS,
    MINUTES_PER_DAY,
    BoolArray,
    FloatArray,
    Int64Array,
    local_midnight_ms,
)
from producers.simulator.model import MetricReadings, concat_readings, metric_readings
from producers.simulator.streams import Stream, rng_for
from producers.simulator.traits import ParticipantTraits
from schemas.metrics import SleepStage

_WAKE, _LIGHT, _DEEP, _REM = (int(s) for s in SleepStage)
_CYCLE_STAGES: Final = np.array([_LIGHT, _DEEP, _LIGHT, _REM, _WAKE], dtype=np.int8)
"""One ~90 min sleep cycle: light, deep, light, REM, then sometimes a brief awakening."""
_HR_BY_STAGE: Final = np.array([6.0, -2.0, -5.0, 1.0])
"""bpm relative to resting HR, indexed by SleepStage."""
_RMSSD_BY_STAGE: Final = np.array([0.8, 1.0, 1.25, 0.85])
_LF_HF_BY_STAGE: Final = np.array([2.5, 1.2, 0.5, 2.2])
BREATHING_STAGES: Final = np.array([-1, _LIGHT, _DEEP, _REM], dtype=np.float32)
"""`stage` column of a night's breathing-rate readings (-1: the full night); reading i is stamped end + i ms."""
HRV_WINDOW_MS: Final = 5 * MINUTE_MS


class NightTiming(msgspec.Struct, frozen=True, kw_only=True):
    """When night `n` is slept: [onset_ms, end_ms), onset on a whole minute, a whole number of 30 s epochs."""

    n: int
    onset_ms: int
    end_ms: int

    @property
    def n_epochs(self) -> int:
        return (self.end_ms - self.onset_ms) // EPOCH_MS


class Night(msgspec.Struct, frozen=True, kw_only=True, eq=False):
    """Everything the device would record during one night if worn throughout; days clip it."""

    timing: NightTiming
    stages: npt.NDArray[np.int8]
    """SleepStage per epoch; epoch i starts at onset_ms + 30 s · i."""
    sleep_hr: FloatArray
    """Heart rate per epoch before noise and illness, bpm."""
    spo2_ts: Int64Array
    spo2: npt.NDArray[np.float32]
    hrv_ts: Int64Array
    rmssd: npt.NDArray[np.float32]
    coverage: npt.NDArray[np.float32]
    lf: npt.NDArray[np.float32]
    hf: npt.NDArray[np.float32]
    breathing_rate: npt.NDArray[np.float32]
    """One value per entry of BREATHING_STAGES."""

    @property
    def epoch_ts(self) -> Int64Array:
        return self.timing.onset_ms + EPOCH_MS * np.arange(self.timing.n_epochs, dtype=np.int64)

    def readings(self) -> dict[str, MetricReadings]:
        """The night's sleep metrics in full; breathing rate is stamped at the wake-up (+ i ms for stage i)."""
        breathing_ts = self.timing.end_ms + np.arange(BREATHING_STAGES.size, dtype=np.int64)
        hrv_extra = {"coverage": self.coverage, "lf": self.lf, "hf": self.hf}
        return {
            "spo2": metric_readings("spo2", self.spo2_ts, self.spo2),
            "hrv_rmssd": metric_readings("hrv_rmssd", self.hrv_ts, self.rmssd, hrv_extra),
            "breathing_rate": metric_readings(
                "breathing_rate", breathing_ts, self.breathing_rate, {"stage": BREATHING_STAGES}
            ),
            "sleep_stage": metric_readings("sleep_stage", self.epoch_ts, self.stages),
        }


def night_timing(seed: int, traits: ParticipantTraits, start: dt.date, n: int) -> NightTiming:
    """Onset and length of night n: the chronotype, nightly jitter, and later, longer Friday/Saturday nights."""
    rng = rng_for(seed, traits.k, Stream.NIGHT_TIMING, n)
    onset_jitter, duration_jitter = np.clip(rng.normal(0.0, 0.6, size=2), -2.0, 2.0)
    local_date = start + dt.timedelta(days=n)
    weekend = local_date.weekday() in (4, 5)
    onset_h = traits.sleep_onset_h + onset_jitter + (0.5 if weekend else 0.0)
    duration_h = float(np.clip(traits.sleep_duration_h + duration_jitter + (0.4 if weekend else 0.0), 4.0, 10.5))
    midnight = local_midnight_ms(traits.timezone, local_date)
    onset = midnight + round(onset_h * HOUR_MS / MINUTE_MS) * MINUTE_MS
    return NightTiming(n=n, onset_ms=onset, end_ms=onset + round(duration_h * 120) * EPOCH_MS)


def hypnogram(rng: np.random.Generator, n_epochs: int) -> npt.NDArray[np.int8]:
    """Sleep stages of a night of `n_epochs` epochs: ~90 min cycles, deep sleep early, REM late, brief wakes."""
    n_cycles = n_epochs // 140 + 2
    expected_cycles = max(n_epochs / 180.0 - 1.0, 1.0)
    progress = np.minimum(np.arange(n_cycles) / expected_cycles, 1.0)
    length = np.clip(np.rint(rng.normal(180.0, 15.0, size=n_cycles)), 140, 230)
    deep = np.rint(length * 0.38 * (1.0 - progress) ** 1.6 * rng.uniform(0.7, 1.2, size=n_cycles))
    rem = np.rint(length * (0.07 + 0.33 * progress) * rng.uniform(0.8, 1.2, size=n_cycles))
    wake = np.where(rng.random(n_cycles) < 0.55, rng.integers(1, 9, size=n_cycles), 0)
    light = np.maximum(length - deep - rem - wake, 10)
    light_first = np.rint(light * rng.uniform(0.45, 0.7, size=n_cycles))
    segments = np.stack([light_first, deep, light - light_first, rem, wake], axis=1).astype(np.int64)
    stages = np.repeat(np.tile(_CYCLE_STAGES, n_cycles), segments.ravel())[:n_epochs]
    # Brief awakenings of 30 s – 3 min interrupt light sleep a dozen times a night.
    starts = np.flatnonzero((rng.random(n_epochs) < 0.025) & (stages == _LIGHT))
    lengths = rng.integers(1, 7, size=starts.size)
    wake_idx = np.repeat(starts, lengths) + _ramp(lengths)
    stages[wake_idx[wake_idx < n_epochs]] = _WAKE
    stages[n_epochs - int(rng.integers(1, 5)) :] = _WAKE
    return stages


def _ramp(lengths: npt.NDArray[np.int64]) -> Int64Array:
    """0, 1, …, l−1 for each l in `lengths`, concatenated."""
    total = int(lengths.sum())
    return np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)


def generate_night(seed: int, traits: ParticipantTraits, timing: NightTiming, illness_bpm: float) -> Night:
    """Draws night `timing.n` in full. Illness (raised resting HR) lowers SpO2 and HRV and quickens breathing."""
    rng = rng_for(seed, traits.k, Stream.NIGHT_DETAIL, timing.n)
    n_epochs = timing.n_epochs
    ill = 1.0 if illness_bpm > 0 else 0.0
    stages = hypnogram(rng, n_epochs)
    trend = np.linspace(2.0, -2.0, n_epochs)
    sleep_hr = traits.resting_hr + _HR_BY_STAGE[stages] + trend + rng.normal(0.0, 1.0)

    n_minutes = -(-n_epochs // 2)
    spo2_ts = timing.onset_ms + MINUTE_MS * np.arange(n_minutes, dtype=np.int64)
    noise = np.convolve(rng.normal(0.0, 0.45, size=n_minutes + 4), np.full(5, 0.2), mode="valid")
    dips = np.zeros(n_minutes)
    dip_starts = np.flatnonzero(rng.random(n_minutes) < 0.012)
    dip_lengths = rng.integers(1, 4, size=dip_starts.size)
    dip_idx = np.repeat(dip_starts, dip_lengths) + _ramp(dip_lengths)
    dips[dip_idx[dip_idx < n_minutes]] = rng.uniform(2.0, 5.0, size=int((dip_idx < n_minutes).sum()))
    spo2 = np.round(
        np.clip(traits.spo2_baseline + rng.normal(0.0, 0.3) - 0.8 * ill + 2.0 * noise - dips, 85.0, 100.0), 1
    )

    first_window = -(-timing.onset_ms // HRV_WINDOW_MS) * HRV_WINDOW_MS
    n_windows = max((timing.end_ms - first_window) // HRV_WINDOW_MS, 0)
    hrv_ts = first_window + HRV_WINDOW_MS * np.arange(n_windows, dtype=np.int64)
    window_stage = stages[(hrv_ts + HRV_WINDOW_MS // 2 - timing.onset_ms) // EPOCH_MS]
    rmssd = np.clip(
        traits.rmssd_baseline
        * _RMSSD_BY_STAGE[window_stage]
        * np.exp(rng.normal(0.0, 0.15, size=n_windows))
        * (1.0 - 0.2 * ill),
        5.0,
        250.0,
    )
    hf = rmssd**2 * rng.uniform(0.4, 0.8, size=n_windows)
    lf = hf * _LF_HF_BY_STAGE[window_stage] * np.exp(rng.normal(0.0, 0.3, size=n_windows))
    coverage = rng.uniform(0.6, 1.0, size=n_windows)

    full = traits.breathing_rate + rng.normal(0.0, 0.4) + 1.2 * ill
    by_stage = full + np.array([0.0, 0.0, -1.0, 0.8]) + np.append(0.0, rng.normal(0.0, 0.25, size=3))
    breathing_rate = np.round(np.clip(by_stage, 8.0, 30.0), 1)

    return Night(
        timing=timing,
        stages=stages,
        sleep_hr=sleep_hr,
        spo2_ts=spo2_ts,
        spo2=spo2.astype(np.float32),
        hrv_ts=hrv_ts,
        rmssd=np.round(rmssd, 1).astype(np.float32),
        coverage=np.round(coverage, 3).astype(np.float32),
        lf=np.round(lf, 1).astype(np.float32),
        hf=np.round(hf, 1).astype(np.float32),
        breathing_rate=breathing_rate.astype(np.float32),
    )


def overlaps(timing: NightTiming, begin: int, end: int) -> bool:
    """Whether the night reaches into [begin, end)."""
    return timing.onset_ms < end and timing.end_ms > begin


def _worn_in_day(timestamps: Int64Array, day_start: int, worn: BoolArray) -> BoolArray:
    """Which timestamps fall inside the day in a worn minute."""
    minute = (timestamps - day_start) // MINUTE_MS
    inside = (minute >= 0) & (minute < MINUTES_PER_DAY)
    inside[inside] = worn[minute[inside]]
    return inside


def sleep_readings(nights: list[Night], day_start: int, worn: BoolArray) -> dict[str, MetricReadings]:
    """The sleep metrics of the recorded nights, clipped to the day and to worn minutes."""
    parts: dict[str, list[MetricReadings]] = {"spo2": [], "hrv_rmssd": [], "breathing_rate": [], "sleep_stage": []}
    for night in nights:
        for metric, readings in night.readings().items():
            parts[metric].append(readings.select(_worn_in_day(readings.timestamps, day_start, worn)))
    return {metric: concat_readings(metric, metric_parts) for metric, metric_parts in parts.items()}
