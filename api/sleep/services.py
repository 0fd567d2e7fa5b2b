"""Nightly sleep values of one participant, read from the nights stored at ingest (stream_processors/summaries.py)."""

from __future__ import annotations

import datetime as dt
from typing import Final

import asyncpg

from api.sleep.schemas import Night, StageMinutes

EPOCH: Final = dt.timedelta(seconds=30)

_NIGHTS: Final = """
WITH nights AS (
    SELECT d AS night, (d - 1 + time '12:00') AT TIME ZONE $2 AS w_start, (d + time '12:00') AT TIME ZONE $2 AS w_end
    FROM (SELECT $3::date + i AS d FROM generate_series(0, $4::date - $3::date - 1) i) x
)
SELECT n.night, n.w_start, n.w_end, s.wake_epochs AS wake, s.light_epochs AS light, s.deep_epochs AS deep,
       s.rem_epochs AS rem, s.onset, s.last_epoch, s.spo2_mean, s.spo2_min, s.hrv_rmssd_mean AS hrv_mean,
       s.breathing_rate
FROM nights n
LEFT JOIN sleep_nights s ON s.participant_id = $1 AND s.night = n.night
ORDER BY n.night
"""


def _night(row: asyncpg.Record) -> Night:
    epochs = [row["wake"], row["light"], row["deep"], row["rem"]]
    has_sleep = row["wake"] is not None
    total = sum(epochs) if has_sleep else 0
    asleep = total - row["wake"] if has_sleep else 0
    return Night(
        date=row["night"],
        window_start=row["w_start"],
        window_end=row["w_end"],
        has_sleep=has_sleep,
        stage_minutes=StageMinutes(wake=epochs[0] / 2, light=epochs[1] / 2, deep=epochs[2] / 2, rem=epochs[3] / 2)
        if has_sleep
        else None,
        minutes_in_bed=total / 2 if has_sleep else None,
        minutes_asleep=asleep / 2 if has_sleep else None,
        efficiency_pct=round(100 * asleep / total, 2) if total else None,
        onset=row["onset"],
        offset=row["last_epoch"] + EPOCH if row["last_epoch"] is not None else None,
        spo2_mean=row["spo2_mean"],
        spo2_min=row["spo2_min"],
        hrv_rmssd_mean=row["hrv_mean"],
        breathing_rate=row["breathing_rate"],
    )


async def nights(pool: asyncpg.Pool, participant_id: str, timezone: str, start: dt.date, end: dt.date) -> list[Night]:
    """Nights with sleep dates in [start, end)."""
    rows = await pool.fetch(_NIGHTS, participant_id, timezone, start, end)
    return [_night(row) for row in rows]
