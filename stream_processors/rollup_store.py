"""Writes raw segments and rollups inside the sink's transaction (SQL only; the numbers come from numpy)."""

from __future__ import annotations

from typing import Final

import asyncpg
import numpy as np
import numpy.typing as npt

from stream_processors.rollups import Rollup

STAGING_TABLE: Final = "raw_staging"

CREATE_STAGING: Final = (
    f"CREATE TEMP TABLE IF NOT EXISTS {STAGING_TABLE} (LIKE raw_segments INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)


_UPSERT: Final = """
INSERT INTO {table} AS r (participant_id, metric_id, bucket, count, sum, min, max, first_time, last_time,
                          minutes, stage_epochs)
SELECT u.pid, $2, ms_to_ts(u.bucket), u.count, u.sum, u.min, u.max, ms_to_ts(u.first), ms_to_ts(u.last),
       u.minutes, CASE WHEN $12 THEN ARRAY[u.s0, u.s1, u.s2, u.s3] END
FROM unnest($1::text[], $3::bigint[], $4::int[], $5::float8[], $6::float8[], $7::float8[], $8::bigint[],
            $9::bigint[], $10::int[], $11::int[], $13::int[], $14::int[], $15::int[])
     AS u (pid, bucket, count, sum, min, max, first, last, minutes, s0, s1, s2, s3)
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

UPSERT_1M: Final = _UPSERT.format(table="rollup_1m", minutes_merge="1")
UPSERT_1H: Final = _UPSERT.format(table="rollup_1h", minutes_merge="r.minutes + EXCLUDED.minutes")
UPSERT_1D: Final = _UPSERT.format(table="rollup_1d", minutes_merge="r.minutes + EXCLUDED.minutes")


class RollupRows:
    """Rollup rows of several participants of one metric, gathered into the columns of one upsert."""

    def __init__(self) -> None:
        self.participants: list[str] = []
        self.parts: list[Rollup] = []
        self.minutes: list[npt.NDArray[np.int64]] = []

    def add(self, participant_id: str, rollup: Rollup, minutes: npt.NDArray[np.int64] | None = None) -> None:
        self.participants.extend([participant_id] * len(rollup))
        self.parts.append(rollup)
        self.minutes.append(minutes if minutes is not None else np.ones(len(rollup), dtype=np.int64))

    async def upsert(
        self, connection: asyncpg.Connection, statement: str, metric_id: int, *, stages: bool
    ) -> list[asyncpg.Record]:
        if not self.participants:
            return []

        def column(name: str) -> list[int] | list[float]:
            return np.concatenate([getattr(p, name) for p in self.parts]).tolist()  # type: ignore[no-any-return]

        if stages:
            epochs = np.concatenate([p.stage_epochs for p in self.parts if p.stage_epochs is not None])
            stage_columns = [epochs[:, i].tolist() for i in range(4)]
        else:
            stage_columns = [None, None, None, None]
        return await connection.fetch(  # type: ignore[no-any-return]
            statement,
            self.participants,
            metric_id,
            column("bucket_ms"),
            column("count"),
            column("sum"),
            column("min"),
            column("max"),
            column("first_ms"),
            column("last_ms"),
            np.concatenate(self.minutes).tolist(),
            stage_columns[0],
            stages,
            stage_columns[1],
            stage_columns[2],
            stage_columns[3],
        )
