"""The replay driver: publishes a simulated cohort's days onto Kafka in device-upload-sized batches.

Modes: as fast as possible (default); `speed` × real time (uploads published when the simulated clock reaches
their sync time); real time (`realtime`: the simulated clock is the wall clock, days before today are caught
up at once, `follow` keeps going day after day). Delta-load: per participant × metric watermarks in Kafka
record which days were published completely, so a re-run publishes only what is new.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import signal
import time
from collections.abc import Callable, Iterator
from typing import Final

import msgspec

from core.settings import KafkaSettings
from core.topics import ensure_topics
from producers.pacing import PendingUploads
from producers.publisher import BatchPublisher
from producers.simulator import CohortSimulator
from producers.watermarks import load_watermarks
from schemas.metrics import METRICS
from schemas.readings import ReadingBatch
from schemas.watermarks import Watermark

DAY_MS: Final = 86_400_000
SOURCE: Final = "replay"


class ReplayPlan(msgspec.Struct, frozen=True, kw_only=True):
    participants: int
    days: int | None
    """None with `follow`: no end."""
    seed: int = 1
    start: dt.date | None = None
    """None: the start recorded by an earlier replay of the same seed, else `days` days before today."""
    speed: float | None = None
    """None: as fast as possible; else the simulated clock runs `speed` times faster than the wall clock."""
    realtime: bool = False
    follow: bool = False
    metrics: tuple[str, ...] | None = None
    """Only these metrics (None: all)."""


class ReplayReport(msgspec.Struct, kw_only=True):
    start: dt.date
    readings: dict[str, int]
    messages: int = 0
    encoded_bytes: int = 0
    participant_days: int = 0
    skipped_participant_days: int = 0
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def total_readings(self) -> int:
        return sum(self.readings.values())


class ReplayConflictError(ValueError):
    """The topics already hold a replay of these participants with another seed or start."""


Progress = Callable[[int, int], None]
"""Called with (participant-days done, readings published) after each participant-day."""


def resolve_start(plan: ReplayPlan, marks: dict[tuple[str, str], Watermark], today: dt.date) -> dt.date:
    recorded = {m.start for m in marks.values() if m.seed == plan.seed and m.start is not None}
    if plan.start is not None:
        return plan.start
    if len(recorded) == 1:
        return recorded.pop()
    span = plan.days or 1
    return today - dt.timedelta(days=span - 1 if plan.realtime else span)


def check_conflicts(plan: ReplayPlan, start: dt.date, marks: dict[tuple[str, str], Watermark]) -> None:
    for (participant_id, metric), mark in sorted(marks.items()):
        number = int(participant_id.lstrip("P") or 0)
        if number <= plan.participants and (mark.seed != plan.seed or mark.start != start):
            raise ReplayConflictError(
                f"{participant_id} {metric} was replayed with seed {mark.seed} from {mark.start}; "
                f"replay it with --seed {mark.seed} --start {mark.start}, or use another topic prefix"
            )


async def replay(kafka: KafkaSettings, plan: ReplayPlan, *, progress: Progress | None = None) -> ReplayReport:
    """Publishes the plan's participant-days not published before; returns what was published."""
    await ensure_topics(kafka)
    marks = await load_watermarks(kafka, SOURCE)
    start = resolve_start(plan, marks, dt.datetime.now(dt.UTC).date())
    check_conflicts(plan, start, marks)
    simulator = CohortSimulator(seed=plan.seed, start=start)
    report = ReplayReport(start=start, readings=dict.fromkeys(METRICS, 0))
    publisher = BatchPublisher(kafka, client_id="wearstream-replay")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    started = time.perf_counter()
    await publisher.start()
    try:
        ks = range(1, plan.participants + 1)
        last_day = (plan.days or 1) - 1
        for k in ks:
            await publisher.send_participant(simulator.participant_record(k, as_of_day=last_day))
        done_days = {(pid, metric): m.days_done for (pid, metric), m in marks.items()}
        paced = plan.speed is not None or plan.realtime
        runner = _run_paced if paced else _run_asap
        await runner(simulator, plan, publisher, done_days, report, stop, progress)
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
            loop.remove_signal_handler(signal.SIGTERM)
        await publisher.stop()
    report.messages = publisher.messages
    report.encoded_bytes = publisher.encoded_bytes
    report.seconds = time.perf_counter() - started
    report.interrupted = stop.is_set()
    return report


def _days(plan: ReplayPlan) -> Iterator[int]:
    return iter(range(plan.days)) if plan.days is not None else itertools.count()


