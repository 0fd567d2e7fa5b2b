"""Bytes on disk per reading in total — raw segments + 1-minute, 1-hour and 1-day rollups, each with its
indexes and TOAST — as the pipeline leaves them under its default settings: compaction as the worker runs it
(periods settled for its default 2 h), then a plain VACUUM as autovacuum would run; no VACUUM FULL, so the space
that compaction's superseded rows held stays counted.

A table's size is split between metrics by their share of its stored bytes (`pg_column_size` of each row's
columns, compressed as stored), which for a single-metric run is the whole table.
"""

from __future__ import annotations

from typing import Final

import asyncpg

from bench.common import Measurement
from schemas.metrics import METRIC_IDS
from stream_processors.compaction import compact
from stream_processors.db import create_pool

TABLES: Final = ("raw_segments", "rollup_1m", "rollup_1h", "rollup_1d")
_RAW_SHARE: Final = """
SELECT metric_id, sum(n)::bigint AS readings,
       sum(pg_column_size(ts_delta) + coalesce(pg_column_size(value_delta), 0) + coalesce(pg_column_size(value_f8), 0)
           + coalesce(pg_column_size(extra), 0) + 64)::float8 AS bytes
FROM raw_segments GROUP BY 1
"""
_ROLLUP_SHARE: Final = "SELECT metric_id, sum(pg_column_size(t.*))::float8 AS bytes FROM {table} t GROUP BY 1"


async def total_bytes(database_url: str, *, data: str) -> list[Measurement]:
    """B per stored reading per metric: the total, then each table's part."""
    pool = await create_pool(database_url, size=2)
    try:
        while (await compact(pool)).periods:
            pass
        async with pool.acquire() as connection:
            for table in TABLES:
                await connection.execute(f"VACUUM ANALYZE {table}")
            shares = await _shares(connection)
    finally:
        await pool.close()
    names = {metric_id: name for name, metric_id in METRIC_IDS.items()}
    found: list[Measurement] = []
    for metric_id, (readings, parts) in sorted(shares.items()):
        name = names[metric_id]
        total = sum(parts.values()) / readings
        detail = ", ".join(f"{table} {size / readings:.2f}" for table, size in parts.items())
        found.append(
            Measurement(
                name=f"storage.total.{name}",
                value=total,
                unit="B/reading",
                data=data,
                note=f"raw + 1 m + 1 h + 1 d with indexes and TOAST, default compaction, no VACUUM FULL: {detail}"
                + ("; target ≤ 3 B: " + ("met" if total <= 3 else "NOT met") if name == "heart_rate" else ""),
            )
        )
    return found


async def _shares(connection: asyncpg.Connection) -> dict[int, tuple[int, dict[str, float]]]:
    """Per metric id: its stored readings, and its bytes in each table."""
    raw = await connection.fetch(_RAW_SHARE)
    readings = {r["metric_id"]: int(r["readings"]) for r in raw}
    parts: dict[int, dict[str, float]] = {m: {} for m in readings}
    for table in TABLES:
        size = float(await connection.fetchval("SELECT hypertable_size($1::regclass)", table) or 0)
        rows = raw if table == "raw_segments" else await connection.fetch(_ROLLUP_SHARE.format(table=table))
        stored = sum(r["bytes"] for r in rows) or 1.0
        for r in rows:
            if r["metric_id"] in parts:
                parts[r["metric_id"]][table] = size * r["bytes"] / stored
    return {m: (readings[m], parts[m]) for m in readings if readings[m]}
