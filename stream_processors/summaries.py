"""Daily summaries and sleep nights, materialised in the sink's transaction for the local dates a group touched.

Each is recomputed from the stored rollups of its dates (so late and corrected data correct it), in one
set-based statement per table, and kept in its own table: the retention of 1-minute rollups never takes a
day's resting HR or a night away. A date whose 1-minute rollups were dropped after its summary was computed
keeps the values that needed them (totals and wear still follow the day rollups).

Definitions (README, "Daily summaries" and "Sleep"): wear minutes = minutes with heart rate in the local day;
coverage = minutes with data per metric; resting HR = mean of the 1-minute HR means over 00:00–06:59 local
minutes with zero steps; a night (sleep date d) = [d − 1 12:00, d 12:00) local: stage epochs, onset = first
epoch, offset = last epoch + 30 s, SpO2 mean/min, HRV mean, and the night's breathing rate (the last
whole-night reading).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import asyncpg

from schemas.metrics import (
    ACTIVE_ZONE_MINUTES,
    BREATHING_RATE,
    HEART_RATE,
    HRV_RMSSD,
    METRIC_IDS,
    SLEEP_STAGE,
    SPO2,
    STEPS,
)
from stream_processors.validate import ValidBatch

HR_ID: Final = METRIC_IDS[HEART_RATE.name]
STEPS_ID: Final = METRIC_IDS[STEPS.name]
AZM_ID: Final = METRIC_IDS[ACTIVE_ZONE_MINUTES.name]
DAY_METRICS: Final = frozenset({HEART_RATE.name, STEPS.name, ACTIVE_ZONE_MINUTES.name})
NIGHT_METRICS: Final = frozenset({SLEEP_STAGE.name, SPO2.name, HRV_RMSSD.name, BREATHING_RATE.name})

# $1 participant ids, $2 their zones, $3/$4 first/last reading (epoch ms) that touched them.
_TOUCHED: Final = """
SELECT t.pid, t.tz, b.first_day + g.i AS day
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS t (pid, tz, lo, hi)
CROSS JOIN LATERAL (
    SELECT ((ms_to_ts(t.lo) AT TIME ZONE t.tz) + {shift})::date AS first_day,
           ((ms_to_ts(t.hi) AT TIME ZONE t.tz) + {shift})::date AS last_day
) b
CROSS JOIN LATERAL generate_series(0, b.last_day - b.first_day) AS g (i)
"""
_TOUCHED_DAYS: Final = _TOUCHED.format(shift="interval '0 hours'")
# A reading at local noon or later belongs to the night that ends the next morning.
_TOUCHED_NIGHTS: Final = _TOUCHED.format(shift="interval '12 hours'")
_ALL_DAYS: Final = """
SELECT DISTINCT p.participant_id AS pid, p.timezone AS tz,
       (m.first_reading AT TIME ZONE p.timezone)::date + g.i AS day
FROM participant_metric_state m
JOIN participants p USING (participant_id)
CROSS JOIN LATERAL generate_series(
    0, (m.last_reading AT TIME ZONE p.timezone)::date + {extra} - (m.first_reading AT TIME ZONE p.timezone)::date
) AS g (i)
WHERE m.metric_id = ANY($1::int2[]) AND ($2::text[] IS NULL OR p.participant_id = ANY($2::text[]))
"""

# True when 1-minute rollups (or raw readings) the existing summary was computed from were dropped since.
_DETAIL_LOST: Final = """EXISTS (
    SELECT 1 FROM retention_drops r
    WHERE r.table_name IN ('rollup_1m', 'raw_segments') AND r.dropped_before > {start}
      AND r.dropped_at > e.detail_at)"""

_DAILY: Final = f"""
WITH touched AS ({{touched}}),
days AS (
    SELECT pid, tz, day, day::timestamp AT TIME ZONE tz AS day_start, (day + 1)::timestamp AT TIME ZONE tz AS day_end,
           (day + time '07:00') AT TIME ZONE tz AS rest_end
    FROM touched
),
judged AS (
    SELECT d.*, e.participant_id IS NOT NULL AND {_DETAIL_LOST.format(start="d.day_start")} AS keep,
           e.resting_hr AS kept_mean, e.resting_hr_minutes AS kept_n, e.detail_at AS kept_at
    FROM days d LEFT JOIN daily_summary e ON e.participant_id = d.pid AND e.day = d.day
)
INSERT INTO daily_summary AS s (participant_id, day, timezone, day_minutes, wear_minutes, steps_minutes,
                                azm_minutes, steps, active_zone_minutes, resting_hr, resting_hr_minutes,
                                detail_at, computed_at)
