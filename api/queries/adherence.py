"""The adherence statement, shared by the adherence report, the cohort view and reminders.

`ADHERENCE_CTE` ends in a `flagged` relation (one row per participant, with its flags and totals); callers append
their own `SELECT` and pass `arguments(...)` as its first nine parameters. `ADHERENCE_DAILY_CTE` is the same
with each participant's worn minutes per day rollup and nights as arrays, for the per-date breakdown: building and
decoding those arrays is most of the statement's cost, so the totals alone leave them out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final

from api.adherence.schemas import Thresholds
from schemas.metrics import HEART_RATE, METRIC_IDS, SLEEP_STAGE

HR_ID: Final = METRIC_IDS[HEART_RATE.name]
SLEEP_ID: Final = METRIC_IDS[SLEEP_STAGE.name]

# $1 start date, $2 end date (exclusive), $3 as_of, $4 participant ids (NULL: all), $5/$6 bucket bounds that
# cover every local midnight of the window in any zone, $7 min wear %, $8 max upload age (h), $9 min sleep %.
# No row per participant-day is generated: the window's minutes come from its local bounds, worn minutes from
# the heart-rate day rollups in it, and nights from where each sleep day rollup starts and ends relative to
# local noon (a day's first epoch before noon: that day's night; its last epoch at or after noon: the next
# day's night). Local midnights and noons are computed once per time zone and date, then joined.
_TEMPLATE: Final = f"""
WITH p AS (
    -- `key`: the id compared byte by byte ("C"), for fast grouping; `participant_id` keeps the collation the
    -- tables' indexes use, for index lookups.
    SELECT participant_id, participant_id COLLATE "C" AS key, timezone, enrolled_on, authorisation, contact_email,
           greatest($1::date, enrolled_on) AS first_day,
           greatest($1::date, enrolled_on)::timestamp AT TIME ZONE timezone AS w_start,
           $2::date::timestamp AT TIME ZONE timezone AS w_end
    FROM participants WHERE $4::text[] IS NULL OR participant_id = ANY($4::text[])
), local_days AS (
    -- Local midnights and noons of the window's dates, once per time zone in use (not per participant).
    SELECT z.timezone, d.day, d.day::timestamp AT TIME ZONE z.timezone AS midnight,
           (d.day + time '12:00') AT TIME ZONE z.timezone AS noon
    FROM (SELECT DISTINCT timezone FROM p) z
    CROSS JOIN (SELECT $1::date - 1 + i AS day FROM generate_series(0, $2::date - $1::date) i) d
), hr AS (
    SELECT p.key, sum(r.minutes)::bigint AS worn{{worn_arrays}}
    FROM rollup_1d r JOIN p ON p.participant_id = r.participant_id
    WHERE r.metric_id = {HR_ID} AND r.bucket >= $5 AND r.bucket < $6 AND r.bucket >= p.w_start AND r.bucket < p.w_end
    GROUP BY p.key
), sleep AS (
    -- A sleep day rollup opens the night ending that day (an epoch before local noon) and closes the next one
    -- (an epoch at or after noon).
    SELECT p.key,
           array_agg(l.day) FILTER (WHERE r.first_time < l.noon) AS mornings,
           array_agg(l.day + 1) FILTER (WHERE r.last_time >= l.noon) AS evenings
    FROM rollup_1d r
    JOIN p ON p.participant_id = r.participant_id
    JOIN local_days l ON l.timezone = p.timezone AND l.midnight = r.bucket
    WHERE r.metric_id = {SLEEP_ID} AND r.bucket >= $5 - interval '1 day' AND r.bucket < $6
    GROUP BY p.key
), nights AS (
    SELECT s.key, {{night_arrays}} (
        SELECT count(DISTINCT n) FROM unnest(s.mornings || s.evenings) n WHERE n >= p.first_day AND n < $2::date
    )::int AS nights
    FROM sleep s JOIN p ON p.key = s.key
), summary AS (
    SELECT p.participant_id, p.timezone, p.enrolled_on, p.authorisation, p.contact_email, p.first_day,
           greatest($2::date - p.first_day, 0) AS days,
           coalesce(nights.nights, 0) AS nights,
           CASE WHEN p.first_day < $2::date
                THEN 100.0 * coalesce(hr.worn, 0) / (extract(epoch FROM p.w_end - p.w_start) / 60) END::float8
               AS wear_pct,
           CASE WHEN p.first_day < $2::date
                THEN 100.0 * coalesce(nights.nights, 0) / ($2::date - p.first_day) END::float8
               AS sleep_pct,
           {{arrays}}
           up.last_upload, imp.last_import,
           (extract(epoch FROM $3 - up.last_upload) / 3600)::float8 AS hours_since_last_upload,
           EXISTS (SELECT 1 FROM participant_metric_state s WHERE s.participant_id = p.participant_id) AS has_data
    FROM p
    LEFT JOIN hr ON hr.key = p.key
    LEFT JOIN nights ON nights.key = p.key
    LEFT JOIN LATERAL (
        SELECT max(u.sync_time) AS last_upload FROM uploads u
        WHERE u.participant_id = p.participant_id AND u.sync_time <= $3
    ) up ON true
    LEFT JOIN LATERAL (
        SELECT max(i.imported_at) AS last_import FROM imports i
        WHERE i.participant_id = p.participant_id AND i.imported_at <= $3
    ) imp ON true
), flagged AS (
    SELECT s.*, array_remove(ARRAY[
        CASE WHEN s.authorisation <> 'authorised' OR NOT s.has_data THEN 'not_authorised' END,
        CASE WHEN s.last_upload IS NULL OR s.hours_since_last_upload > $8 THEN 'no_recent_upload' END,
        CASE WHEN s.wear_pct < $7 THEN 'low_wear' END,
        CASE WHEN s.sleep_pct < $9 THEN 'low_sleep_data' END
    ], NULL) AS flags
    FROM summary s
)
"""


ADHERENCE_CTE: Final = _TEMPLATE.format(worn_arrays="", night_arrays="", arrays="")
ADHERENCE_DAILY_CTE: Final = _TEMPLATE.format(
    worn_arrays=", array_agg(ts_to_ms(r.bucket)) AS worn_buckets_ms, array_agg(r.minutes) AS worn_minutes",
    night_arrays="s.mornings, s.evenings,",
    arrays="hr.worn_buckets_ms, hr.worn_minutes, nights.mornings, nights.evenings,",
)


def bucket_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """UTC instants that bracket every local midnight of [start, end) in any time zone (±14 h)."""
    low = dt.datetime.combine(start - dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    high = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return low, high


def arguments(
    start: dt.date, end: dt.date, as_of: dt.datetime, participant_ids: Sequence[str] | None, thresholds: Thresholds
) -> list[object]:
    low, high = bucket_bounds(start, end)
    return [
        start,
        end,
        as_of,
        list(participant_ids) if participant_ids is not None else None,
        low,
        high,
        thresholds.min_wear_pct,
        thresholds.max_upload_age_h,
        thresholds.min_sleep_pct,
    ]


def rounded(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)
