"""Scores the imputation methods by masking observed data, on a simulated cohort, without a broker or database.

Each participant's minutes come from the simulator with its failure modes (heart rate only where the device
is worn; the other metrics are treated as missing where heart rate is, as the processor's `not_worn` gaps
do). The stretches masked have the lengths of the `not_worn` gaps the processor finds in that cohort
(`stream_processors.gaps.holes_between_instants` over the heart-rate instants with the registry's threshold),
drawn per gap-length bucket and placed where heart rate was observed throughout. Every metric is masked over
the stretch (a device off the wrist records nothing), each method fills it, and its errors are counted on the
masked minutes that had an observation. Reproducible from the seed: seed s simulates the cohort and places the
masks for s, s + 1, … (one repetition each); the spread is the standard deviation over those repetitions.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable
from typing import Final

import msgspec
import numpy as np

from producers.simulator.cohort import CohortSimulator
from producers.simulator.grid import DAY_MS, utc_midnight_ms
from schemas.metrics import HEART_RATE, METRICS
from stream_processors.gaps import holes_between_instants
from stream_processors.imputation import METHODS, Fill, MinuteSeries, local_minutes, minute_grid
from stream_processors.imputation.grid import MINUTE_MS, FloatArray

START: Final = dt.date(2026, 1, 5)
METRICS_SCORED: Final = ("heart_rate", "steps", "spo2", "hrv_rmssd")
BUCKETS: Final = ((10, 30), (30, 60), (60, 120), (120, 240), (240, 480))
"""Gap-length buckets in minutes, [low, high)."""


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    participants: int = 100
    days: int = 28
    seed: int = 7
    seeds: int = 3
    masks_per_bucket: int = 3
    """Masks per participant and bucket (where the participant has room for them)."""


class Score(msgspec.Struct, frozen=True, kw_only=True):
    method: str
    metric: str
    bucket: str
    minutes: int
    """Masked minutes with an observation, summed over the repetitions."""
    filled_share: float
    mae: float | None
    """None: nothing filled."""
    mae_sd: float
    rmse: float | None
    rmse_sd: float
    coverage: float
    """Share of the filled minutes whose 95 % interval holds the observed value."""
    mae_by_seed: list[float] = []


class Evaluation(msgspec.Struct, frozen=True, kw_only=True):
    plan: Plan
    seconds: float
    gap_lengths: dict[str, int]
    """not_worn gaps the processor would find per bucket (first repetition's cohort)."""
    masks: int
    scores: list[Score]
    lengths: list[int] = []
    """Lengths (minutes) of the not_worn gaps found in the first repetition's cohort."""
    export: str | None = None
    """The imported export also scored (`imputation_export.with_export`), its masks and scores."""
    export_masks: int = 0
    export_scores: list[Score] = []


def bucket_name(low: int, high: int) -> str:
    return (
        f"{low}–{high} min"
        if high <= 60
        else f"{low // 60 if low >= 60 else low}{'' if low >= 60 else ' min'}–{high // 60} h"
    )


def cohort_series(simulator: CohortSimulator, k: int, days: int) -> tuple[dict[str, MinuteSeries], list[int]]:
    """Participant k's minute series per scored metric over UTC days 0 … days − 1, and the lengths (minutes) of
    the not_worn gaps in them."""
    start_ms = utc_midnight_ms(simulator.start)
    end_ms = start_ms + days * DAY_MS
    parts: dict[str, list[FloatArray]] = {m: [] for m in METRICS_SCORED}
    stamps: list[np.ndarray] = []
    for day in range(days):
        readings = simulator.readings(k, day)
        day_start = start_ms + day * DAY_MS
        for metric in METRICS_SCORED:
            r = readings[metric]
            minute = r.timestamps // MINUTE_MS * MINUTE_MS
            minutes, index = np.unique(minute, return_inverse=True)
            means = np.bincount(index, weights=r.values.astype(np.float64)) / np.maximum(np.bincount(index), 1)
            parts[metric].append(minute_grid(day_start, day_start + DAY_MS, minutes, means))
        stamps.append(readings["heart_rate"].timestamps)
    local = local_minutes(start_ms, days * 1440, simulator.traits(k).timezone)
    grids = {m: np.concatenate(parts[m]) for m in METRICS_SCORED}
    worn = ~np.isnan(grids["heart_rate"])
    for metric in METRICS_SCORED:
        grids[metric] = np.where(worn, grids[metric], np.nan)
    threshold_ms = (HEART_RATE.gap_threshold_s or 0) * 1000
    holes = holes_between_instants(np.concatenate(stamps), threshold_ms) if stamps else []
    lengths = [((h.end_ms or end_ms) - h.start_ms) // MINUTE_MS for h in holes]
    series = {
        m: MinuteSeries(
            start_ms=start_ms,
            values=grids[m],
            local=local,
            low=METRICS[m].min_value,
            high=METRICS[m].max_value,
            steps=grids["steps"] if m == "heart_rate" else None,
            metric=m,
        )
        for m in METRICS_SCORED
    }
    return series, lengths


def place_masks(
    worn: np.ndarray, lengths: list[int], rng: np.random.Generator, per_bucket: int
) -> list[tuple[int, int, int]]:
    """(bucket index, start, end) of masks over fully observed stretches, lengths drawn from `lengths` within
    each bucket (uniform in the bucket when the cohort has none there); masks do not overlap."""
    taken = np.zeros(len(worn), dtype=bool)
    masks = []
    observed_prefix = np.concatenate([[0], np.cumsum(worn)])
    for b, (low, high) in enumerate(BUCKETS):
        pool = [n for n in lengths if low <= n < high]
        for _ in range(per_bucket):
            length = int(rng.choice(pool)) if pool else int(rng.integers(low, high))
            for _attempt in range(40):
                start = int(rng.integers(60, max(61, len(worn) - length - 60)))
                end = start + length
                if observed_prefix[end] - observed_prefix[start] == length and not taken[start - 60 : end + 60].any():
                    taken[start:end] = True
                    masks.append((b, start, end))
                    break
    return masks


class Tally(msgspec.Struct, kw_only=True):
    minutes: int = 0
    filled: int = 0
    abs_error: float = 0.0
    sq_error: float = 0.0
    covered: int = 0


def _score_fill(tally: Tally, truth: FloatArray, fill: Fill | None) -> None:
    observed = ~np.isnan(truth)
    tally.minutes += int(observed.sum())
    if fill is None:
        return
    ok = observed & ~np.isnan(fill.values)
    error = fill.values[ok] - truth[ok]
    tally.filled += int(ok.sum())
    tally.abs_error += float(np.abs(error).sum())
    tally.sq_error += float((error**2).sum())
    tally.covered += int(((truth[ok] >= fill.lower[ok]) & (truth[ok] <= fill.upper[ok])).sum())


Tallies = dict[tuple[str, str, int], Tally]


def _participant(
    plan: Plan, simulator: CohortSimulator, k: int, lengths: list[int], rng: np.random.Generator
) -> tuple[Tallies, int]:
    """Participant k's tallies per (method, metric, bucket), and the number of masks placed."""
    series, _ = cohort_series(simulator, k, plan.days)
    return score_series(series, lengths, rng, plan.masks_per_bucket)


def score_series(
    series: dict[str, MinuteSeries], lengths: list[int], rng: np.random.Generator, per_bucket: int
) -> tuple[Tallies, int]:
    """Masks one participant's series (every metric over each stretch) and tallies every method's fill."""
    worn = ~np.isnan(series["heart_rate"].values)
    masks = place_masks(worn, lengths, rng, per_bucket)
    methods = {name: cls() for name, cls in METHODS.items()}
    tallies: Tallies = {}
    for b, start, end in masks:
        masked = {m: _without(s, start, end) for m, s in series.items()}
        steps = masked["steps"].values if "steps" in masked else None
        masked["heart_rate"] = _without(series["heart_rate"], start, end, steps=steps)
        for metric, one in masked.items():
            truth = series[metric].values[start:end]
            if np.isnan(truth).all():
                continue
            for name, method in methods.items():
                fill = method.fill(one, start, end)
                tally = tallies.setdefault((name, metric, b), Tally())
                _score_fill(tally, truth, fill if isinstance(fill, Fill) else None)
    return tallies, len(masks)


def _without(series: MinuteSeries, start: int, end: int, *, steps: FloatArray | None = None) -> MinuteSeries:
    values = series.values.copy()
    values[start:end] = np.nan
    return MinuteSeries(
        start_ms=series.start_ms,
        values=values,
        local=series.local,
        low=series.low,
        high=series.high,
        steps=steps,
        metric=series.metric,
    )


def _repetition(
    plan: Plan, seed: int, progress: Callable[[int], None]
) -> tuple[Tallies, dict[str, int], int, list[int]]:
    simulator = CohortSimulator(seed=seed, start=START)
    lengths: list[int] = []
    for k in range(1, plan.participants + 1):
        lengths += cohort_series(simulator, k, plan.days)[1]
    rng = np.random.default_rng(seed)
    total: Tallies = {}
    masks = 0
    for k in range(1, plan.participants + 1):
        tallies, placed = _participant(plan, simulator, k, lengths, rng)
        masks += placed
        for key, tally in tallies.items():
            into = total.setdefault(key, Tally())
            for name in ("minutes", "filled", "abs_error", "sq_error", "covered"):
                setattr(into, name, getattr(into, name) + getattr(tally, name))
        progress(k)
    found = {bucket_name(*b): sum(low <= n < high for n in lengths) for low, high in BUCKETS for b in [(low, high)]}
    return total, found, masks, lengths


def evaluate(plan: Plan, *, progress: Callable[[int, int], None] | None = None) -> Evaluation:
    """Scores every method × metric × bucket over `plan.seeds` repetitions (seeds plan.seed, plan.seed + 1, …)."""
    began = time.perf_counter()
    runs: list[Tallies] = []
    gap_lengths: dict[str, int] = {}
    first_lengths: list[int] = []
    masks = 0
    total = plan.participants * plan.seeds
    for r in range(plan.seeds):
        done = r * plan.participants

        def step(k: int, done: int = done) -> None:
            if progress is not None:
                progress(done + k, total)

        tallies, found, placed, lengths = _repetition(plan, plan.seed + r, step)
        runs.append(tallies)
        masks += placed
        if not gap_lengths:
            gap_lengths, first_lengths = found, lengths
    scores = [
        summarise(method, metric, b, [run.get((method, metric, b), Tally()) for run in runs])
        for metric in METRICS_SCORED
        for b in range(len(BUCKETS))
        for method in METHODS
    ]
    return Evaluation(
        plan=plan,
        seconds=round(time.perf_counter() - began, 1),
        gap_lengths=gap_lengths,
        masks=masks,
        scores=scores,
        lengths=sorted(first_lengths),
    )


def summarise(method: str, metric: str, b: int, tallies: list[Tally]) -> Score:
    maes = [t.abs_error / t.filled for t in tallies if t.filled]
    rmses = [float(np.sqrt(t.sq_error / t.filled)) for t in tallies if t.filled]
    minutes = sum(t.minutes for t in tallies)
    filled = sum(t.filled for t in tallies)
    return Score(
        method=method,
        metric=metric,
        bucket=bucket_name(*BUCKETS[b]),
        minutes=minutes,
        filled_share=round(filled / minutes, 3) if minutes else 0.0,
        mae=round(statistics.fmean(maes), 3) if maes else None,
        mae_sd=round(statistics.stdev(maes), 3) if len(maes) > 1 else 0.0,
        rmse=round(statistics.fmean(rmses), 3) if rmses else None,
        rmse_sd=round(statistics.stdev(rmses), 3) if len(rmses) > 1 else 0.0,
        coverage=round(sum(t.covered for t in tallies) / filled, 3) if filled else 0.0,
        mae_by_seed=[round(m, 4) for m in maes],
    )