SELECT d.pid, d.day, d.tz, (extract(epoch FROM d.day_end - d.day_start) / 60)::int,
       coalesce(hr.minutes, 0), coalesce(st.minutes, 0), coalesce(az.minutes, 0), st.sum, az.sum,
       CASE WHEN d.keep THEN d.kept_mean ELSE rest.mean END,
       CASE WHEN d.keep THEN d.kept_n ELSE coalesce(rest.n, 0) END,
       CASE WHEN d.keep THEN d.kept_at ELSE now() END, now()
FROM judged d
LEFT JOIN rollup_1d hr ON hr.participant_id = d.pid AND hr.metric_id = {HR_ID} AND hr.bucket = d.day_start
LEFT JOIN rollup_1d st ON st.participant_id = d.pid AND st.metric_id = {STEPS_ID} AND st.bucket = d.day_start
LEFT JOIN rollup_1d az ON az.participant_id = d.pid AND az.metric_id = {AZM_ID} AND az.bucket = d.day_start
LEFT JOIN LATERAL (
    SELECT avg(h.sum / h.count) AS mean, count(*)::int AS n
    FROM rollup_1m h
    JOIN rollup_1m s ON s.participant_id = d.pid AND s.metric_id = {STEPS_ID} AND s.bucket = h.bucket AND s.sum = 0
    WHERE NOT d.keep AND h.participant_id = d.pid AND h.metric_id = {HR_ID}
      AND h.bucket >= d.day_start AND h.bucket < d.rest_end
) rest ON true
ON CONFLICT (participant_id, day) DO UPDATE SET
    timezone = EXCLUDED.timezone, day_minutes = EXCLUDED.day_minutes, wear_minutes = EXCLUDED.wear_minutes,
    steps_minutes = EXCLUDED.steps_minutes, azm_minutes = EXCLUDED.azm_minutes, steps = EXCLUDED.steps,
    active_zone_minutes = EXCLUDED.active_zone_minutes, resting_hr = EXCLUDED.resting_hr,
    resting_hr_minutes = EXCLUDED.resting_hr_minutes, detail_at = EXCLUDED.detail_at,
    computed_at = EXCLUDED.computed_at
"""

_NIGHTS: Final = f"""
WITH touched AS ({{touched}}),
nights AS (
    SELECT pid, tz, day AS night, (day - 1 + time '12:00') AT TIME ZONE tz AS w_start,
           (day + time '12:00') AT TIME ZONE tz AS w_end
    FROM touched
),
judged AS (
    SELECT n.*, e.participant_id IS NOT NULL AND {_DETAIL_LOST.format(start="n.w_start")} AS keep
    FROM nights n LEFT JOIN sleep_nights e ON e.participant_id = n.pid AND e.night = n.night
),
computed AS (
    SELECT n.pid, n.night, n.tz, n.w_start, n.w_end, st.wake, st.light, st.deep, st.rem, st.onset, st.last_epoch,
           sp.mean AS spo2_mean, sp.min AS spo2_min, hrv.mean AS hrv_mean, br.value AS breathing_rate
    FROM judged n
    LEFT JOIN LATERAL (
        SELECT sum(stage_epochs[1])::int AS wake, sum(stage_epochs[2])::int AS light,
               sum(stage_epochs[3])::int AS deep, sum(stage_epochs[4])::int AS rem,
               min(first_time) AS onset, max(last_time) AS last_epoch
        FROM rollup_1m WHERE participant_id = n.pid AND metric_id = {METRIC_IDS[SLEEP_STAGE.name]}
          AND bucket >= n.w_start AND bucket < n.w_end
    ) st ON true
    LEFT JOIN LATERAL (
        SELECT sum(sum) / sum(count) AS mean, min(min) AS min
        FROM rollup_1m WHERE participant_id = n.pid AND metric_id = {METRIC_IDS[SPO2.name]}
          AND bucket >= n.w_start AND bucket < n.w_end
    ) sp ON true
    LEFT JOIN LATERAL (
        SELECT sum(sum) / sum(count) AS mean
        FROM rollup_1m WHERE participant_id = n.pid AND metric_id = {METRIC_IDS[HRV_RMSSD.name]}
          AND bucket >= n.w_start AND bucket < n.w_end
    ) hrv ON true
    LEFT JOIN LATERAL (
        SELECT r.value FROM raw_readings(n.pid, '{BREATHING_RATE.name}', n.w_start, n.w_end) r
        WHERE r.extra[1] = -1 ORDER BY r.time DESC LIMIT 1
    ) br ON true
    WHERE NOT n.keep
)
INSERT INTO sleep_nights AS s (participant_id, night, timezone, window_start, window_end, wake_epochs,
                               light_epochs, deep_epochs, rem_epochs, onset, last_epoch, spo2_mean, spo2_min,
                               hrv_rmssd_mean, breathing_rate, detail_at, computed_at)
