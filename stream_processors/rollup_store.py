"""Writes raw segments and rollups inside the sink's transaction (SQL only; the numbers come from numpy).

Rollup rows reach PostgreSQL as one binary COPY into a per-connection staging table (`copy_binary` builds
the stream in numpy), which the upsert empties as it merges them: no per-element encoding of parameter
arrays.
"""

from __future__ import annotations

from typing import Final

import asyncpg
import numpy as np
import numpy.typing as npt
from opentelemetry import trace

from core.telemetry import tracer
from stream_processors.copy_binary import ROLLUP_COLUMNS, rollup_rows, stream
from stream_processors.rollups import Rollup
from stream_processors.spans import copy_attributes

STAGING_TABLE: Final = "raw_staging"
ROLLUP_STAGING: Final = "rollup_staging"

CREATE_STAGING: Final = f"""
CREATE TEMP TABLE IF NOT EXISTS {STAGING_TABLE} (LIKE raw_segments INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS {ROLLUP_STAGING} (
    participant_id text, bucket timestamptz, count integer, sum float8, min float8, max float8,
    first_time timestamptz, last_time timestamptz, minutes integer, stage_epochs integer[]
) ON COMMIT DELETE ROWS;
"""
"""Run once per connection (the processor pool's init does): the staging tables of raw segments and rollups."""


_UPSERT: Final = """
WITH u AS (DELETE FROM {staging} RETURNING *)
INSERT INTO {table} AS r (participant_id, metric_id, bucket, count, sum, min, max, first_time, last_time,
                          minutes, stage_epochs)
SELECT u.participant_id, $1, u.bucket, u.count, u.sum, u.min, u.max, u.first_time, u.last_time,
       u.minutes, u.stage_epochs
FROM u
ON CONFLICT (participant_id, metric_id, bucket) DO UPDATE SET
    count = r.count + EXCLUDED.count,
    sum = r.sum + EXCLUDED.sum,
    min = least(r.min, EXCLUDED.min),
    max = greatest(r.max, EXCLUDED.max),
    first_time = least(r.first_time, EXCLUDED.first_time),
    last_time = greatest(r.last_time, EXCLUDED.last_time),
    minutes = {minutes_merge},
    stage_epochs = CASE WHEN r.stage_epochs IS NULL THEN EXCLUDED.stage_epochs ELSE ARRAY[
        r.stage_epochs[1] + EXCLUDED.stage_epochs[1], r.stage_epochs[2] + EXCLUDED.stage_epochs[2],
        r.stage_epochs[3] + EXCLUDED.stage_epochs[3], r.stage_epochs[4] + EXCLUDED.stage_epochs[4]] END
RETURNING participant_id, ts_to_ms(bucket) AS bucket_ms, (xmax = 0) AS inserted, count, sum, min, max
"""

UPSERT_1M: Final = _UPSERT.format(staging=ROLLUP_STAGING, table="rollup_1m", minutes_merge="1")
UPSERT_1H: Final = _UPSERT.format(
    staging=ROLLUP_STAGING, table="rollup_1h", minutes_merge="r.minutes + EXCLUDED.minutes"
)
UPSERT_1D: Final = _UPSERT.format(
    staging=ROLLUP_STAGING, table="rollup_1d", minutes_merge="r.minutes + EXCLUDED.minutes"
)


class RollupRows:
    """Rollup rows of several participants of one metric, gathered into one staged COPY and one upsert."""

    def __init__(self) -> None:
        self.parts: list[tuple[str, Rollup, npt.NDArray[np.int64]]] = []

    def add(self, participant_id: str, rollup: Rollup, minutes: npt.NDArray[np.int64] | None = None) -> None:
        if len(rollup):
            self.parts.append((participant_id, rollup, np.ones(len(rollup), np.int64) if minutes is None else minutes))

    async def upsert(
        self, connection: asyncpg.Connection, statement: str, metric_id: int, *, stages: bool
    ) -> list[asyncpg.Record]:
        """Merges the rows into the table of `statement` (UPSERT_1M/1H/1D); returns the merged rows. Must run
        inside a transaction: the staging table empties itself at every commit."""
        if not self.parts:
            return []
        if not connection.is_in_transaction():
            raise RuntimeError("rollup upserts stage their rows and must run inside a transaction")
        bodies = [
            rollup_rows(
                pid,
                {
                    "bucket": rollup.bucket_ms,
                    "count": rollup.count,
                    **{"sum": rollup.sum, "min": rollup.min, "max": rollup.max},
                    **{"first": rollup.first_ms, "last": rollup.last_ms, "minutes": minutes},
                },
                rollup.stage_epochs if stages else None,
            )
            for pid, rollup, minutes in self.parts
        ]
        # The asyncpg instrumentation does not trace COPY: this span stands in for it.
        with tracer().start_as_current_span(
            f"COPY {ROLLUP_STAGING}",
            kind=trace.SpanKind.CLIENT,
            attributes=copy_attributes(ROLLUP_STAGING, ROLLUP_COLUMNS, sum(len(part[1]) for part in self.parts)),
        ):
            await connection.copy_to_table(
                ROLLUP_STAGING, source=memoryview(stream(bodies)), columns=ROLLUP_COLUMNS, format="binary"
            )
        return await connection.fetch(statement, metric_id)  # type: ignore[no-any-return]
