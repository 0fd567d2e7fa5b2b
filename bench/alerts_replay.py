"""The illness alerts of a replay through the whole pipeline against the detectors run directly on its data.

A simulated cohort with illness episodes (heart rate and steps, the simulator's uploads with their failure
modes and late syncs) goes producer → Kafka → one faust worker → TimescaleDB, where the nightly step computes
each complete night and runs the detectors as the data arrives. The direct run takes the very readings that
were published, computes their minute means and steps in-process, and feeds them to
`stream_processors.resting_hr.night_inputs` and each detector's tracker — no broker, no database. Per
participant it keeps the nights up to the last one the pipeline could call complete (`complete_through` of
the earlier of the last heart-rate and steps readings) and compares every night's verdict (value, baseline,
level, filled) and the set of active alerts with what the database holds.

The cohort starts `days + 2` days before today: the nightly step reads the 1-minute rollups, which the
worker's retention drops after `processor.retention_rollup_1m_days` (180 by default); older data would lose
its minutes while the replay runs and its nights with them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path
from typing import Final

import asyncpg
import msgspec
import numpy as np
import numpy.typing as npt

from bench.common import Environment, Measurement, environment, stored_readings, wait_until
from core.settings import Settings
from deploy.local.services import start_workers
from deploy.local.services import stop as stop_workers
from producers.publisher import BatchPublisher
from producers.simulator import CohortSimulator
from producers.simulator.episodes import EpisodeModel
from schemas.metrics import HEART_RATE, STEPS
from schemas.readings import ReadingBatch
from stream_processors.nightly import complete_through, default_detectors, last_readings
from stream_processors.resting_hr import MINUTE_MS, night_inputs

SEED: Final = 11
TOLERANCE: Final = 1e-9
OUTCOMES: Final = (
    "SELECT participant_id, detector, night, value, baseline, level, filled FROM night_outcomes ORDER BY 1, 2, 3"
)
ACTIVE: Final = "SELECT participant_id, detector, night, level FROM alerts WHERE state <> 'withdrawn'"

Verdict = tuple[float | None, float | None, str | None, bool]
"""A night's value, baseline, level and filled flag."""
Key = tuple[str, str, dt.date]
"""Participant, detector, night."""


class Minutes(msgspec.Struct):
    """One participant's published heart rate and steps, reduced to minutes as the sink's rollups hold them."""

    timezone: str
    minute_ms: list[npt.NDArray[np.int64]] = []
    hr_sum: list[npt.NDArray[np.float64]] = []
    hr_count: list[npt.NDArray[np.float64]] = []
    steps: dict[int, float] = {}
    last_hr_ms: int | None = None
    last_steps_ms: int | None = None


class Replay(msgspec.Struct, kw_only=True):
    readings: int
    episodes: int
    publish_s: float
    pipeline_s: float
    """From the first publish to the last reading committed (nightly step included)."""
    direct_s: float
    nights: int
    alerts: int
    value_mismatches: list[str]
    """Nights whose stored value or minutes differ from the direct run's, or that one side lacks."""
    night_mismatches: list[str]
    alert_mismatches: list[str]


def start_of(days: int) -> dt.date:
    """The first day of a replay of `days` days that ends the day before yesterday (UTC)."""
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days + 2)


def episodes(days: int) -> EpisodeModel:
    """Half the cohort falls ill, late enough for a baseline and early enough to be seen before the end."""
    return EpisodeModel(share=0.5, first_onset_day=min(35, days - 5), last_onset_day=days - 5)