SELECT pid, night, tz, w_start, w_end, wake, light, deep, rem, onset, last_epoch, spo2_mean, spo2_min, hrv_mean,
       breathing_rate, now(), now()
FROM computed
ON CONFLICT (participant_id, night) DO UPDATE SET
    timezone = EXCLUDED.timezone, window_start = EXCLUDED.window_start, window_end = EXCLUDED.window_end,
    wake_epochs = EXCLUDED.wake_epochs, light_epochs = EXCLUDED.light_epochs, deep_epochs = EXCLUDED.deep_epochs,
    rem_epochs = EXCLUDED.rem_epochs, onset = EXCLUDED.onset, last_epoch = EXCLUDED.last_epoch,
    spo2_mean = EXCLUDED.spo2_mean, spo2_min = EXCLUDED.spo2_min, hrv_rmssd_mean = EXCLUDED.hrv_rmssd_mean,
    breathing_rate = EXCLUDED.breathing_rate, detail_at = EXCLUDED.detail_at, computed_at = EXCLUDED.computed_at
"""

UPDATE_DAYS: Final = _DAILY.format(touched=_TOUCHED_DAYS)
UPDATE_NIGHTS: Final = _NIGHTS.format(touched=_TOUCHED_NIGHTS)
REBUILD_DAYS: Final = _DAILY.format(touched=_ALL_DAYS.format(extra=0))
REBUILD_NIGHTS: Final = _NIGHTS.format(touched=_ALL_DAYS.format(extra=1))


class Touched:
    """Per participant, the first and last reading of a group in the metrics a summary table is computed from."""

    def __init__(self) -> None:
        self.ranges: dict[str, tuple[int, int]] = {}

    def add(self, participant_id: str, first_ms: int, last_ms: int) -> None:
        known = self.ranges.get(participant_id)
        self.ranges[participant_id] = (
            (first_ms, last_ms) if known is None else (min(known[0], first_ms), max(known[1], last_ms))
        )

    def arguments(self, timezones: Mapping[str, str]) -> tuple[list[str], list[str], list[int], list[int]]:
        pids = sorted(self.ranges)
        return (
            pids,
            [timezones.get(pid, "UTC") for pid in pids],
            [self.ranges[pid][0] for pid in pids],
            [self.ranges[pid][1] for pid in pids],
        )


async def update(connection: asyncpg.Connection, fresh: Sequence[ValidBatch], timezones: Mapping[str, str]) -> None:
    """Recomputes the daily summaries and nights of the local dates (in the participant's recorded zone, else
    UTC) that the group's readings fall on; at most one statement per table. Runs in the caller's transaction."""
    days, nights = Touched(), Touched()
    for b in fresh:
        if not len(b.timestamps):
            continue
        name = b.metric.name
        if name in DAY_METRICS or name in NIGHT_METRICS:
            target = days if name in DAY_METRICS else nights
            target.add(b.batch.participant_id, int(b.timestamps.min()), int(b.timestamps.max()))
    if days.ranges:
        await connection.execute(UPDATE_DAYS, *days.arguments(timezones))
    if nights.ranges:
        await connection.execute(UPDATE_NIGHTS, *nights.arguments(timezones))


async def rebuild(connection: asyncpg.Connection, participant_ids: Sequence[str] | None = None) -> tuple[int, int]:
    """Recomputes every day and night between each participant's first and last reading (in the recorded zone),
    e.g. after the migration or a change of zone; returns (days, nights) written."""
    pids = list(participant_ids) if participant_ids is not None else None
    day_ids = [METRIC_IDS[m] for m in sorted(DAY_METRICS)]
    night_ids = [METRIC_IDS[m] for m in sorted(NIGHT_METRICS)]
    async with connection.transaction():
        days = await connection.execute(REBUILD_DAYS, day_ids, pids)
        nights = await connection.execute(REBUILD_NIGHTS, night_ids, pids)
    return int(days.split()[-1]), int(nights.split()[-1])
