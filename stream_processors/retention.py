"""Retention: drop whole chunks past each table's retention (TimescaleDB's `drop_chunks`), on our schedule.

The Apache edition has no background jobs, so the leader worker (and `wearstream db retention`) calls this.
Raw readings are kept by default; 1-minute rollups, the largest derived table, for a configurable period —
hours, days and raw data still answer older ranges, and daily summaries and sleep nights (their own tables,
kept for ever by default) keep what was computed from the minutes. Each drop is logged in `retention_drops`,
which tells the API which levels still hold a range.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import asyncpg

HYPERTABLES = ("raw_segments", "rollup_1m", "rollup_1h", "rollup_1d", "gaps")
SUMMARY_TABLES = {"daily_summary": "day", "sleep_nights": "night"}
"""Plain tables (a row per participant and local date): retention deletes rows by date."""
RETAINED_TABLES = HYPERTABLES + tuple(SUMMARY_TABLES)


async def apply_retention(
    connection: asyncpg.Connection, retention_days: Mapping[str, int | None], *, now: dt.datetime | None = None
) -> dict[str, int]:
    """Drops the chunks (summary tables: the rows) of each table older than now − its retention; returns chunks
    (rows) dropped per table. A table with no retention (None or 0) keeps everything."""
    moment = now or dt.datetime.now(dt.UTC)
    dropped: dict[str, int] = {}
    for table, days in retention_days.items():
        if table not in RETAINED_TABLES:
            raise ValueError(f"no retention for {table!r}; tables: {', '.join(RETAINED_TABLES)}")
        if not days:
            continue
        cutoff = moment - dt.timedelta(days=days)
        if table in SUMMARY_TABLES:
            status = await connection.execute(
                f"DELETE FROM {table} WHERE {SUMMARY_TABLES[table]} < $1::date", cutoff.date()
            )
            dropped[table] = int(status.split()[-1])
            continue
        async with connection.transaction():
            rows = await connection.fetch(
                # The processors' role may not drop chunks itself: 0007_roles.sql's function does, as the owner.
                "SELECT drop_expired_chunks($1, $2::timestamptz)",
                table,
                cutoff,
            )
            if rows:
                await connection.execute(
                    "INSERT INTO retention_drops (table_name, dropped_at, dropped_before, chunks)"
                    " VALUES ($1, clock_timestamp(), $2, $3)",
                    table,
                    cutoff,
                    len(rows),
                )
        dropped[table] = len(rows)
    return dropped
