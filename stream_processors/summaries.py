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

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Final
from zoneinfo import ZoneInfo

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
REST_METRICS: Final = frozenset({HEART_RATE.name, STEPS.name})
NIGHT_METRICS: Final = frozenset({SLEEP_STAGE.name, SPO2.name, HRV_RMSSD.name, BREATHING_RATE.name})

# $1 participant ids, $2 their zones, $3 local dates (computed here: a per-row generate_series would make
# the planner guess 1,000 dates per participant and JIT-compile a statement that takes a millisecond), and for
# days $4 whether the group has readings in the resting-HR hours (else the stored resting HR stands).
_TOUCHED_DAYS: Final = (
    "SELECT t.pid, t.tz, t.day, t.rest FROM unnest($1::text[], $2::text[], $3::date[], $4::bool[])"
    " AS t (pid, tz, day, rest)"
)
_TOUCHED_NIGHTS: Final = "SELECT t.pid, t.tz, t.day FROM unnest($1::text[], $2::text[], $3::date[]) AS t (pid, tz, day)"
_ALL_DAYS: Final = """
SELECT DISTINCT p.participant_id AS pid, p.timezone AS tz,
       (m.first_reading AT TIME ZONE p.timezone)::date + g.i AS day, true AS rest
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
    SELECT pid, tz, day, rest, day::timestamp AT TIME ZONE tz AS day_start,
           (day + 1)::timestamp AT TIME ZONE tz AS day_end, (day + time '07:00') AT TIME ZONE tz AS rest_end
    FROM touched
),
judged AS (
    SELECT d.*, coalesce(e.found, false) AND (NOT d.rest OR {_DETAIL_LOST.format(start="d.day_start")}) AS keep,
           e.resting_hr AS kept_mean, e.resting_hr_minutes AS kept_n, e.detail_at AS kept_at
    FROM days d
    -- Lateral lookups (by primary key, one per date) rather than joins the planner may turn into scans.
    LEFT JOIN LATERAL (
        SELECT true AS found, e.resting_hr, e.resting_hr_minutes, e.detail_at FROM daily_summary e
        WHERE e.participant_id = d.pid AND e.day = d.day LIMIT 1
    ) e ON true
)
INSERT INTO daily_summary AS s (participant_id, day, timezone, day_minutes, wear_minutes, steps_minutes,
                                azm_minutes, steps, active_zone_minutes, resting_hr, resting_hr_minutes,
                                detail_at, computed_at)
SELECT d.pid, d.day, d.tz, (extract(epoch FROM d.day_end - d.day_start) / 60)::int,
       coalesce(r.hr_minutes, 0), coalesce(r.steps_minutes, 0), coalesce(r.azm_minutes, 0), r.steps, r.azm,
       CASE WHEN d.keep THEN d.kept_mean ELSE rest.mean END,
       CASE WHEN d.keep THEN d.kept_n ELSE coalesce(rest.n, 0) END,
       CASE WHEN d.keep THEN d.kept_at ELSE now() END, now()
FROM judged d
LEFT JOIN LATERAL (
    SELECT max(minutes) FILTER (WHERE metric_id = {HR_ID}) AS hr_minutes,
           max(minutes) FILTER (WHERE metric_id = {STEPS_ID}) AS steps_minutes,
           max(minutes) FILTER (WHERE metric_id = {AZM_ID}) AS azm_minutes,
           max(sum) FILTER (WHERE metric_id = {STEPS_ID}) AS steps, max(sum) FILTER (WHERE metric_id = {AZM_ID}) AS azm
    FROM rollup_1d
    WHERE participant_id = d.pid AND metric_id IN ({HR_ID}, {STEPS_ID}, {AZM_ID}) AND bucket = d.day_start
) r ON true
LEFT JOIN LATERAL (
    -- One scan of the night's heart-rate and steps minutes (a self-join is planned as a nested loop).
    SELECT avg(m.hr) AS mean, count(*)::int AS n
    FROM (
        SELECT max(sum / count) FILTER (WHERE metric_id = {HR_ID}) AS hr,
               bool_or(metric_id = {STEPS_ID} AND sum = 0) AS still
        FROM rollup_1m
        WHERE NOT d.keep AND participant_id = d.pid AND metric_id IN ({HR_ID}, {STEPS_ID})
          AND bucket >= d.day_start AND bucket < d.rest_end
        GROUP BY bucket
    ) m
    WHERE m.still AND m.hr IS NOT NULL
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
    SELECT n.*, coalesce(e.found, false) AND {_DETAIL_LOST.format(start="n.w_start")} AS keep
    FROM nights n
    LEFT JOIN LATERAL (
        SELECT true AS found, e.detail_at FROM sleep_nights e WHERE e.participant_id = n.pid AND e.night = n.night
        LIMIT 1
    ) e ON true
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


REST_END: Final = dt.time(7)
"""Resting HR is computed over 00:00–06:59 local."""
NIGHT_SHIFT: Final = dt.timedelta(hours=12)
"""A reading at local noon or later belongs to the night that ends the next morning."""


def local_dates(first_ms: int, last_ms: int, timezone: str, shift: dt.timedelta = dt.timedelta()) -> list[dt.date]:
    """The local dates (of wall-clock time + `shift`) from the first to the last reading, inclusive."""
    zone = ZoneInfo(timezone)
    first, last = (
        (dt.datetime.fromtimestamp(ms / 1000, zone).replace(tzinfo=None) + shift).date() for ms in (first_ms, last_ms)
    )
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


class Touched:
    """Per participant, the first and last reading of a group in the metrics a summary table is computed from."""

    def __init__(self, shift: dt.timedelta = dt.timedelta()) -> None:
        self.shift = shift
        self.ranges: dict[str, tuple[int, int]] = {}
        self.rest_ranges: dict[str, tuple[int, int]] = {}
        """The same for the metrics resting HR is computed from (heart rate and steps)."""

    def add(self, participant_id: str, first_ms: int, last_ms: int, *, rest: bool = True) -> None:
        for ranges in (self.ranges, self.rest_ranges) if rest else (self.ranges,):
            known = ranges.get(participant_id)
            ranges[participant_id] = (
                (first_ms, last_ms) if known is None else (min(known[0], first_ms), max(known[1], last_ms))
            )

    def arguments(self, timezones: Mapping[str, str]) -> tuple[list[str], list[str], list[dt.date], list[bool]]:
        """Columns of (participant, zone, local date, readings in its resting-HR hours), one row per participant
        and date touched."""
        pids: list[str] = []
        zones: list[str] = []
        dates: list[dt.date] = []
        rest: list[bool] = []
        for pid, (first, last) in sorted(self.ranges.items()):
            timezone = timezones.get(pid, "UTC")
            zone = ZoneInfo(timezone)
            rest_first, rest_last = self.rest_ranges.get(pid, (0, -1))
            for date in local_dates(first, last, timezone, self.shift):
                pids.append(pid)
                zones.append(timezone)
                dates.append(date)
                rest_start = int(dt.datetime.combine(date, dt.time(), zone).timestamp() * 1000)
                rest_end = int(dt.datetime.combine(date, REST_END, zone).timestamp() * 1000)
                rest.append(rest_first <= rest_last and rest_first < rest_end and rest_last >= rest_start)
        return pids, zones, dates, rest


async def update(connection: asyncpg.Connection, fresh: Sequence[ValidBatch], timezones: Mapping[str, str]) -> None:
    """Recomputes the daily summaries and nights of the local dates (in the participant's recorded zone, else
    UTC) that the group's readings fall on; at most one statement per table. Runs in the caller's transaction."""
    days, nights = Touched(), Touched(NIGHT_SHIFT)
    for b in fresh:
        if not len(b.timestamps):
            continue
        name = b.metric.name
        if name in DAY_METRICS or name in NIGHT_METRICS:
            target = days if name in DAY_METRICS else nights
            target.add(
                b.batch.participant_id,
                int(b.timestamps.min()),
                int(b.timestamps.max()),
                rest=name in REST_METRICS,
            )
    if days.ranges:
        await connection.execute(UPDATE_DAYS, *days.arguments(timezones))
    if nights.ranges:
        await connection.execute(UPDATE_NIGHTS, *nights.arguments(timezones)[:3])


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
