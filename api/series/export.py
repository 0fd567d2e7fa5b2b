"""Streaming export of a range as CSV or Parquet, in bounded memory however long the range.

Raw readings are read an hour-sized window at a time (rollups a page of buckets at a time) on one connection,
and each window is encoded and handed to the response before the next is read. Parquet gets a row group per
`ROW_GROUP` rows; the bytes the writer produced are yielded as soon as a group is written.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator
from typing import Final

import asyncpg
import pyarrow as pa
import pyarrow.parquet as pq

from api import metric_defs
from api.params import from_ms
from api.series.levels import RollupLevel, raw_interval_ms
from api.series.services import SeriesQuery, extra_values, raw_window, rollup_page
from schemas.codebook import point_fields

ROW_GROUP: Final = 20_000
ROLLUP_PAGE: Final = 10_000


def _iso(ms: int) -> str:
    return from_ms(ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def raw_columns(query: SeriesQuery) -> list[str]:
    return point_fields(query.metric, "raw")


def rollup_columns(query: SeriesQuery) -> list[str]:
    return point_fields(query.metric, "1m")


async def _raw_rows(pool: asyncpg.Pool, query: SeriesQuery) -> AsyncIterator[list[tuple[object, ...]]]:
    """Raw readings, one window (≥ 1 h, ~10,000 readings) at a time: (time_ms, value, *extra)."""
    window = max(3_600_000, raw_interval_ms(query.metric) * 10_000)
    missing: list[float | None] = [None] * len(query.metric.extra_columns)
    async with pool.acquire() as connection:
        low = query.start_ms
        while low < query.end_ms:
            high = min(query.end_ms, low + window)
            rows = await raw_window(connection, query, low, high)
            if rows:
                yield [(row["t"], row["value"], *(extra_values(row["extra"]) or missing)) for row in rows]
            low = high


async def _rollup_rows(
    pool: asyncpg.Pool, query: SeriesQuery, level: RollupLevel
) -> AsyncIterator[list[tuple[object, ...]]]:
    """Stored buckets, a page at a time: (time_ms, count, min, max, mean, [sum], [4 stage epochs])."""
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
                yield out
                after = rows[-1]["t"]
            if not more:
                return


def rows_of(
    pool: asyncpg.Pool, query: SeriesQuery, level: RollupLevel | None
) -> tuple[list[str], AsyncIterator[list[tuple[object, ...]]]]:
    if level is None:
        return raw_columns(query), _raw_rows(pool, query)
    return rollup_columns(query), _rollup_rows(pool, query, level)


async def csv_stream(columns: list[str], chunks: AsyncIterator[list[tuple[object, ...]]]) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    async for rows in chunks:
        writer.writerows((_iso(row[0]), *row[1:]) for row in rows)  # type: ignore[arg-type]
        metric_defs.EXPORT_ROWS.labels(format="csv").inc(len(rows))
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


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


async def parquet_stream(columns: list[str], chunks: AsyncIterator[list[tuple[object, ...]]]) -> AsyncIterator[bytes]:
    schema = _arrow_schema(columns)
    sink = _Drain()
    writer = pq.ParquetWriter(sink, schema, compression="zstd")
    pending: list[tuple[object, ...]] = []

    def write_group() -> None:
        arrays = [pa.array([row[i] for row in pending], type=schema.field(i).type) for i in range(len(columns))]
        writer.write_table(pa.Table.from_arrays(arrays, schema=schema), row_group_size=ROW_GROUP)
        metric_defs.EXPORT_ROWS.labels(format="parquet").inc(len(pending))
        pending.clear()

    async for rows in chunks:
        pending.extend(rows)
        if len(pending) >= ROW_GROUP:
            write_group()
            yield sink.take()
    if pending:
        write_group()
    writer.close()
    yield sink.take()


def filename(query: SeriesQuery, level: str, extension: str) -> str:
    def stamp(value: dt.datetime) -> str:
        return value.strftime("%Y%m%dT%H%M%SZ")

    return f"{query.participant_id}_{query.metric.name}_{level}_{stamp(query.start)}_{stamp(query.end)}.{extension}"
