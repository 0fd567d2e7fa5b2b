"""Alert and night queries; alerts keyset-paged by (night, participant, detector)."""

from __future__ import annotations

import datetime as dt
from typing import Final

import asyncpg

from api.alerts.schemas import Alert, AlertLevel, Night, NightVerdict

_ALERTS: Final = """
SELECT participant_id, detector, level, night, value, baseline, state, created_at, updated_at FROM alerts
WHERE ($1::text IS NULL OR participant_id = $1)
  AND ($2::date IS NULL OR night >= $2) AND ($3::date IS NULL OR night < $3)
  AND ($4::text IS NULL OR level = $4) AND ($5::text IS NULL OR detector = $5)
  AND ($6::date IS NULL OR (night, participant_id, detector) > ($6, $7::text, $8::text))
ORDER BY night, participant_id, detector
LIMIT $9
"""

_NIGHTS: Final = """
SELECT o.night, v.resting_hr, coalesce(v.minutes, 0) AS minutes, o.detector, o.value, o.baseline, o.level, o.filled
FROM night_outcomes o
LEFT JOIN nightly_values v ON v.participant_id = o.participant_id AND v.night = o.night
WHERE o.participant_id = $1 AND o.night >= $2 AND o.night < $3
ORDER BY o.night, o.detector
"""


async def alerts(
    pool: asyncpg.Pool,
    *,
    participant_id: str | None,
    start: dt.date | None,
    end: dt.date | None,
    level: AlertLevel | None,
    detector: str | None,
    after: tuple[dt.date, str, str] | None,
    limit: int,
) -> tuple[list[Alert], tuple[dt.date, str, str] | None]:
    """Alerts of nights in [start, end) and the position after them if more follow."""
    rows = await pool.fetch(
        _ALERTS,
        participant_id,
        start,
        end,
        level,
        detector,
        after[0] if after else None,
        after[1] if after else None,
        after[2] if after else None,
        limit + 1,
    )
    items = [Alert(**dict(row)) for row in rows[:limit]]
    last = items[-1] if len(rows) > limit else None
    return items, (last.night, last.participant_id, last.detector) if last else None


async def nights(pool: asyncpg.Pool, participant_id: str, start: dt.date, end: dt.date) -> list[Night]:
    """Each night in [start, end) with a verdict: its value and every detector's value, baseline and level."""
    found: dict[dt.date, Night] = {}
    for row in await pool.fetch(_NIGHTS, participant_id, start, end):
        night = found.setdefault(
            row["night"], Night(night=row["night"], resting_hr=row["resting_hr"], minutes=row["minutes"], detectors=[])
        )
        night.detectors.append(
            NightVerdict(
                detector=row["detector"],
                value=row["value"],
                baseline=row["baseline"],
                level=row["level"],
                filled=row["filled"],
            )
        )
    return list(found.values())