def _add_day(minutes: Minutes, batches: list[ReadingBatch]) -> None:
    """One participant-day's published heart rate and steps, as minute sums/counts and per-minute steps."""
    hr = [b for b in batches if b.metric == HEART_RATE.name]
    if hr:
        ts = np.concatenate([b.timestamps_array() for b in hr])
        values = np.concatenate([b.values_array().astype(np.float64) for b in hr])
        bucket, index = np.unique(ts // MINUTE_MS * MINUTE_MS, return_inverse=True)
        minutes.minute_ms.append(bucket)
        minutes.hr_sum.append(np.asarray(np.bincount(index, weights=values), dtype=np.float64))
        minutes.hr_count.append(np.asarray(np.bincount(index), dtype=np.float64))
        minutes.last_hr_ms = max(minutes.last_hr_ms or 0, int(ts.max()))
    for batch in (b for b in batches if b.metric == STEPS.name):
        ts = batch.timestamps_array()
        for t, v in zip((ts // MINUTE_MS * MINUTE_MS).tolist(), batch.values_array().tolist(), strict=True):
            minutes.steps[t] = minutes.steps.get(t, 0.0) + float(v)
        minutes.last_steps_ms = max(minutes.last_steps_ms or 0, int(ts.max()))


async def publish(settings: Settings, participants: int, days: int) -> tuple[int, int, dict[str, Minutes]]:
    """Publishes the cohort day by day (as the integration test does); returns readings, episodes and what
    each participant's published data holds."""
    simulator = CohortSimulator(seed=SEED, start=start_of(days), episodes=episodes(days))
    publisher = BatchPublisher(settings.kafka, client_id="bench-alerts-replay")
    await publisher.start()
    readings, seen = 0, {}
    try:
        for k in range(1, participants + 1):
            record = simulator.participant_record(k, as_of_day=days - 1)
            seen[record.participant_id] = Minutes(timezone=record.timezone)
            await publisher.send_participant(record)
        await publisher.flush()
        for day in range(days):
            for k in range(1, participants + 1):
                simulated = simulator.simulate_day(k, day)
                batches = [b for b in simulated.batches if b.metric in (HEART_RATE.name, STEPS.name)]
                for batch in batches:
                    await publisher.send(batch)
                    readings += len(batch)
                _add_day(seen[simulated.participant_id], batches)
        await publisher.flush()
    finally:
        await publisher.stop()
    ill = sum(simulator.episode(k) is not None for k in range(1, participants + 1))
    return readings, ill, seen


def _reached(m: Minutes) -> int | None:
    """How far the participant's night data reaches (as `nightly.last_readings` has it)."""
    if m.last_hr_ms is None:
        return None
    return m.last_hr_ms if m.last_steps_ms is None else min(m.last_hr_ms, m.last_steps_ms)


def direct(seen: dict[str, Minutes]) -> dict[Key, Verdict]:
    """Every night's verdict per detector, from the published minutes, through the complete nights."""
    verdicts: dict[Key, Verdict] = {}
    for participant_id, m in seen.items():
        reached = _reached(m)
        if not m.minute_ms or reached is None:
            continue
        minute = np.concatenate(m.minute_ms)
        order = np.argsort(minute, kind="stable")
        minute = minute[order]
        mean = (np.concatenate(m.hr_sum) / np.concatenate(m.hr_count))[order]
        steps = np.array([m.steps.get(t, np.nan) for t in minute.tolist()], dtype=np.float64)
        last = complete_through(reached, m.timezone)
        nights = [n for n in night_inputs(minute, mean, steps, m.timezone) if n.night <= last]
        for name, detector in default_detectors().items():
            tracker = detector.tracker()
            for night in nights:
                for outcome in tracker.push(night):
                    verdicts[(participant_id, name, outcome.night)] = (
                        outcome.value,
                        outcome.baseline,
                        outcome.level,
                        outcome.filled,
                    )
    return verdicts


def _close(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) <= TOLERANCE)


def compare(
    streamed: dict[Key, Verdict], active: dict[Key, str], expected: dict[Key, Verdict]
) -> tuple[list[str], list[str]]:
    """The nights whose verdicts differ (or exist on one side only) and the alerts that differ."""
    nights = []
    for key in sorted(set(streamed) | set(expected)):
        got, want = streamed.get(key), expected.get(key)
        if (
            got is None
            or want is None
            or not (_close(got[0], want[0]) and _close(got[1], want[1]) and got[2:] == want[2:])
        ):
            nights.append(f"{key}: pipeline {got}, direct {want}")
    wanted = {key: v[2] for key, v in expected.items() if v[2] is not None}
    alerts = [
        f"{key}: pipeline {active.get(key)}, direct {wanted.get(key)}"
        for key in sorted(set(active) | set(wanted))
        if active.get(key) != wanted.get(key)
    ]
    return nights, alerts


async def _stored(connection: asyncpg.Connection) -> tuple[dict[Key, Verdict], dict[Key, str]]:
    outcomes = {
        (r["participant_id"], r["detector"], r["night"]): (r["value"], r["baseline"], r["level"], r["filled"])
        for r in await connection.fetch(OUTCOMES)
    }
    active = {(r["participant_id"], r["detector"], r["night"]): r["level"] for r in await connection.fetch(ACTIVE)}
    return outcomes, active


async def night_differences(connection: asyncpg.Connection, seen: dict[str, Minutes]) -> list[str]:
    """The nights whose stored value (or minutes) differs from the direct run's, or that one side lacks."""
    stored = {
        (r["participant_id"], r["night"].isoformat()): (r["resting_hr"], r["minutes"])
        for r in await connection.fetch("SELECT participant_id, night, resting_hr, minutes FROM nightly_values")
    }
    lines = []
    for participant_id, m in seen.items():
        if not m.minute_ms:
            continue
        minute = np.concatenate(m.minute_ms)
        order = np.argsort(minute, kind="stable")
        mean = (np.concatenate(m.hr_sum) / np.concatenate(m.hr_count))[order]
        steps = np.array([m.steps.get(t, np.nan) for t in minute[order].tolist()], dtype=np.float64)
        reached = _reached(m)
        last = complete_through(reached, m.timezone) if reached is not None else dt.date.min
        for n in (n for n in night_inputs(minute[order], mean, steps, m.timezone) if n.night <= last):
            got = stored.pop((participant_id, n.night.isoformat()), None)
            if got is None or abs(got[0] - n.resting_hr) > TOLERANCE or got[1] != n.minutes:
                lines.append(f"{participant_id} {n.night} pipeline {got} direct {(n.resting_hr, n.minutes)}")
    lines += [f"{p} {night} pipeline {v} direct None" for (p, night), v in sorted(stored.items())]
    return lines


async def _through_pipeline(env: Environment, participants: int, days: int, log_dir: Path) -> Replay:
    processes = start_workers(env.env, 1, log_dir)
    connection = await asyncpg.connect(env.database_url)
    try:
        await asyncio.sleep(8)  # the worker starts and joins the group
        started = time.monotonic()
        total, ill, seen = await publish(env.settings, participants, days)
        published = time.monotonic()

        reach = {pid: r for pid, m in seen.items() if (r := _reached(m)) is not None}

        async def done() -> bool:
            if any(p.poll() is not None for p in processes):
                raise RuntimeError(f"the worker exited; see {log_dir}")
            if await stored_readings(connection) < total:
                return False
            # Every participant's last reading committed (each one's data is in order on its partition).
            return await last_readings(connection, sorted(reach)) == reach

        finished = await wait_until(done, timeout_s=6 * 3600, poll_s=2.0)
        streamed, active = await _stored(connection)
        differences = await night_differences(connection, seen)
    finally:
        await connection.close()
        stop_workers(processes)
    began = time.monotonic()
    expected = direct(seen)
    direct_s = time.monotonic() - began
    nights, alerts = compare(streamed, active, expected)
    return Replay(
        readings=total,
        episodes=ill,
        publish_s=published - started,
        pipeline_s=finished - started,
        direct_s=direct_s,
        nights=len(expected),
        alerts=sum(1 for v in expected.values() if v[2] is not None),
        value_mismatches=differences,
        night_mismatches=nights,
        alert_mismatches=alerts,
    )


def _write_log(log_dir: Path, replay: Replay) -> Path:
    """Every mismatch, for tracing them: `log_dir/mismatches.txt`."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / "mismatches.txt"
    sections = (
        ("nightly values", replay.value_mismatches),
        ("verdicts", replay.night_mismatches),
        ("alerts", replay.alert_mismatches),
    )
    path.write_text("".join(f"# {title}\n" + "".join(f"{line}\n" for line in lines) for title, lines in sections))
    return path


async def alerts_replay(settings: Settings, *, participants: int, days: int, log_dir: Path) -> list[Measurement]:
    """Measurements of one replay: nights and alerts compared, mismatches, wall time and throughput."""
    async with environment(settings, partitions=6) as env:
        replay = await _through_pipeline(env, participants, days, log_dir)
    for line in replay.value_mismatches[:10] + replay.night_mismatches[:10] + replay.alert_mismatches[:10]:
        print(f"    mismatch {line}", flush=True)
    print(f"    every mismatch: {_write_log(log_dir, replay)}", flush=True)
    data = (
        f"{participants} participants × {days} days from {start_of(days)}, seed {SEED}, {replay.episodes} with an"
        " episode; heart rate + steps, "
        f"{replay.readings:,} readings; 1 worker, 6 partitions"
    )
    detectors = ", ".join(default_detectors())
    return [
        Measurement(name="alerts_replay.nights", value=replay.nights, unit="nights", data=data, note=detectors),
        Measurement(name="alerts_replay.alerts", value=replay.alerts, unit="alert nights", data=data),
        Measurement(
            name="alerts_replay.nightly_value_mismatches",
            value=len(replay.value_mismatches),
            unit="nights",
            data=data,
            note="nightly_values (resting HR ±1e-9, minutes) against night_inputs over the published minutes; target 0"
            + "".join(f"; {line}" for line in replay.value_mismatches[:3]),
        ),
        Measurement(
            name="alerts_replay.night_mismatches",
            value=len(replay.night_mismatches),
            unit="nights",
            data=data,
            note="value, baseline (±1e-9), level, filled per detector and night; target 0"
            + "".join(f"; {line}" for line in replay.night_mismatches[:3]),
        ),
        Measurement(
            name="alerts_replay.alert_mismatches",
            value=len(replay.alert_mismatches),
            unit="alerts",
            data=data,
            note="active alerts (not withdrawn) and their level; target 0"
            + "".join(f"; {line}" for line in replay.alert_mismatches[:3]),
        ),
        Measurement(
            name="alerts_replay.publish_s", value=replay.publish_s, unit="s", data=data, note="simulate + publish"
        ),
        Measurement(
            name="alerts_replay.pipeline_s",
            value=replay.pipeline_s,
            unit="s",
            data=data,
            note="first publish → last reading committed, nightly step and alerts included",
        ),
        Measurement(
            name="alerts_replay.readings_per_s",
            value=replay.readings / replay.pipeline_s,
            unit="readings/s",
            data=data,
            note="producer → Kafka → worker → committed",
        ),
        Measurement(
            name="alerts_replay.direct_s",
            value=replay.direct_s,
            unit="s",
            data=data,
            note="the direct run over the same minutes (nights + detectors, in-process)",
        ),
    ]
