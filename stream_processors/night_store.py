"""The nightly step's storage: nights recomputed from the 1-minute rollups, the stored nightly values, the
detectors' outcomes and the alerts' current levels (`nightly.py` decides; this reads and writes).

Each function serves every participant of a transaction at once, in one statement (or one pipelined
`executemany`): the nightly step's cost per transaction is a handful of round trips, not a handful per
participant. Participants, and detectors, never share rows, so doing them together changes no result.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from collections import defaultdict
from collections.abc import Sequence
from typing import Final, NamedTuple

import asyncpg
import numpy as np

from schemas.metrics import HEART_RATE, METRIC_IDS, STEPS
from stream_processors.detectors import Level, NightInput, NightOutcome
from stream_processors.resting_hr import MINUTE_MS, REST_AFTER_STEPS_MINUTES, night_inputs

HR_ID: Final = METRIC_IDS[HEART_RATE.name]
STEPS_ID: Final = METRIC_IDS[STEPS.name]


class NightRange(NamedTuple):
    """Nights `first … last` (inclusive) of one participant, whose local days are in `timezone`."""

    participant_id: str
    timezone: str
    first: dt.date
    last: dt.date


class Verdicts(NamedTuple):
    """One detector's outcomes for one participant from `since` on (the nights it judged)."""

    participant_id: str
    detector: str
    since: dt.date
    outcomes: list[NightOutcome]


def _local_midnight_ms(day: dt.date, timezone: str) -> int:
    return int(dt.datetime.combine(day, dt.time(0), tzinfo=zoneinfo.ZoneInfo(timezone)).timestamp() * 1000)


_MINUTES: Final = """
SELECT w.pid, ts_to_ms(h.bucket) AS t, h.sum / h.count AS hr, s.sum AS steps
FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS w (pid, lo, hi)
JOIN rollup_1m h ON h.participant_id = w.pid AND h.metric_id = $5
    AND h.bucket >= ms_to_ts(w.lo) AND h.bucket < ms_to_ts(w.hi)
LEFT JOIN rollup_1m s ON s.participant_id = h.participant_id AND s.metric_id = $4 AND s.bucket = h.bucket
ORDER BY w.pid, h.bucket
"""


async def recompute(connection: asyncpg.Connection, ranges: Sequence[NightRange]) -> dict[str, list[NightInput]]:
    """Each range's nights from the minute rollups of heart rate and steps (one range per participant)."""
    begins = [_local_midnight_ms(r.first, r.timezone) - REST_AFTER_STEPS_MINUTES * MINUTE_MS for r in ranges]
    ends = [_local_midnight_ms(r.last + dt.timedelta(days=1), r.timezone) for r in ranges]
    rows = await connection.fetch(_MINUTES, [r.participant_id for r in ranges], begins, ends, STEPS_ID, HR_ID)
    minutes: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for row in rows:
        minutes[row["pid"]].append(row)
    nights: dict[str, list[NightInput]] = {}
    for r in ranges:
        found = minutes.get(r.participant_id, [])
        nights[r.participant_id] = [
            night
            for night in night_inputs(
                np.array([m["t"] for m in found], dtype=np.int64),
                np.array([m["hr"] for m in found], dtype=np.float64),
                np.array([math.nan if m["steps"] is None else m["steps"] for m in found], dtype=np.float64),
                r.timezone,
            )
            if r.first <= night.night <= r.last
        ]
    return nights


async def stored_around(
    connection: asyncpg.Connection, ranges: Sequence[tuple[str, dt.date, dt.date]]
) -> dict[str, tuple[list[NightInput], list[NightInput]]]:
    """Per (participant, first, last): its stored nightly values before `first` and after `last`, in night order."""
    rows = await connection.fetch(
        "SELECT v.participant_id, v.night, v.resting_hr, v.resting_hr_lab, v.minutes, v.hourly FROM nightly_values v"
        " JOIN unnest($1::text[], $2::date[], $3::date[]) AS w (pid, first, last) ON v.participant_id = w.pid"
        " WHERE v.night < w.first OR v.night > w.last ORDER BY v.participant_id, v.night",
        *_columns(ranges, 3),
    )
    around: dict[str, tuple[list[NightInput], list[NightInput]]] = {pid: ([], []) for pid, _, _ in ranges}
    bounds = {pid: first for pid, first, _ in ranges}
    for row in rows:
        earlier, later = around[row["participant_id"]]
        (earlier if row["night"] < bounds[row["participant_id"]] else later).append(_night_of(row))
    return around


