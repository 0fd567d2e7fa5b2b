"""The binary COPY stream built in numpy (`copy_binary`) stores what asyncpg's record encoder stores, field by
field: integer, scaled and float64 segments, extra columns with NaN and infinities, empty arrays, NULLs,
non-ASCII participant ids, times before 2000 and far ahead."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import numpy as np

from stream_processors.copy_binary import STAGED_COLUMNS, staged_rows
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
