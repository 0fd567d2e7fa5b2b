"""Streaming export of a range as CSV or Parquet, in bounded memory however long the range.

Raw readings are read a window of up to a day (at most about 100,000 readings) at a time, as numpy columns (rollups a
page of buckets at a time) on one connection, and each window is encoded and handed to the response before the
next is read. Parquet gets a row group per
`ROW_GROUP` rows; the bytes the writer produced are yielded as soon as a group is written (a window's rows
beyond its last whole group wait for the next window's).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Final

import asyncpg
import pyarrow as pa
import pyarrow.parquet as pq

from api import metric_defs
from api.series.csv_text import csv_lines
from api.series.levels import RollupLevel, raw_interval_ms
from api.series.raw import read_window
from api.series.services import SeriesQuery, rollup_page
from schemas.codebook import point_fields

ROW_GROUP: Final = 20_000
ROLLUP_PAGE: Final = 10_000


def raw_columns(query: SeriesQuery) -> list[str]:
    return point_fields(query.metric, "raw")


def rollup_columns(query: SeriesQuery) -> list[str]:
    return point_fields(query.metric, "1m")


async def _raw_tables(pool: asyncpg.Pool, query: SeriesQuery) -> AsyncIterator[pa.Table]:
    """Raw readings, one window (1 h – 1 day, ≤ ~100,000 readings) at a time, as columns: time, value, *extra
    (null where the reading's segment has none). A day of a 1-second metric is one window: one query, and each
    segment decoded once."""
    window = min(86_400_000, max(3_600_000, raw_interval_ms(query.metric) * 100_000))
    schema = _arrow_schema(raw_columns(query))
    async with pool.acquire() as connection:
        low = query.start_ms
        while low < query.end_ms:
            high = min(query.end_ms, low + window)
            readings = await read_window(connection, query.participant_id, query.metric, low, high)
            if len(readings):
                missing = ~readings.has_extra
                arrays = [
                    pa.array(readings.times, type=pa.int64()).cast(schema.field(0).type),
                    pa.array(readings.values, type=pa.float64()),
                    *(pa.array(c, type=pa.float64(), mask=missing) for c in readings.extra_float64()),
                ]
                yield pa.Table.from_arrays(arrays, schema=schema)
            low = high


async def _rollup_tables(pool: asyncpg.Pool, query: SeriesQuery, level: RollupLevel) -> AsyncIterator[pa.Table]:
    """Stored buckets, a page at a time: time, count, min, max, mean, [sum], [4 stage epochs]."""
    schema = _arrow_schema(rollup_columns(query))
    after: int | None = None
    async with pool.acquire() as connection:
        while True:
            rows, more = await rollup_page(connection, query, level, after, ROLLUP_PAGE)
            if rows:
                out: list[tuple[object, ...]] = []
                for row in rows:
                    values: list[object] = [row["t"], row["count"], row["min"], row["max"], row["sum"] / row["count"]]
                    if query.metric.aggregate == "sum":
                        values.append(row["sum"])
                    if query.metric.aggregate == "stage":
                        values.extend(row["stage_epochs"] or [0, 0, 0, 0])
                    out.append(tuple(values))
                columns = [pa.array([r[i] for r in out], type=f.type) for i, f in enumerate(schema)]
                yield pa.Table.from_arrays(columns, schema=schema)
                after = rows[-1]["t"]
            if not more:
                return


def rows_of(
    pool: asyncpg.Pool, query: SeriesQuery, level: RollupLevel | None
) -> tuple[list[str], AsyncIterator[pa.Table]]:
    """The range's columns, and its rows as tables of at most a window's (raw) or a page's (rollups), in order."""
    if level is None:
        return raw_columns(query), _raw_tables(pool, query)
    return rollup_columns(query), _rollup_tables(pool, query, level)


async def csv_stream(columns: list[str], chunks: AsyncIterator[pa.Table]) -> AsyncIterator[bytes]:
    yield (",".join(columns) + "\n").encode()
    async for table in chunks:
        if table.num_rows:
            metric_defs.EXPORT_ROWS.labels(format="csv").inc(table.num_rows)
            yield csv_lines(table)


class _Drain:
    """A write-only file for pyarrow whose bytes are taken out as they are written."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0
        self.closed = False

    def write(self, data: bytes | memoryview) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def _arrow_schema(columns: list[str]) -> pa.Schema:
    fields = [pa.field("time", pa.timestamp("ms", tz="UTC"), nullable=False)]
    for name in columns[1:]:
        integral = name == "count" or name.endswith("_epochs")
        fields.append(pa.field(name, pa.int64() if integral else pa.float64()))
    return pa.schema(fields)


async def parquet_stream(columns: list[str], chunks: AsyncIterator[pa.Table]) -> AsyncIterator[bytes]:
    schema = _arrow_schema(columns)
    sink = _Drain()
    # Times step by about the same interval: delta encoding stores them in a few bits each.
    writer = pq.ParquetWriter(
        sink, schema, compression="zstd", use_dictionary=columns[1:], column_encoding={"time": "DELTA_BINARY_PACKED"}
    )
    pending: list[pa.Table] = []

    def write_groups(*, last: bool) -> None:
        """Writes the pending rows' whole groups of ROW_GROUP (all of them if `last`); the rest stay pending."""
        table = pa.concat_tables(pending)
        cut = table.num_rows if last else table.num_rows // ROW_GROUP * ROW_GROUP
        writer.write_table(table.slice(0, cut), row_group_size=ROW_GROUP)
        metric_defs.EXPORT_ROWS.labels(format="parquet").inc(cut)
        pending[:] = [table.slice(cut)] if cut < table.num_rows else []

    async for table in chunks:
        pending.append(table)
        if sum(t.num_rows for t in pending) >= ROW_GROUP:
            write_groups(last=False)
            yield sink.take()
    if pending:
        write_groups(last=True)
    writer.close()
    yield sink.take()


def filename(query: SeriesQuery, level: str, extension: str) -> str:
    def stamp(value: dt.datetime) -> str:
        return value.strftime("%Y%m%dT%H%M%SZ")

    return f"{query.participant_id}_{query.metric.name}_{level}_{stamp(query.start)}_{stamp(query.end)}.{extension}"