def _columns(rows: Sequence[tuple[object, ...]], width: int) -> list[list[object]]:
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


def _night_of(row: asyncpg.Record) -> NightInput:
    return NightInput(
        night=row["night"],
        resting_hr=row["resting_hr"],
        resting_hr_lab=row["resting_hr_lab"],
        minutes=row["minutes"],
        hourly=tuple(row["hourly"]),
    )


async def store_values(
    connection: asyncpg.Connection, ranges: Sequence[tuple[str, dt.date, dt.date, list[NightInput]]]
) -> None:
    """Per (participant, first, last, nights): `nights` become its stored nights `first … last`, and no others."""
    kept = [(pid, n.night) for pid, _, _, nights in ranges for n in nights]
    await connection.execute(
        "DELETE FROM nightly_values v USING unnest($1::text[], $2::date[], $3::date[]) AS w (pid, first, last)"
        " WHERE v.participant_id = w.pid AND v.night BETWEEN w.first AND w.last AND NOT EXISTS ("
        " SELECT 1 FROM unnest($4::text[], $5::date[]) AS k (pid, night)"
        " WHERE k.pid = v.participant_id AND k.night = v.night)",
        *_columns([(pid, first, last) for pid, first, last, _ in ranges], 3),
        *_columns(kept, 2),
    )
    await connection.executemany(
        "INSERT INTO nightly_values (participant_id, night, resting_hr, resting_hr_lab, minutes, hourly)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (participant_id, night) DO UPDATE SET"
        " resting_hr = EXCLUDED.resting_hr, resting_hr_lab = EXCLUDED.resting_hr_lab,"
        " minutes = EXCLUDED.minutes, hourly = EXCLUDED.hourly, updated_at = now()",
        [
            (pid, n.night, n.resting_hr, n.resting_hr_lab, n.minutes, list(n.hourly))
            for pid, _, _, nights in ranges
            for n in nights
        ],
    )


async def store_outcomes(connection: asyncpg.Connection, verdicts: Sequence[Verdicts]) -> None:
    """Each detector's verdicts for each participant from `since` on: these outcomes, and no others."""
    kept = [(v.participant_id, v.detector, o.night) for v in verdicts for o in v.outcomes]
    await connection.execute(
        "DELETE FROM night_outcomes o USING unnest($1::text[], $2::text[], $3::date[]) AS w (pid, detector, since)"
        " WHERE o.participant_id = w.pid AND o.detector = w.detector AND o.night >= w.since AND NOT EXISTS ("
        " SELECT 1 FROM unnest($4::text[], $5::text[], $6::date[]) AS k (pid, detector, night)"
        " WHERE k.pid = o.participant_id AND k.detector = o.detector AND k.night = o.night)",
        *_columns([(v.participant_id, v.detector, v.since) for v in verdicts], 3),
        *_columns(kept, 3),
    )
    await connection.executemany(
        "INSERT INTO night_outcomes (participant_id, detector, night, value, baseline, level, filled)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (participant_id, detector, night) DO UPDATE SET"
        " value = EXCLUDED.value, baseline = EXCLUDED.baseline, level = EXCLUDED.level,"
        " filled = EXCLUDED.filled, updated_at = now()",
        [
            (v.participant_id, v.detector, o.night, o.value, o.baseline, o.level, o.filled)
            for v in verdicts
            for o in v.outcomes
        ],
    )


async def alert_levels(
    connection: asyncpg.Connection, verdicts: Sequence[Verdicts]
) -> dict[tuple[str, str], dict[dt.date, Level | None]]:
    """Per (participant, detector): each alerted night's current level from `since` on (None: withdrawn)."""
    levels: dict[tuple[str, str], dict[dt.date, Level | None]] = {(v.participant_id, v.detector): {} for v in verdicts}
    for row in await connection.fetch(
        "SELECT a.participant_id, a.detector, a.night, a.level, a.state FROM alerts a"
        " JOIN unnest($1::text[], $2::text[], $3::date[]) AS w (pid, detector, since)"
        " ON a.participant_id = w.pid AND a.detector = w.detector AND a.night >= w.since",
        *_columns([(v.participant_id, v.detector, v.since) for v in verdicts], 3),
    ):
        levels[row["participant_id"], row["detector"]][row["night"]] = (
            None if row["state"] == "withdrawn" else row["level"]
        )
    return levels
