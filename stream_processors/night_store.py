"""The nightly step's storage: nights recomputed from the 1-minute rollups, the stored nightly values, the
detectors' outcomes and the alerts' current levels (`nightly.py` decides; this reads and writes)."""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from typing import Final

import asyncpg
import numpy as np

from schemas.metrics import HEART_RATE, METRIC_IDS, STEPS
from stream_processors.detectors import Level, NightInput, NightOutcome
from stream_processors.resting_hr import MINUTE_MS, REST_AFTER_STEPS_MINUTES, night_inputs

HR_ID: Final = METRIC_IDS[HEART_RATE.name]
STEPS_ID: Final = METRIC_IDS[STEPS.name]


def _local_midnight_ms(day: dt.date, timezone: str) -> int:
    return int(dt.datetime.combine(day, dt.time(0), tzinfo=zoneinfo.ZoneInfo(timezone)).timestamp() * 1000)


async def recompute(
    connection: asyncpg.Connection, participant_id: str, timezone: str, first: dt.date, last: dt.date
) -> list[NightInput]:
    """Nights `first … last` (inclusive) from the minute rollups of heart rate and steps."""
    begin = _local_midnight_ms(first, timezone) - REST_AFTER_STEPS_MINUTES * MINUTE_MS
    end = _local_midnight_ms(last + dt.timedelta(days=1), timezone)
    rows = await connection.fetch(
        "SELECT ts_to_ms(h.bucket) AS t, h.sum / h.count AS hr, s.sum AS steps FROM rollup_1m h"
        " LEFT JOIN rollup_1m s ON s.participant_id = h.participant_id AND s.metric_id = $4 AND s.bucket = h.bucket"
        " WHERE h.participant_id = $1 AND h.metric_id = $5 AND h.bucket >= ms_to_ts($2) AND h.bucket < ms_to_ts($3)"
        " ORDER BY h.bucket",
        participant_id,
        begin,
        end,
        STEPS_ID,
        HR_ID,
    )
    return [
        night
        for night in night_inputs(
            np.array([r["t"] for r in rows], dtype=np.int64),
            np.array([r["hr"] for r in rows], dtype=np.float64),
            np.array([math.nan if r["steps"] is None else r["steps"] for r in rows], dtype=np.float64),
            timezone,
        )
        if first <= night.night <= last
    ]


async def stored_around(
    connection: asyncpg.Connection, participant_id: str, first: dt.date, last: dt.date
) -> tuple[list[NightInput], list[NightInput]]:
    """The stored nightly values before `first` and those after `last`, each in night order (one query)."""
    rows = await connection.fetch(
        "SELECT night, resting_hr, resting_hr_lab, minutes, hourly FROM nightly_values"
        " WHERE participant_id = $1 AND (night < $2 OR night > $3) ORDER BY night",
        participant_id,
        first,
        last,
    )
    nights = [_night_of(row) for row in rows]
    return [n for n in nights if n.night < first], [n for n in nights if n.night > last]


def _night_of(row: asyncpg.Record) -> NightInput:
    return NightInput(
        night=row["night"],
        resting_hr=row["resting_hr"],
        resting_hr_lab=row["resting_hr_lab"],
        minutes=row["minutes"],
        hourly=tuple(row["hourly"]),
    )


async def store_values(
    connection: asyncpg.Connection, participant_id: str, first: dt.date, last: dt.date, nights: list[NightInput]
) -> None:
    await connection.execute(
        "DELETE FROM nightly_values WHERE participant_id = $1 AND night BETWEEN $2 AND $3"
        " AND NOT night = ANY($4::date[])",
        participant_id,
        first,
        last,
        [n.night for n in nights],
    )
    await connection.executemany(
        "INSERT INTO nightly_values (participant_id, night, resting_hr, resting_hr_lab, minutes, hourly)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (participant_id, night) DO UPDATE SET"
        " resting_hr = EXCLUDED.resting_hr, resting_hr_lab = EXCLUDED.resting_hr_lab,"
        " minutes = EXCLUDED.minutes, hourly = EXCLUDED.hourly, updated_at = now()",
        [(participant_id, n.night, n.resting_hr, n.resting_hr_lab, n.minutes, list(n.hourly)) for n in nights],
    )


async def store_outcomes(
    connection: asyncpg.Connection, participant_id: str, detector: str, since: dt.date, outcomes: list[NightOutcome]
) -> None:
    """The detector's verdicts from `since` on: these outcomes, and no others."""
    await connection.execute(
        "DELETE FROM night_outcomes WHERE participant_id = $1 AND detector = $2 AND night >= $3"
        " AND NOT night = ANY($4::date[])",
        participant_id,
        detector,
        since,
        [o.night for o in outcomes],
    )
    await connection.executemany(
        "INSERT INTO night_outcomes (participant_id, detector, night, value, baseline, level, filled)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (participant_id, detector, night) DO UPDATE SET"
        " value = EXCLUDED.value, baseline = EXCLUDED.baseline, level = EXCLUDED.level,"
        " filled = EXCLUDED.filled, updated_at = now()",
        [(participant_id, detector, o.night, o.value, o.baseline, o.level, o.filled) for o in outcomes],
    )


async def alert_levels(
    connection: asyncpg.Connection, participant_id: str, detector: str, since: dt.date
) -> dict[dt.date, Level | None]:
    """Each alerted night's current level from `since` on (None: withdrawn)."""
    return {
        row["night"]: None if row["state"] == "withdrawn" else row["level"]
        for row in await connection.fetch(
            "SELECT night, level, state FROM alerts WHERE participant_id = $1 AND detector = $2 AND night >= $3",
            participant_id,
            detector,
            since,
        )
    }
