"""NightSignal (Alavi et al., Nat Med 2022): nightly resting HR against the median of all nights so far.

A night is potentially red when its value is ≥ baseline + `red_bpm`, potentially yellow when ≥ baseline +
`yellow_bpm`, the baseline being the median of every night up to and including it ("MedianOfAvgs"). A red
alert fires on a night that ends `consecutive_nights` potentially red nights in a row (calendar nights, one
day apart); yellow the same for yellow, on nights without a red alert. The published defaults are +3/+4 bpm
and two nights.

`faithful` reproduces the lab's script exactly: the nightly value is its integer (`resting_hr_lab`), the
baseline is truncated to an integer, and one missing night is filled with the truncated mean of its two
neighbours when one of them has a present neighbour on its other side too. The fill of night m depends on
night m + 2, so the tracker revises the two previous nights when that night arrives.
"""

from __future__ import annotations

import bisect
import datetime as dt
import statistics
from collections.abc import Iterable

import msgspec

from stream_processors.detectors.base import Level, NightInput, NightOutcome, check_order

_DAY = dt.timedelta(days=1)
_NONE, _YELLOW, _RED = 0, 1, 2


class NightSignalConfig(msgspec.Struct, frozen=True, kw_only=True):
    yellow_bpm: float = 3.0
    red_bpm: float = 4.0
    consecutive_nights: int = 2
    min_baseline_nights: int = 1
    """Nights (current included) the baseline needs before a night can be potentially yellow or red."""
    faithful: bool = False

    def __post_init__(self) -> None:
        if self.consecutive_nights < 1:
            raise ValueError(f"consecutive_nights must be ≥ 1, got {self.consecutive_nights}")
        if self.min_baseline_nights < 1:
            raise ValueError(f"min_baseline_nights must be ≥ 1, got {self.min_baseline_nights}")
        if not 0 < self.yellow_bpm <= self.red_bpm:
            raise ValueError(f"need 0 < yellow_bpm ≤ red_bpm, got {self.yellow_bpm} and {self.red_bpm}")


class NightSignalDetector:
    name = "nightsignal"

    def __init__(self, config: NightSignalConfig | None = None) -> None:
        self.config = config or NightSignalConfig()

    def tracker(self) -> NightSignalTracker:
        return NightSignalTracker(self.config)

    def batch(self, nights: Iterable[NightInput]) -> list[NightOutcome]:
        """The lab's procedure over all nights at once: values, fills, medians of every prefix, alerts."""
        config = self.config
        values = {night.night: _value(night, config) for night in nights}
        filled = _fills(values) if config.faithful else {}
        values.update(filled)
        dates = sorted(values)
        baselines: dict[dt.date, float] = {}
        potential: dict[dt.date, int] = {}
        for i, night in enumerate(dates):
            median = statistics.median(values[d] for d in dates[: i + 1])
            baselines[night] = int(median) if config.faithful else float(median)
            potential[night] = _potential(values[night], baselines[night], i + 1, config)
        return [
            NightOutcome(
                night=night,
                value=values[night],
                baseline=baselines[night],
                level=_level(potential, night, config.consecutive_nights),
                filled=night in filled,
            )
            for night in dates
        ]


class NightSignalTracker:
    """One participant's NightSignal state: the sorted values so far (for the running median) and the last
    nights' verdicts. Each push costs O(log n) comparisons plus a list insert; history is never rescanned."""

    def __init__(self, config: NightSignalConfig) -> None:
        self.config = config
        self._values: dict[dt.date, float] = {}
        self._observed: set[dt.date] = set()
        self._filled: set[dt.date] = set()
        self._sorted: list[float] = []
        self._potential: dict[dt.date, int] = {}
        self._last: dt.date | None = None

    def push(self, night: NightInput) -> list[NightOutcome]:
        check_order(self._last, night.night)
        day = night.night
        recompute: list[dt.date] = []
        self._values[day] = _value(night, self.config)
        if self.config.faithful:
            retro, ahead = day - 2 * _DAY, day - _DAY
            if retro not in self._values and {retro - _DAY, retro + _DAY} <= self._observed:
                # Night `retro` now has a present neighbour with a present neighbour (this night): filled.
                self._remove(retro + _DAY)
                self._fill(retro)
                recompute += [retro, retro + _DAY]
            elif ahead not in self._values and {ahead - _DAY, ahead - 2 * _DAY} <= self._observed:
                self._fill(ahead)
                recompute.append(ahead)
        self._observed.add(day)
        self._last = day
        recompute.append(day)
        return [self._judge(d) for d in recompute]

    def _fill(self, day: dt.date) -> None:
        self._values[day] = int(round((self._values[day - _DAY] + self._values[day + _DAY]) / 2, 1))
        self._filled.add(day)

    def _remove(self, day: dt.date) -> None:
        del self._sorted[bisect.bisect_left(self._sorted, self._values[day])]

    def _judge(self, day: dt.date) -> NightOutcome:
        value = self._values[day]
        bisect.insort(self._sorted, value)
        n = len(self._sorted)
        median = self._sorted[n // 2] if n % 2 else (self._sorted[n // 2 - 1] + self._sorted[n // 2]) / 2
        baseline = int(median) if self.config.faithful else float(median)
        self._potential[day] = _potential(value, baseline, n, self.config)
        for old in [d for d in self._potential if d <= day - (self.config.consecutive_nights + 2) * _DAY]:
            del self._potential[old]
        return NightOutcome(
            night=day,
            value=value,
            baseline=baseline,
            level=_level(self._potential, day, self.config.consecutive_nights),
            filled=day in self._filled,
        )


def _value(night: NightInput, config: NightSignalConfig) -> float:
    return night.resting_hr_lab if config.faithful else night.resting_hr


def _fills(values: dict[dt.date, float]) -> dict[dt.date, float]:
    """The lab's one-night fill: a missing night m with m − 1 and m + 1 present and m − 2 or m + 2 present."""
    filled: dict[dt.date, float] = {}
    for before in values:
        missing, after = before + _DAY, before + 2 * _DAY
        if missing in values or after not in values:
            continue
        if before - _DAY in values or after + _DAY in values:
            filled[missing] = int(round((values[before] + values[after]) / 2, 1))
    return filled


def _potential(value: float, baseline: float, nights: int, config: NightSignalConfig) -> int:
    if nights < config.min_baseline_nights:
        return _NONE
    if value >= baseline + config.red_bpm:
        return _RED
    return _YELLOW if value >= baseline + config.yellow_bpm else _NONE


def _level(potential: dict[dt.date, int], night: dt.date, consecutive: int) -> Level | None:
    run = [potential.get(night - i * _DAY, _NONE) for i in range(consecutive)]
    if min(run) >= _RED:
        return "red"
    return "yellow" if min(run) >= _YELLOW else None
