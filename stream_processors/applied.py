"""The record of what was applied: which batches' readings the raw store already holds.

A batch's own raw rows (and, once compacted, the `batch_ids` of the merged row) say it was applied; a batch
whose rows were rewritten because a later upload superseded readings of it is listed in `applied_batches`.
Both are written in the same transaction as everything derived from the batch, so a redelivered batch is
recognised and changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import asyncpg
from opentelemetry import trace

from core.telemetry import tracer
from stream_processors.copy_binary import STAGED_COLUMNS, staged_rows
from stream_processors.rollup_store import STAGING_TABLE
from stream_processors.segments import Segment
from stream_processors.spans import copy_attributes

_APPLIED_BEFORE: Final = f"""
SELECT DISTINCT s.batch_id FROM {STAGING_TABLE} s
WHERE EXISTS (
        SELECT 1 FROM raw_segments r
        WHERE r.participant_id = s.participant_id AND r.metric_id = s.metric_id
          AND r.start_time = s.start_time AND r.batch_id = s.batch_id)
   OR EXISTS (
        SELECT 1 FROM raw_segments r
        WHERE r.participant_id = s.participant_id AND r.metric_id = s.metric_id
          AND r.start_time >= date_trunc('day', s.start_time, 'UTC')
          AND r.start_time < date_trunc('day', s.start_time, 'UTC') + interval '1 day'
          AND r.batch_ids IS NOT NULL AND s.batch_id = ANY(r.batch_ids))
   OR EXISTS (SELECT 1 FROM applied_batches a WHERE a.batch_id = s.batch_id)
"""


async def claim_raw(
    connection: asyncpg.Connection, segments: Sequence[Segment], sync_times: Mapping[str, int]
) -> set[str]:
    """Stores the segments of batches not applied before; returns the ids of those batches.

    Binary COPY (the stream built by `copy_binary`) into a per-connection staging table, then one INSERT of
    the new batches. `sync_times` maps each batch id to its upload time (stored with its segments: it decides
    which reading wins a timestamp).
    The caller must hold the participants' gap locks, so no other transaction applies the same participant's
    batches meanwhile. The connection must have run CREATE_STAGING once (the pool's init does).
    """
    if not segments:
        return set()
    # The asyncpg instrumentation does not trace COPY: this span stands in for it.
    with tracer().start_as_current_span(
        f"COPY {STAGING_TABLE}",
        kind=trace.SpanKind.CLIENT,
        attributes=copy_attributes(STAGING_TABLE, STAGED_COLUMNS, len(segments)),
    ):
        await connection.copy_to_table(
            STAGING_TABLE, source=memoryview(staged_rows(segments, sync_times)), columns=STAGED_COLUMNS, format="binary"
        )
    applied_before = [row["batch_id"] for row in await connection.fetch(_APPLIED_BEFORE)]
    rows = await connection.fetch(
        f"INSERT INTO raw_segments SELECT * FROM {STAGING_TABLE} WHERE batch_id <> ALL($1::uuid[])"
        " ON CONFLICT DO NOTHING RETURNING batch_id",
        applied_before,
    )
    return {row["batch_id"].hex for row in rows}


async def record_rewritten(
    connection: asyncpg.Connection, batches: Iterable[tuple[uuid.UUID, str, int, int | None]]
) -> None:
    """Lists batches (id, participant, metric id, sync ms) whose raw rows a correction rewrote."""
    rows = sorted(set(batches))
    if not rows:
        return
    await connection.execute(
        "INSERT INTO applied_batches (batch_id, participant_id, metric_id, sync_time)"
        " SELECT b, p, m, ms_to_ts(t) FROM unnest($1::uuid[], $2::text[], $3::int2[], $4::bigint[]) AS x (b, p, m, t)"
        " ON CONFLICT DO NOTHING",
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
    )
