"""Factories for what tests build again and again: reading batches, validated batches, cohorts and sinks.

Defaults are the suite's usual ones (device "dev", a sink that calls a participant silent after 6 h); a test
passes only what its meaning depends on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final

import asyncpg
import numpy as np
import numpy.typing as npt

from producers.simulator import CohortSimulator
from schemas.participants import Participant
from schemas.readings import ReadingBatch, encode_batch, make_batch
from stream_processors.detectors import NightInput
from stream_processors.envelope import Envelope
from stream_processors.nightly import judge_nights
from stream_processors.sink import Sink
from stream_processors.validate import ValidBatch, validate

NOT_SYNCED_AFTER_S: Final = 6 * 3600
ENROLLED_ON: Final = dt.date(2026, 3, 1)


def times(start_ms: int, count: int, *, step_ms: int = 60_000) -> npt.NDArray[np.int64]:
    """`count` timestamps (epoch ms) from `start_ms`, `step_ms` apart."""
    return start_ms + step_ms * np.arange(count, dtype=np.int64)


def span(start_ms: int, end_ms: int, *, step_ms: int = 60_000) -> npt.NDArray[np.int64]:
    """Timestamps (epoch ms) from `start_ms` up to, not including, `end_ms`, `step_ms` apart."""
    return np.arange(start_ms, end_ms, step_ms, dtype=np.int64)


def reading_batch(
    participant_id: str,
    metric: str,
    timestamps: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    sync_time: int | None = None,
    device_id: str = "dev",
    extra: dict[str, npt.ArrayLike] | None = None,
) -> ReadingBatch:
    """A batch as a device uploads it; synced at its last reading unless `sync_time` says otherwise."""
    ts = np.asarray(timestamps, dtype=np.int64)
    return make_batch(
        participant_id=participant_id,
        metric=metric,
        device_id=device_id,
        sync_time=sync_time if sync_time is not None else int(ts.max(initial=0)),
        timestamps=ts,
        values=values,
        extra=extra,
    )


def envelope(batch: ReadingBatch, *, offset: int = 0) -> Envelope:
    """The batch as the processor receives it from its metric's topic."""
    return Envelope(topic=f"t.{batch.metric}", partition=0, offset=offset, payload=encode_batch(batch))


def valid_batch(batch: ReadingBatch, *, now_ms: int) -> ValidBatch:
    """The batch through validation, as the processor hands it to the sink."""
    return validate(envelope(batch), expected_metric=batch.metric, now_ms=now_ms)


def cohort(
    participant_ids: Sequence[str], *, timezone: str = "UTC", enrolled_on: dt.date = ENROLLED_ON
) -> list[Participant]:
    """Participant records enrolled on the same day in the same zone."""
    return [Participant(participant_id=pid, enrolled_on=enrolled_on, timezone=timezone) for pid in participant_ids]


def sink(pool: asyncpg.Pool, *, not_synced_after_s: int = NOT_SYNCED_AFTER_S) -> Sink:
    return Sink(pool, not_synced_after_s=not_synced_after_s)


async def store_simulated(
    pool: asyncpg.Pool, simulator: CohortSimulator, participants: Sequence[int], days: int, *, now_ms: int
) -> None:
    """The simulator's participants × days, in upload order, through validation and the sink (no Kafka)."""
    batches = sorted(
        (b for k in participants for d in range(days) for b in simulator.simulate_day(k, d).batches),
        key=lambda b: (b.sync_time, b.participant_id),
    )
    valid = [
        validate(
            Envelope(topic="t", partition=0, offset=i, payload=encode_batch(b)), expected_metric=None, now_ms=now_ms
        )
        for i, b in enumerate(batches)
    ]
    store = sink(pool)
    await store.upsert_participants([simulator.participant_record(k) for k in participants])
    for i in range(0, len(valid), 300):
        await store.apply(valid[i : i + 300])


HISTORY_NIGHTS: Final = 44


def _night(night: dt.date, value: float) -> NightInput:
    # Hourly resting HR: the night's level by night, higher by day, with hour-to-hour and day-to-day noise.
    noise = [((night.toordinal() * 31 + hour * 17) % 11 - 5) * 0.6 for hour in range(24)]
    hourly = tuple(value + (0.0 if hour < 7 else 8.0) + noise[hour] for hour in range(24))
    return NightInput(night=night, resting_hr=value, resting_hr_lab=int(value), minutes=300, hourly=hourly)


async def alert_history(connection: asyncpg.Connection, participant_id: str, last: dt.date) -> None:
    """An illness episode in `HISTORY_NIGHTS` nights ending on `last`, judged by the nightly step's own detectors
    (any stored nights after `last` judged again after them): 40 nights at the participant's usual resting HR
    (the median of their stored nights), then four rising ones (yellow, then red alerts). Late nights then revise
    the four: the rise starts a night later and steeper (the first yellow alert is withdrawn, the second is
    upgraded to red)."""
    usual = await connection.fetchval(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY resting_hr) FROM nightly_values WHERE participant_id = $1",
        participant_id,
    )
    base = round(float(usual or 60.0))
    first = last - dt.timedelta(days=HISTORY_NIGHTS - 1)
    days = [first + dt.timedelta(days=i) for i in range(HISTORY_NIGHTS)]
    calm = [_night(d, base + 0.4 * ((i * 7) % 5 - 2)) for i, d in enumerate(days[:-4])]
    rise = [base + 3.7, base + 3.8, base + 4.7, base + 5.2]
    async with connection.transaction():
        await judge_nights(connection, participant_id, first, last, [*calm, *map(_night, days[-4:], rise)])
    revised = [base, base + 4.8, base + 5.2, base + 5.0]
    async with connection.transaction():
        await judge_nights(connection, participant_id, days[-4], last, list(map(_night, days[-4:], revised)))
