"""Nightly sleep values of one participant, one SQL statement over 1-minute rollups (exact at local noon)."""

from __future__ import annotations

import datetime as dt
from typing import Final

import asyncpg

from api.sleep.schemas import Night, StageMinutes
from schemas.metrics import HRV_RMSSD, METRIC_IDS, SLEEP_STAGE, SPO2

EPOCH: Final = dt.timedelta(seconds=30)

_NIGHTS: Final = f"""
WITH nights AS (
    SELECT d AS night, (d - 1 + time '12:00') AT TIME ZONE $2 AS w_start, (d + time '12:00') AT TIME ZONE $2 AS w_end
    FROM (SELECT $3::date + i AS d FROM generate_series(0, $4::date - $3::date - 1) i) x
)
SELECT n.night, n.w_start, n.w_end, st.wake, st.light, st.deep, st.rem, st.onset, st.last_epoch,
       sp.mean AS spo2_mean, sp.min AS spo2_min, hrv.mean AS hrv_mean, br.value AS breathing_rate
FROM nights n
LEFT JOIN LATERAL (
    SELECT sum(stage_epochs[1]) AS wake, sum(stage_epochs[2]) AS light, sum(stage_epochs[3]) AS deep,
           sum(stage_epochs[4]) AS rem, min(first_time) AS onset, max(last_time) AS last_epoch
    FROM rollup_1m WHERE participant_id = $1 AND metric_id = {METRIC_IDS[SLEEP_STAGE.name]}
      AND bucket >= n.w_start AND bucket < n.w_end
) st ON true
LEFT JOIN LATERAL (
    SELECT sum(sum) / sum(count) AS mean, min(min) AS min
    FROM rollup_1m WHERE participant_id = $1 AND metric_id = {METRIC_IDS[SPO2.name]}
      AND bucket >= n.w_start AND bucket < n.w_end
) sp ON true
LEFT JOIN LATERAL (
    SELECT sum(sum) / sum(count) AS mean
    FROM rollup_1m WHERE participant_id = $1 AND metric_id = {METRIC_IDS[HRV_RMSSD.name]}
      AND bucket >= n.w_start AND bucket < n.w_end
) hrv ON true
LEFT JOIN LATERAL (
    SELECT r.value FROM raw_readings($1, 'breathing_rate', n.w_start, n.w_end) r
    WHERE r.extra[1] = -1 ORDER BY r.time DESC LIMIT 1
) br ON true
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
