"""Raw readings for the export straight from the stored segments: read in day windows, decoded with numpy.

The same readings, in the same order, as `GET /v1/participants/{id}/series/{metric}?resolution=raw` pages,
decoded by the same code (`api.series.raw`), without JSON. A segment holds readings of one UTC day at most
(compaction merges a day of the slower metrics), so windows of whole UTC days split no segment; memory holds
one window.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Final

import asyncpg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from litestar.exceptions import HTTPException

from api.params import check_range, parse_instant
from api.series.levels import raw_interval_ms
from api.series.raw import SEGMENTS_STARTING, Decoded, decode_segments
from api.series.services import stored_bounds
from core.settings import Settings
from schemas.metrics import METRIC_IDS, METRICS
from schemas.readings import exact_float64
from wearstream.client.errors import ClientError
from wearstream.client.export import ExportResult, ExportSpec, Reporter, run_export
from wearstream.client.partitions import PartWriter, series_schema
from wearstream.local_api import local_client

DAY_MS: Final = 86_400_000
WINDOW_READINGS: Final = 400_000
"""About this many readings per window (at the metric's native interval): a few row groups' worth."""


def arrow_rows(decoded: Decoded, low_ms: int, high_ms: int, timezone: str, metric: str) -> pa.Table:
    """The readings in [low_ms, high_ms) ordered by time and value, as rows of the raw series schema."""
    keep = (decoded.times >= low_ms) & (decoded.times < high_ms)
    times, values = decoded.times[keep], decoded.values[keep]
    order = np.lexsort((values, times))
    schema = series_schema("raw")
    time = pa.array(times[order], type=pa.timestamp("ms", tz="UTC"))
    columns: dict[str, pa.Array] = {
        "time": time,
        "local_time": pc.local_timestamp(time.cast(pa.timestamp("ms", tz=timezone))),
        "timezone": pa.repeat(pa.scalar(timezone), len(order)),
        "value": pa.array(values[order], type=pa.float64()),
    }
    names = METRICS[metric].extra_columns
    for name, column in zip(names, decoded.extra, strict=True):
        # float32 as sent stands for its shortest decimal, as the API writes it (`api.series.services.extra_values`).
        columns[name] = pa.array(exact_float64(column[keep][order]), type=pa.float64(), from_pandas=True)
    arrays = [columns[f.name] if f.name in columns else pa.nulls(len(order), type=f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def _windows(low_ms: int, high_ms: int, metric: str) -> Iterator[tuple[int, int]]:
    """[first, last) start_time bounds of whole UTC days covering [low_ms, high_ms)."""
    days = max(1, WINDOW_READINGS * raw_interval_ms(METRICS[metric]) // DAY_MS)
    first = low_ms - low_ms % DAY_MS
    while first < high_ms:
        last = min(high_ms, first + days * DAY_MS)
        yield first, last
        first = last


async def _bounds(
    pool: asyncpg.Pool, spec: ExportSpec, metric: str, participant_id: str, timezone: str
) -> tuple[int, int]:
    """The export's [start, end) for one participant in epoch ms, as the API resolves it."""
    try:
        low = parse_instant("start", spec.start, timezone) if spec.start is not None else None
        high = parse_instant("end", spec.end, timezone) if spec.end is not None else None
        if low is not None and high is not None:
            check_range(low, high)
    except HTTPException as error:
        raise ClientError(str(error.detail)) from error
    if low is None or high is None:
        first, after_last = await stored_bounds(pool, participant_id, METRICS[metric])
        low = low or first
        high = max(high or after_last, low)
    return int(low.timestamp() * 1000), int(high.timestamp() * 1000)


class RawSeries:
    """The export's raw series source (`run_export(series=…)`) over a database pool; the participants' time
    zones come from `zones` (filled by the export's cohort step)."""

    def __init__(self, runner: asyncio.Runner, pool: asyncpg.Pool, zones: dict[str, str]) -> None:
        self.runner, self.pool, self.zones = runner, pool, zones

    async def _window(self, participant_id: str, metric: str, window: tuple[int, int]) -> Decoded:
        rows = await self.pool.fetch(SEGMENTS_STARTING, participant_id, METRIC_IDS[metric], *window)
        definition = METRICS[metric]
        return decode_segments(rows, definition.scale, len(definition.extra_columns))

    def __call__(
        self, spec: ExportSpec, metric: str, participant_id: str, writer: PartWriter, report: Reporter
    ) -> None:
        timezone = self.zones.get(participant_id, "UTC")
        low, high = self.runner.run(_bounds(self.pool, spec, metric, participant_id, timezone))
        # Writing a window (zstd, Parquet; outside the GIL) overlaps reading and decoding the next one; one
        # write at a time, in order.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-writer") as writes:
            pending: Future[None] | None = None
            for window in _windows(low, high, metric):
                decoded = self.runner.run(self._window(participant_id, metric, window))
                table = arrow_rows(decoded, max(low, window[0]), min(high, window[1]), timezone, metric)
                if pending is not None:
                    pending.result()
                pending = writes.submit(writer.add_table, table)
                report.readings(table.num_rows)
            if pending is not None:
                pending.result()


async def _open_pool(dsn: str) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1, command_timeout=600)
    assert pool is not None
    return pool


def run_database_export(
    settings: Settings, out: Path, spec: ExportSpec, *, fresh: bool = False, report: Reporter | None = None
) -> ExportResult:
    """`run_export` against the database of `settings` (its read-only role when it has one): raw series from
    the segments (`RawSeries`), rollups, series with imputed minutes and tables from the API's endpoints in
    this process."""
    dsn = settings.database.readonly_dsn
    with asyncio.Runner() as runner:
        # Connecting first: an unreachable database or a refused role fails here, plainly.
        pool = runner.run(_open_pool(dsn))
        try:
            with local_client(settings, dsn) as client:
                # Imputed minutes come through the API's pages; the segments hold observed readings only.
                from_segments = spec.resolution == "raw" and spec.imputed == "exclude"
                series = RawSeries(runner, pool, client.zones) if from_segments else None
                return run_export(client, out, spec, fresh=fresh, report=report, series=series)
        finally:
            runner.run(pool.close())
