"""The references the API's answers are measured against, on the same prepared database and in the same run:
reading (or decoding) exactly the rows an answer needs, with asyncpg and numpy in this process, and the
common approach to adherence of one query per participant.

- 1-year chart (`auto`, 1,000 points): the 1-hour rollup rows of the year that `auto` reads (8,760).
- One raw day: that day's stored segments, fetched and decoded in numpy (`api.series.raw.read_window`, the
  API's own reader, without building points or JSON).
- Cohort adherence: the window's heart-rate and sleep day rollups and the uploads' last time per participant,
  read in two statements; and the same read as two statements per participant.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import Final

import asyncpg

from api.series.raw import read_window
from bench.common import Measurement, percentile
from schemas.metrics import HEART_RATE, METRIC_IDS, SLEEP_STAGE

HR: Final = METRIC_IDS[HEART_RATE.name]
SLEEP: Final = METRIC_IDS[SLEEP_STAGE.name]

_CHART_ROWS: Final = (
    "SELECT bucket, count, sum, min, max FROM rollup_1h"
    " WHERE participant_id = $1 AND metric_id = $2 AND bucket >= $3 AND bucket < $4 ORDER BY bucket"
)
_DAYS: Final = (
    "SELECT participant_id, metric_id, bucket, minutes, first_time, last_time FROM rollup_1d"
    " WHERE metric_id = ANY($1::int2[]) AND bucket >= $2 AND bucket < $3"
)
_LAST_UPLOADS: Final = (
    "SELECT participant_id, max(sync_time) FROM uploads WHERE sync_time >= $1 AND sync_time < $2 GROUP BY 1"
)
_DAYS_OF: Final = _DAYS + " AND participant_id = $4"
_LAST_UPLOAD_OF: Final = (
    "SELECT max(sync_time) FROM uploads WHERE participant_id = $1 AND sync_time >= $2 AND sync_time < $3"
)


async def _timed(step: Callable[[], Awaitable[object]], n: int) -> list[float]:
    for _ in range(3):
        await step()
    found = []
    for _ in range(n):
        started = time.perf_counter()
        await step()
        found.append((time.perf_counter() - started) * 1000)
    return found


async def references(
    database_url: str, *, year_start: dt.datetime, raw_day: dt.datetime, cohort_end: dt.date, repeats: int
) -> dict[str, list[float]]:
    """Latencies (ms) of each reference read: chart, raw_day, adherence, adherence_per_participant."""
    connection = await asyncpg.connect(database_url)
    try:
        year_end = year_start + dt.timedelta(days=365)
        chart = await _timed(lambda: connection.fetch(_CHART_ROWS, "PYEAR", HR, year_start, year_end), repeats)
        day_end = raw_day + dt.timedelta(days=1)

        def ms(instant: dt.datetime) -> int:
            return int(instant.timestamp() * 1000)

        async def decode_day() -> object:
            return await read_window(connection, "P0001", HEART_RATE, ms(raw_day), ms(day_end))

        raw = await _timed(decode_day, max(10, repeats // 5))
        # Every local midnight of the 30-day window in any zone, and the uploads up to its end.
        lo = dt.datetime.combine(cohort_end - dt.timedelta(days=31), dt.time(), tzinfo=dt.UTC)
        hi = dt.datetime.combine(cohort_end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        since = lo - dt.timedelta(days=365)

        async def cohort_read() -> object:
            return await connection.fetch(_DAYS, [HR, SLEEP], lo, hi), await connection.fetch(_LAST_UPLOADS, since, hi)

        participants = [
            r["participant_id"]
            for r in await connection.fetch("SELECT participant_id FROM participants WHERE participant_id LIKE 'C%'")
        ]

        async def per_participant() -> object:
            for pid in participants:
                await connection.fetch(_DAYS_OF, [HR, SLEEP], lo, hi, pid)
                await connection.fetchval(_LAST_UPLOAD_OF, pid, since, hi)
            return None

        adherence = await _timed(cohort_read, max(10, repeats // 2))
        one_by_one = await _timed(per_participant, 5)
    finally:
        await connection.close()
    return {"chart": chart, "raw_day": raw, "adherence": adherence, "adherence_per_participant": one_by_one}


def ratio_measurements(
    api: dict[str, list[float]], refs: dict[str, list[float]], labels: dict[str, str]
) -> list[Measurement]:
    """Each API p95 beside its reference's p95, and their ratio against the target."""
    rows = [
        ("chart_1y", "chart", "chart", 2.0, "the bare SQL read of the 8,760 1-hour rollup rows it bins"),
        ("raw_day", "raw_day", "raw_day", 2.0, "fetching that day's segments and decoding them in numpy"),
        ("raw_day_arrow", "raw_day_arrow", "raw_day", 2.0, "fetching that day's segments and decoding them in numpy"),
        ("adherence", "adherence", "adherence", 3.0, "the bare SQL read of the window's day rollups and uploads"),
    ]
    found: list[Measurement] = []
    for name, api_key, ref_key, target, reference in rows:
        api_p95, ref_p95 = percentile(api[api_key], 95), percentile(refs[ref_key], 95)
        found.append(
            Measurement(
                name=f"query.{name}.reference.p95",
                value=ref_p95,
                unit="ms",
                repeats=refs[ref_key],
                data=labels[name.removesuffix("_arrow")],
                note=reference,
            )
        )
        found.append(
            Measurement(
                name=f"query.{name} ÷ reference",
                value=api_p95 / ref_p95,
                unit="×",
                data=labels[name.removesuffix("_arrow")],
                note=f"p95 over HTTP ÷ p95 of {reference}; target ≤ {target:g}: "
                + ("met" if api_p95 / ref_p95 <= target else "NOT met"),
            )
        )
    one_by_one = percentile(refs["adherence_per_participant"], 95)
    adherence = percentile(api["adherence"], 95)
    found.append(
        Measurement(
            name="query.adherence.per_participant.p95",
            value=one_by_one,
            unit="ms",
            repeats=refs["adherence_per_participant"],
            data=labels["adherence"],
            note="the common approach: the same two reads, one pair of queries per participant (no HTTP)",
        )
    )
    found.append(
        Measurement(
            name="query.adherence speed-up over one query per participant",
            value=one_by_one / adherence,
            unit="×",
            data=labels["adherence"],
            note="target ≥ 20: " + ("met" if one_by_one / adherence >= 20 else "NOT met"),
        )
    )
    return found


def export_measurements(seconds: dict[str, list[float]], decode_ms: list[float], readings: int) -> list[Measurement]:
    """Raw exports over HTTP in rows/s (median of the downloads) beside the rows/s of decoding the same readings
    (the raw-day reference's median), and their ratio against the target ≥ 0.5."""
    decode_rate = readings / (percentile(decode_ms, 50) / 1000)
    data = f"1 participant × 1 day of raw heart rate ({readings:,} readings)"
    found = [
        Measurement(
            name="export.raw.decode_rows",
            value=decode_rate,
            unit="rows/s",
            data=data,
            note="the reference: fetching and decoding the day's segments in numpy (median)",
        )
    ]
    for fmt, samples in seconds.items():
        rate = readings / percentile(samples, 50)
        found.append(Measurement(name=f"export.raw_{fmt}_rows", value=rate, unit="rows/s", repeats=samples, data=data))
        found.append(
            Measurement(
                name=f"export.raw_{fmt} ÷ decode",
                value=rate / decode_rate,
                unit="×",
                data=data,
                note="target ≥ 0.5: " + ("met" if rate / decode_rate >= 0.5 else "NOT met"),
            )
        )
    return found
