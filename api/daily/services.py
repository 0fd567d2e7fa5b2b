"""Daily summaries of one participant: one statement over day and minute rollups and uploads, plus the nights."""

from __future__ import annotations

import datetime as dt
from typing import Final

import asyncpg

from api.daily.schemas import Coverage, DaySummary
from api.sleep import services as sleep
from schemas.metrics import ACTIVE_ZONE_MINUTES, HEART_RATE, METRIC_IDS, STEPS

HR_ID: Final = METRIC_IDS[HEART_RATE.name]
STEPS_ID: Final = METRIC_IDS[STEPS.name]
AZM_ID: Final = METRIC_IDS[ACTIVE_ZONE_MINUTES.name]

_DAYS: Final = f"""
WITH days AS (
    SELECT d AS day, d::timestamp AT TIME ZONE $2 AS day_start, (d + 1)::timestamp AT TIME ZONE $2 AS day_end,
           (d + time '07:00') AT TIME ZONE $2 AS rest_end
    FROM (SELECT $3::date + i AS d FROM generate_series(0, $4::date - $3::date - 1) i) x
)
SELECT d.day, (extract(epoch FROM d.day_end - d.day_start) / 60)::int AS day_minutes,
       coalesce(hr.minutes, 0) AS hr_minutes, coalesce(st.minutes, 0) AS steps_minutes,
       coalesce(az.minutes, 0) AS azm_minutes, st.sum AS steps, az.sum AS azm,
       rest.mean AS resting_hr, coalesce(rest.n, 0) AS resting_minutes, up.last_upload, coalesce(up.n, 0) AS uploads
FROM days d
LEFT JOIN rollup_1d hr ON hr.participant_id = $1 AND hr.metric_id = {HR_ID} AND hr.bucket = d.day_start
LEFT JOIN rollup_1d st ON st.participant_id = $1 AND st.metric_id = {STEPS_ID} AND st.bucket = d.day_start
LEFT JOIN rollup_1d az ON az.participant_id = $1 AND az.metric_id = {AZM_ID} AND az.bucket = d.day_start
LEFT JOIN LATERAL (
    SELECT avg(h.sum / h.count) AS mean, count(*)::int AS n
    FROM rollup_1m h
    JOIN rollup_1m s ON s.participant_id = $1 AND s.metric_id = {STEPS_ID} AND s.bucket = h.bucket AND s.sum = 0
    WHERE h.participant_id = $1 AND h.metric_id = {HR_ID} AND h.bucket >= d.day_start AND h.bucket < d.rest_end
) rest ON true
LEFT JOIN LATERAL (
    SELECT max(u.sync_time) AS last_upload, count(*)::int AS n FROM uploads u
    WHERE u.participant_id = $1 AND u.sync_time >= d.day_start AND u.sync_time < d.day_end
) up ON true
ORDER BY d.day
"""


_DEVICE_REPORTED: Final = """
SELECT date, field, value FROM device_daily
WHERE participant_id = $1 AND date >= $2 AND date < $3
ORDER BY date, field
"""


def _pct(minutes: int, day_minutes: int) -> float:
    return round(100 * minutes / day_minutes, 2)


async def daily(
    pool: asyncpg.Pool, participant_id: str, timezone: str, start: dt.date, end: dt.date
) -> list[DaySummary]:
    """Summaries of the local dates in [start, end)."""
    rows = await pool.fetch(_DAYS, participant_id, timezone, start, end)
    nights = {night.date: night for night in await sleep.nights(pool, participant_id, timezone, start, end)}
    device_reported: dict[dt.date, dict[str, float]] = {}
    for reported in await pool.fetch(_DEVICE_REPORTED, participant_id, start, end):
        device_reported.setdefault(reported["date"], {})[reported["field"]] = reported["value"]
    return [
        DaySummary(
            date=row["day"],
            day_minutes=row["day_minutes"],
            wear_minutes=row["hr_minutes"],
            wear_pct=_pct(row["hr_minutes"], row["day_minutes"]),
            coverage_pct=Coverage(
                heart_rate=_pct(row["hr_minutes"], row["day_minutes"]),
                steps=_pct(row["steps_minutes"], row["day_minutes"]),
                active_zone_minutes=_pct(row["azm_minutes"], row["day_minutes"]),
            ),
            resting_hr=row["resting_hr"],
            resting_hr_minutes=row["resting_minutes"],
            steps=round(row["steps"]) if row["steps"] is not None else None,
            active_zone_minutes=round(row["azm"]) if row["azm"] is not None else None,
            sleep=nights[row["day"]],
            uploads=row["uploads"],
            last_upload=row["last_upload"],
            device_reported=device_reported.get(row["day"], {}),
        )
        for row in rows
    ]
