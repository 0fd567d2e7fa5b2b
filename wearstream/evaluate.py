"""Scores the illness detectors on a simulated cohort with injected episodes, without a broker or database.

Each participant's days come straight from the simulator; their minute means of heart rate and their steps
go through the processor's own `stream_processors.resting_hr.night_inputs` and then each detector's tracker,
night by night, as the processor runs them. Two scenarios: every night worn (`ideal`), and the simulator's
failure modes (nights off, forgotten devices, charging, drop-outs, lost authorisation: `realistic`) — the
same heart rate with the minutes those failures leave without data removed, so both scenarios come from one
simulation and differ only in what is missing.

Per detector: sensitivity = share of episodes with an alert on a night dated in [onset − `window_days`,
onset] (the morning of the symptom onset counts as "at onset"); lead time = onset − the first such alert;
false-alert days = alert nights of participants without an episode per 30 monitored nights (nights with a
value) — a participant-month of data.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Final

import msgspec
import numpy as np

from producers.simulator.cohort import CohortSimulator
from producers.simulator.episodes import EpisodeModel
from producers.simulator.grid import DAY_MS, utc_midnight_ms
from producers.simulator.model import metric_readings
from stream_processors.detectors import (
    CusumDetector,
    Detector,
    Level,
    NightInput,
    NightSignalConfig,
    NightSignalDetector,
)
from stream_processors.resting_hr import MINUTE_MS, night_inputs

START: Final = dt.date(2026, 1, 5)
SCENARIOS: Final = ("ideal", "realistic")


def detectors() -> dict[str, Detector]:
    """The detectors scored, by report name, each with its published defaults."""
    return {
        "nightsignal": NightSignalDetector(),
        "nightsignal-faithful": NightSignalDetector(NightSignalConfig(faithful=True)),
        "cusum": CusumDetector(),
    }


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    participants: int = 1000
    days: int = 120
    seed: int = 7
    window_days: int = 14
    episodes: EpisodeModel = EpisodeModel()


class DetectorScore(msgspec.Struct, frozen=True, kw_only=True):
    detector: str
    scenario: str
    episodes: int
    detected: int
    detected_red: int
    sensitivity: float
    sensitivity_red: float
    median_lead_days: float | None
    healthy_participant_months: float
    false_alert_days_per_month: float
    false_red_days_per_month: float


class Evaluation(msgspec.Struct, frozen=True, kw_only=True):
    plan: Plan
    seconds: float
    nights: dict[str, int]
    """Nights with a value per scenario."""
    scores: list[DetectorScore]


class _Participant(msgspec.Struct, frozen=True, kw_only=True):
    onset_day: int | None
    nights: int
    alerts: dict[str, list[tuple[int, Level]]]
    """Per detector: (day index of the night's morning, level) of every alert night."""


def participant_nights(
    simulator: CohortSimulator, k: int, days: int, *, wear: CohortSimulator | None = None
) -> list[NightInput]:
    """Participant k's nights whose mornings fall on days 0 … days − 1 (local dates from the start).

    With `wear`, only the minutes that simulator's participant k wears the device (and delivers) keep their
    heart rate, and steps are 0 where it is off, as the device records them.
    """
    minute_parts, hr_parts, steps_parts = [], [], []
    for day in range(-1, days + 1):
        readings = simulator.readings(k, day)
        hr, steps = readings["heart_rate"], readings["steps"]
        if wear is not None:
            worn = wear.worn_minutes(k, day)
            day_start = utc_midnight_ms(simulator.start) + day * DAY_MS
            hr = hr.select(worn[(hr.timestamps - day_start) // MINUTE_MS])
            steps = metric_readings("steps", steps.timestamps, np.where(worn, steps.values, 0))
        if not len(hr):
            continue
        minute = hr.timestamps // MINUTE_MS * MINUTE_MS
        minutes, index = np.unique(minute, return_inverse=True)
        mean = np.bincount(index, weights=hr.values.astype(np.float64)) / np.bincount(index)
        at = np.minimum(np.searchsorted(steps.timestamps, minutes), len(steps) - 1)
        found = steps.timestamps[at] == minutes
        minute_parts.append(minutes)
        hr_parts.append(mean)
        steps_parts.append(np.where(found, steps.values[at].astype(np.float64), np.nan))
    if not minute_parts:
        return []
    last = simulator.start + dt.timedelta(days=days - 1)
    nights = night_inputs(
        np.concatenate(minute_parts),
        np.concatenate(hr_parts),
        np.concatenate(steps_parts),
        simulator.traits(k).timezone,
    )
    return [night for night in nights if simulator.start <= night.night <= last]


def _score_participant(plan: Plan, k: int) -> dict[str, _Participant]:
    ideal = _simulator(plan, ideal_wear=True)
    realistic = _simulator(plan, ideal_wear=False)
    episode = ideal.episode(k)
    scored: dict[str, _Participant] = {}
    for scenario in SCENARIOS:
        nights = participant_nights(ideal, k, plan.days, wear=None if scenario == "ideal" else realistic)
        alerts: dict[str, list[tuple[int, Level]]] = {}
        for name, detector in detectors().items():
            tracker = detector.tracker()
            latest: dict[dt.date, Level | None] = {}
            for night in nights:
                for outcome in tracker.push(night):
                    latest[outcome.night] = outcome.level
            alerts[name] = sorted((_day_index(ideal, d), level) for d, level in latest.items() if level is not None)
        scored[scenario] = _Participant(
            onset_day=None if episode is None else episode.onset_day, nights=len(nights), alerts=alerts
        )
    return scored


def _day_index(simulator: CohortSimulator, night: dt.date) -> int:
    return (night - simulator.start).days


_SIMULATORS: dict[tuple[int, bool, bytes], CohortSimulator] = {}


def _simulator(plan: Plan, *, ideal_wear: bool) -> CohortSimulator:
    key = (plan.seed, ideal_wear, msgspec.json.encode(plan.episodes))
    if key not in _SIMULATORS:
        _SIMULATORS[key] = CohortSimulator(seed=plan.seed, start=START, episodes=plan.episodes, ideal_wear=ideal_wear)
    return _SIMULATORS[key]


def _chunk(plan: Plan, ks: list[int]) -> list[dict[str, _Participant]]:
    return [_score_participant(plan, k) for k in ks]


def evaluate(plan: Plan, *, workers: int = 1, progress: Callable[[int, int], None] | None = None) -> Evaluation:
    """Scores both scenarios over participants 1 … plan.participants; `workers` > 1 uses that many processes."""
    began = time.perf_counter()
    results: list[dict[str, _Participant]] = []
    for done in _run(plan, workers):
        results += done
        if progress is not None:
            progress(len(results), plan.participants)
    scores = [
        _summarise(plan, scenario, name, [r[scenario] for r in results])
        for scenario in SCENARIOS
        for name in detectors()
    ]
    nights = {scenario: sum(r[scenario].nights for r in results) for scenario in SCENARIOS}
    return Evaluation(plan=plan, seconds=round(time.perf_counter() - began, 1), nights=nights, scores=scores)


def _run(plan: Plan, workers: int) -> Iterator[list[dict[str, _Participant]]]:
    ks = list(range(1, plan.participants + 1))
    chunks = [ks[i : i + 10] for i in range(0, len(ks), 10)]
    if workers <= 1:
        for chunk in chunks:
            yield _chunk(plan, chunk)
        return
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(_chunk, [plan] * len(chunks), chunks)


def _summarise(plan: Plan, scenario: str, name: str, results: list[_Participant]) -> DetectorScore:
    ill = [r for r in results if r.onset_day is not None and 0 <= r.onset_day < plan.days]
    leads: list[int] = []
    detected_red = 0
    for r in ill:
        assert r.onset_day is not None
        window = [(d, level) for d, level in r.alerts[name] if r.onset_day - plan.window_days <= d <= r.onset_day]
        if window:
            leads.append(r.onset_day - window[0][0])
            detected_red += any(level == "red" for _, level in window)
    healthy = [r for r in results if r.onset_day is None]
    months = sum(r.nights for r in healthy) / 30
    alert_days = sum(len(r.alerts[name]) for r in healthy)
    red_days = sum(sum(level == "red" for _, level in r.alerts[name]) for r in healthy)
    return DetectorScore(
        detector=name,
        scenario=scenario,
        episodes=len(ill),
        detected=len(leads),
        detected_red=detected_red,
        sensitivity=round(len(leads) / len(ill), 3) if ill else 0.0,
        sensitivity_red=round(detected_red / len(ill), 3) if ill else 0.0,
        median_lead_days=float(statistics.median(leads)) if leads else None,
        healthy_participant_months=round(months, 1),
        false_alert_days_per_month=round(alert_days / months, 3) if months else 0.0,
        false_red_days_per_month=round(red_days / months, 3) if months else 0.0,
    )


def markdown(evaluation: Evaluation) -> str:
    """The scores as a Markdown table (results on synthetic data)."""
    plan = evaluation.plan
    lines = [
        f"Synthetic cohort: {plan.participants:,} participants × {plan.days} days, seed {plan.seed}, "
        f"{plan.episodes.share:.0%} with an illness episode; {evaluation.seconds:.0f} s.",
        "",
        "| detector | scenario | episodes | sensitivity (any / red) | median lead (days) |"
        " false-alert days per healthy participant-month (any / red) |",
        "|---|---|---|---|---|---|",
    ]
    for s in evaluation.scores:
        lead = "–" if s.median_lead_days is None else f"{s.median_lead_days:g}"
        lines.append(
            f"| {s.detector} | {s.scenario} | {s.episodes} | {s.sensitivity:.0%} / {s.sensitivity_red:.0%} | {lead} |"
            f" {s.false_alert_days_per_month:.2f} / {s.false_red_days_per_month:.2f} |"
        )
    return "\n".join(lines) + "\n"