def _pending_metrics(
    done_days: dict[tuple[str, str], int], participant_id: str, day: int, only: tuple[str, ...] | None = None
) -> set[str]:
    return {metric for metric in (only or METRICS) if done_days.get((participant_id, metric), 0) <= day}


def _marks(plan: ReplayPlan, start: dt.date, participant_id: str, metrics: set[str], days_done: int) -> list[Watermark]:
    return [
        Watermark(
            source=SOURCE,
            participant_id=participant_id,
            metric=metric,
            seed=plan.seed,
            start=start,
            days_done=days_done,
        )
        for metric in sorted(metrics)
    ]


async def _publish(publisher: BatchPublisher, batches: list[ReadingBatch], report: ReplayReport) -> int:
    readings = 0
    for batch in batches:
        await publisher.send(batch)
        report.readings[batch.metric] += len(batch)
        readings += len(batch)
    return readings


async def _run_asap(
    simulator: CohortSimulator,
    plan: ReplayPlan,
    publisher: BatchPublisher,
    done_days: dict[tuple[str, str], int],
    report: ReplayReport,
    stop: asyncio.Event,
    progress: Progress | None,
) -> None:
    published = 0
    for day in _days(plan):
        completed: list[Watermark] = []
        for k in range(1, plan.participants + 1):
            if stop.is_set():
                break
            participant_id = simulator.traits(k).participant_id
            pending = _pending_metrics(done_days, participant_id, day, plan.metrics)
            if not pending:
                report.skipped_participant_days += 1
            else:
                simulated = simulator.simulate_day(k, day)
                published += await _publish(publisher, [b for b in simulated.batches if b.metric in pending], report)
                report.participant_days += 1
                completed.extend(_marks(plan, simulator.start, participant_id, pending, day + 1))
            if progress is not None:
                progress(day * plan.participants + k, published)
            await asyncio.sleep(0)  # let deliveries and Ctrl-C through
        await publisher.commit_watermarks(completed)
        if stop.is_set():
            return


async def _run_paced(
    simulator: CohortSimulator,
    plan: ReplayPlan,
    publisher: BatchPublisher,
    done_days: dict[tuple[str, str], int],
    report: ReplayReport,
    stop: asyncio.Event,
    progress: Progress | None,
) -> None:
    """Publishes each upload when the simulated clock reaches its sync time (late uploads arrive late)."""
    start_ms = int(dt.datetime.combine(simulator.start, dt.time(), tzinfo=dt.UTC).timestamp() * 1000)
    speed = 1.0 if plan.realtime else float(plan.speed or 1.0)
    wall_origin = time.time() * 1000
    # In real time the simulated clock is the wall clock; otherwise it starts at the replay's first day.
    sim_origin = wall_origin if plan.realtime else start_ms

    def due_wall_ms(sync_ms: int) -> float:
        return wall_origin + (sync_ms - sim_origin) / speed

    uploads = PendingUploads()
    published = 0
    days = _days(plan)
    next_day: int | None = next(days, None)
    while not stop.is_set():
        first_sync_ms = uploads.first_sync_ms()
        # A day is simulated once every upload before it is due: its uploads may be due before the queued ones.
        if next_day is not None and (first_sync_ms is None or first_sync_ms >= start_ms + next_day * DAY_MS):
            _queue_day(simulator, plan, done_days, report, uploads, next_day)
            next_day = next(days, None)
            continue
        if first_sync_ms is None:
            break
        wait_s = (due_wall_ms(first_sync_ms) - time.time() * 1000) / 1000
        if wait_s > 0:
            await publisher.flush()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=min(wait_s, 1.0))
            continue
        published += await _publish(publisher, [uploads.pop()], report)
        for marks in uploads.pop_completed_marks():
            await publisher.commit_watermarks(marks)
        if progress is not None:
            progress(report.participant_days, published)


def _queue_day(
    simulator: CohortSimulator,
    plan: ReplayPlan,
    done_days: dict[tuple[str, str], int],
    report: ReplayReport,
    uploads: PendingUploads,
    day: int,
) -> None:
    """Simulates every participant's `day` and queues the uploads of metrics not yet published for it."""
    for k in range(1, plan.participants + 1):
        participant_id = simulator.traits(k).participant_id
        pending = _pending_metrics(done_days, participant_id, day, plan.metrics)
        if not pending:
            report.skipped_participant_days += 1
            continue
        for batch in simulator.simulate_day(k, day).batches:
            if batch.metric in pending:
                uploads.push(day, batch)
        uploads.add_marks(day, _marks(plan, simulator.start, participant_id, pending, day + 1))
        report.participant_days += 1
    uploads.add_marks(day, [])
