"""Daily summaries of one participant: the stored summaries (stream_processors/summaries.py) and uploads of each
local date, plus the nights."""

from __future__ import annotations

import datetime as dt
from typing import Final

import asyncpg

from api.daily.schemas import Coverage, DaySummary
from api.sleep import services as sleep

_DAYS: Final = """
WITH days AS (
    SELECT d AS day, d::timestamp AT TIME ZONE $2 AS day_start, (d + 1)::timestamp AT TIME ZONE $2 AS day_end
    FROM (SELECT $3::date + i AS d FROM generate_series(0, $4::date - $3::date - 1) i) x
)
SELECT d.day, (extract(epoch FROM d.day_end - d.day_start) / 60)::int AS day_minutes,
       coalesce(s.wear_minutes, 0) AS hr_minutes, coalesce(s.steps_minutes, 0) AS steps_minutes,
       coalesce(s.azm_minutes, 0) AS azm_minutes, s.steps, s.active_zone_minutes AS azm,
       s.resting_hr, coalesce(s.resting_hr_minutes, 0) AS resting_minutes, up.last_upload, coalesce(up.n, 0) AS uploads
FROM days d
LEFT JOIN daily_summary s ON s.participant_id = $1 AND s.day = d.day
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


_IMPUTED_MINUTES: Final = """
SELECT (i.minute AT TIME ZONE $2)::date AS day, m.name AS metric, count(*)::int AS minutes
FROM imputed_points i JOIN metrics m ON m.metric_id = i.metric_id
WHERE i.run_id = $5 AND i.participant_id = $1
  AND i.minute >= ($3::date)::timestamp AT TIME ZONE $2 AND i.minute < ($4::date)::timestamp AT TIME ZONE $2
GROUP BY 1, 2 ORDER BY 1, 2
"""


async def imputed_minutes(
    pool: asyncpg.Pool, participant_id: str, timezone: str, start: dt.date, end: dt.date, run_id: str
) -> dict[dt.date, dict[str, int]]:
    """Per local date in [start, end) and metric, the minutes `run_id` imputed."""
    found: dict[dt.date, dict[str, int]] = {}
    for row in await pool.fetch(_IMPUTED_MINUTES, participant_id, timezone, start, end, run_id):
        found.setdefault(row["day"], {})[row["metric"]] = row["minutes"]
    return found


def _pct(minutes: int, day_minutes: int) -> float:
    return round(100 * minutes / day_minutes, 2)


async def daily(
    pool: asyncpg.Pool,
    participant_id: str,
    timezone: str,
    start: dt.date,
    end: dt.date,
    imputation_run: str | None = None,
) -> list[DaySummary]:
    """Summaries of the local dates in [start, end); with `imputation_run`, each with the minutes it imputed."""
    rows = await pool.fetch(_DAYS, participant_id, timezone, start, end)
    nights = {night.date: night for night in await sleep.nights(pool, participant_id, timezone, start, end)}
    device_reported: dict[dt.date, dict[str, float]] = {}
    for reported in await pool.fetch(_DEVICE_REPORTED, participant_id, start, end):
        device_reported.setdefault(reported["date"], {})[reported["field"]] = reported["value"]
    imputed: dict[dt.date, dict[str, int]] = {}
    if imputation_run is not None:
        imputed = await imputed_minutes(pool, participant_id, timezone, start, end, imputation_run)
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
            imputed_minutes=imputed.get(row["day"], {}),
        )
        for row in rows
    ]
