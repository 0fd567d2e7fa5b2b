"""The binary COPY streams built in numpy (`copy_binary`) store what asyncpg's record encoder stores, field by
field. Raw segments: integer, scaled and float64 segments, extra columns with NaN and infinities, empty
arrays, NULLs, non-ASCII participant ids, times before 2000 and far ahead. Rollup rows: with and without
sleep-stage epochs, NaN-free float extremes, empty and non-ASCII participant ids."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import numpy as np
import pytest

from stream_processors.copy_binary import ROLLUP_COLUMNS, STAGED_COLUMNS, rollup_rows, staged_rows, stream
from stream_processors.db import create_pool
from stream_processors.rollup_store import ROLLUP_STAGING, UPSERT_1M, RollupRows
from stream_processors.rollups import aggregate, fixed_buckets
from stream_processors.segments import Segment, ms_to_datetime, pack

T0 = int(dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC).timestamp() * 1000)


def _segments() -> list[Segment]:
    rng = np.random.default_rng(7)
    found: list[Segment] = []
    for k, (values, width) in enumerate(
        [
            (rng.integers(40, 200, 9000).astype(np.float64), 0),  # whole bpm, 3 hours
            (np.round(rng.uniform(90, 100, 9000), 1), 0),  # scaled (SpO2-like)
            (rng.normal(60, 5, 9000), 2),  # float64, two extra columns
            (np.array([-(2.0**31), 2.0**31 - 1, 0.0] * 3000), 1),  # the int32 extremes
        ]
    ):
        timestamps = T0 + np.cumsum(rng.integers(1, 3, len(values)) * 1000)
        extra = [rng.normal(size=len(values)).astype(np.float32) for _ in range(width)]
        for column in extra:
            column[::97] = np.nan
            column[5::101] = np.inf
        found += pack(
            participant_id=f"p-{k}-Zoë-参加者",
            metric_id=k + 1,
            batch_id=uuid.uuid4().hex,
            scale=1,
            timestamps=timestamps,
            values=values,
            extra=extra,
        )
    for start_ms in (-2_208_988_800_000, 0, 946_684_799_999, 253_402_300_799_000):  # 1900, 1970, 1999, 9999
        found.append(
            Segment(
                participant_id="",
                metric_id=32767,
                start_ms=start_ms,
                end_ms=start_ms,
                batch_id=uuid.uuid4().hex,
                ts_delta=[],
                value_delta=[],
                extra=[],
                value_scale=None,
            )
        )
    return found


async def _rows(connection: asyncpg.Connection, table: str) -> list[str]:
    return [r[0] for r in await connection.fetch(f"SELECT t::text FROM {table} t ORDER BY 1")]


async def test_numpy_stream_equals_asyncpg_records(database: str) -> None:
    segments = _segments()
    sync_times = {s.batch_id: T0 + 86_400_000 + i for i, s in enumerate(segments)}
    connection = await asyncpg.connect(database)
    try:
        for table in ("by_records", "by_stream"):
            await connection.execute(f"CREATE TEMP TABLE {table} (LIKE raw_segments)")
        await connection.copy_records_to_table(
            "by_records",
            records=[(*s.record(), ms_to_datetime(sync_times[s.batch_id])) for s in segments],
            columns=STAGED_COLUMNS,
        )
        await connection.copy_to_table(
            "by_stream", source=memoryview(staged_rows(segments, sync_times)), columns=STAGED_COLUMNS, format="binary"
        )
        expected = await _rows(connection, "by_records")
        assert len(expected) == len(segments) > 8
        assert await _rows(connection, "by_stream") == expected
        kinds = await connection.fetchrow(
            "SELECT count(*) FILTER (WHERE value_f8 IS NOT NULL) AS f8, count(*) FILTER (WHERE value_scale = 10) AS"
            " scaled, count(*) FILTER (WHERE 'NaN' = ANY(extra)) AS nan, count(*) FILTER (WHERE n = 0) AS empty"
            " FROM by_stream"
        )
        assert all(kinds[k] > 0 for k in ("f8", "scaled", "nan", "empty")), dict(kinds)
    finally:
        await connection.close()


def _rollups(rng: np.random.Generator) -> list[tuple[str, dict[str, np.ndarray], np.ndarray | None]]:
    found = []
    for pid, rows, stages in (("p-1", 500, False), ("Zoë-参加者", 7, True), ("", 1, False), ("x" * 300, 3, True)):
        bucket = T0 + np.arange(rows, dtype=np.int64) * 60_000 - 10**12 * (pid == "")
        columns = {
            "bucket": bucket,
            "count": rng.integers(0, 2**31 - 1, rows),
            "sum": rng.normal(0, 1e300, rows),
            "min": np.full(rows, -np.inf) if stages else rng.normal(size=rows),
            "max": np.full(rows, 5e-324),
            "first": bucket + 1,
            "last": bucket + 59_999,
            "minutes": rng.integers(0, 1441, rows),
        }
        found.append((pid, columns, rng.integers(0, 2**31 - 1, (rows, 4)) if stages else None))
    return found


async def test_rollup_stream_equals_asyncpg_records(database: str) -> None:
    rollups = _rollups(np.random.default_rng(3))
    connection = await asyncpg.connect(database)
    try:
        await connection.execute(
            "CREATE TEMP TABLE by_records (participant_id text, bucket timestamptz,"
            " count integer, sum float8, min float8, max float8, first_time timestamptz, last_time timestamptz,"
            " minutes integer, stage_epochs integer[]); CREATE TEMP TABLE by_stream (LIKE by_records)"
        )
        records = [
            (
                pid,
                *(ms_to_datetime(int(c["bucket"][i])), int(c["count"][i]), float(c["sum"][i])),
                *(float(c["min"][i]), float(c["max"][i]), ms_to_datetime(int(c["first"][i]))),
                *(ms_to_datetime(int(c["last"][i])), int(c["minutes"][i])),
                None if stages is None else stages[i].tolist(),
            )
            for pid, c, stages in rollups
            for i in range(len(c["bucket"]))
        ]
        await connection.copy_records_to_table("by_records", records=records, columns=ROLLUP_COLUMNS)
        body = stream(rollup_rows(pid, c, stages) for pid, c, stages in rollups)
        await connection.copy_to_table("by_stream", source=memoryview(body), columns=ROLLUP_COLUMNS, format="binary")
        expected = await _rows(connection, "by_records")
        assert len(expected) == 511
        assert await _rows(connection, "by_stream") == expected
        assert await connection.fetchval("SELECT count(*) FROM by_stream WHERE stage_epochs IS NOT NULL") == 10
    finally:
        await connection.close()


async def test_rollup_upsert_outside_a_transaction_is_refused(database: str) -> None:
    """The staging table empties itself at every commit: outside a transaction the rows would vanish."""
    pool = await create_pool(database, size=1)
    try:
        ts = T0 + np.arange(120, dtype=np.int64) * 1000
        rows = RollupRows()
        rows.add("p-1", aggregate(fixed_buckets(ts, 60_000), ts, np.ones(120), stages=False))
        async with pool.acquire() as connection:
            with pytest.raises(RuntimeError, match="inside a transaction"):
                await rows.upsert(connection, UPSERT_1M, 1, stages=False)
            assert await connection.fetchval(f"SELECT count(*) FROM {ROLLUP_STAGING}") == 0
    finally:
        await pool.close()
