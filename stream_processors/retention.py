"""Retention: drop whole chunks past each table's retention (TimescaleDB's `drop_chunks`), on our schedule.

The Apache edition has no background jobs, so the leader worker (and `wearstream db retention`) calls this.
Raw readings are kept by default; 1-minute rollups, the largest derived table, for a configurable period —
hours, days and raw data still answer older ranges.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import asyncpg

RETAINED_TABLES = ("raw_segments", "rollup_1m", "rollup_1h", "rollup_1d", "gaps")


async def apply_retention(
    connection: asyncpg.Connection, retention_days: Mapping[str, int | None], *, now: dt.datetime | None = None
) -> dict[str, int]:
    """Drops the chunks of each table that end before now − its retention; returns chunks dropped per table.

    A table with no retention (None or 0) keeps everything.
    """
    moment = now or dt.datetime.now(dt.UTC)
    dropped: dict[str, int] = {}
    for table, days in retention_days.items():
        if table not in RETAINED_TABLES:
            raise ValueError(f"no retention for {table!r}; tables: {', '.join(RETAINED_TABLES)}")
        if not days:
            continue
        rows = await connection.fetch(
            # The processors' role may not drop chunks itself: 0007_roles.sql's function does, as the owner.
            "SELECT drop_expired_chunks($1, $2::timestamptz)",
            table,
            moment - dt.timedelta(days=days),
        )
        dropped[table] = len(rows)
    return dropped
