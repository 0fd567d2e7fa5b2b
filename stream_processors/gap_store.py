"""Keeps the `gaps` table equal to what the stored data implies, inside the sink's transaction.

After new heart-rate buckets (or new uploads) are stored, the gaps around them are recomputed from the
neighbouring stored instants — the previous and next ones outside the new data — and the table is updated to
match: holes that appeared are inserted, holes that changed are updated, holes that late data filled are
removed. Every change is returned as an event for the `gaps` topic.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Final

import asyncpg
import numpy as np

from schemas.events import GapEvent
from schemas.metrics import HEART_RATE, METRIC_IDS
from stream_processors.gaps import NOT_SYNCED, NOT_WORN, GapKind, Hole, holes_between, trailing_hole

LOOKAROUND: Final = "interval '90 days'"

# Occupied spans around each window: (participant, first_ms, last_ms), ordered by participant and time.
_SPANS: Final = """
WITH req AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS w (pid, lo, hi)),
bounds AS (
    SELECT req.pid,
        coalesce((SELECT s.{time} FROM {table} s WHERE s.participant_id = req.pid {metric}
                    AND s.{time} < ms_to_ts(req.lo) AND s.{time} >= ms_to_ts(req.lo) - {around}
                  ORDER BY s.{time} DESC LIMIT 1), ms_to_ts(req.lo)) AS lo,
        coalesce((SELECT s.{time} FROM {table} s WHERE s.participant_id = req.pid {metric}
                    AND s.{time} > ms_to_ts(req.hi) AND s.{time} <= ms_to_ts(req.hi) + {around}
                  ORDER BY s.{time} LIMIT 1), ms_to_ts(req.hi)) AS hi
    FROM req
)
SELECT b.pid, ts_to_ms(s.{first}) AS first_ms, ts_to_ms(s.{last}) AS last_ms
FROM bounds b JOIN {table} s ON s.participant_id = b.pid {metric} AND s.{time} BETWEEN b.lo AND b.hi
ORDER BY b.pid, s.{time}
"""
HR_SPANS: Final = _SPANS.format(
    table="rollup_1m",
    time="bucket",
    first="first_time",
    last="last_time",
    metric=f"AND s.metric_id = {METRIC_IDS[HEART_RATE.name]}",
    around=LOOKAROUND,
)
UPLOAD_SPANS: Final = _SPANS.format(
    table="uploads", time="sync_time", first="sync_time", last="sync_time", metric="", around=LOOKAROUND
)

_REMOVE: Final = """
DELETE FROM gaps g
USING unnest($1::text[], $2::bigint[], $3::bigint[]) AS w (pid, lo, hi)
WHERE g.participant_id = w.pid AND g.kind = $4
  AND g.start_time >= ms_to_ts(w.lo) AND g.start_time < ms_to_ts(w.hi)
  AND (g.participant_id, ts_to_ms(g.start_time)) NOT IN (SELECT * FROM unnest($6::text[], $5::bigint[]))
RETURNING g.participant_id, ts_to_ms(g.start_time) AS start_ms, ts_to_ms(g.end_time) AS end_ms,
          ts_to_ms(g.detected_at) AS detected_ms
"""

_UPSERT: Final = """
INSERT INTO gaps AS g (participant_id, metric_id, kind, start_time, end_time, closed_at)
SELECT u.pid, $4, $5, ms_to_ts(u.start_ms), ms_to_ts(u.end_ms), CASE WHEN u.end_ms IS NOT NULL THEN now() END
FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u (pid, start_ms, end_ms)
ON CONFLICT (participant_id, kind, start_time) DO UPDATE SET
    end_time = EXCLUDED.end_time,
    closed_at = CASE WHEN EXCLUDED.end_time IS NULL THEN NULL ELSE now() END
WHERE g.end_time IS DISTINCT FROM EXCLUDED.end_time
RETURNING g.participant_id, ts_to_ms(g.start_time) AS start_ms, ts_to_ms(g.end_time) AS end_ms,
          ts_to_ms(g.detected_at) AS detected_ms, (xmax = 0) AS inserted
"""


LOCK_NAMESPACE: Final = 0x5753


async def lock_participants(connection: asyncpg.Connection, participant_ids: Sequence[str]) -> None:
    """Serialises gap work per participant until the transaction ends (taken in sorted order: no deadlocks).

    Without it two transactions could each add an upload or a reading the other cannot yet see, and both
    decide the gaps around them from half the data.
    """
    await connection.execute(
        "SELECT count(pg_advisory_xact_lock($2, hashtext(pid))) FROM unnest($1::text[]) AS pid",
        sorted(set(participant_ids)),
        LOCK_NAMESPACE,
    )


async def recompute(
    connection: asyncpg.Connection,
    kind: GapKind,
    windows: Sequence[tuple[str, int, int]],
    threshold_ms: int,
) -> list[GapEvent]:
    """Recomputes `kind` gaps around each (participant, lo_ms, hi_ms) window of newly stored data."""
    if not windows:
        return []
    pids, los, his = (list(column) for column in zip(*windows, strict=True))
    rows = await connection.fetch(HR_SPANS if kind == NOT_WORN else UPLOAD_SPANS, pids, los, his)
    spans: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for row in rows:
        firsts, lasts = spans[row["pid"]]
        firsts.append(row["first_ms"])
        lasts.append(row["last_ms"])
    found: list[tuple[str, Hole]] = []
    ranges: list[tuple[str, int, int]] = []
    for pid, (firsts, lasts) in spans.items():
        first = np.asarray(firsts, dtype=np.int64)
        last = np.asarray(lasts, dtype=np.int64)
        found.extend((pid, hole) for hole in holes_between(first, last, threshold_ms))
        # Any gap starting inside the spans' range is re-decided here; an open gap starting at the last
        # span stays (the trailing edge is the edge check's to decide).
        ranges.append((pid, int(first[0]), int(first[-1])))
    return await replace(connection, kind, ranges, found)


async def replace(
    connection: asyncpg.Connection,
    kind: GapKind,
    ranges: Sequence[tuple[str, int, int]],
    holes: Sequence[tuple[str, Hole]],
) -> list[GapEvent]:
    """Makes the gaps of `kind` starting in each range exactly `holes`; returns the changes as events."""
    metric_id = METRIC_IDS[HEART_RATE.name] if kind == NOT_WORN else 0
    now_ms = int(time.time() * 1000)
    events: list[GapEvent] = []
    if ranges:
        removed = await connection.fetch(
            _REMOVE,
            [r[0] for r in ranges],
            [r[1] for r in ranges],
            [r[2] for r in ranges],
            kind,
            [h.start_ms for _, h in holes],
            [pid for pid, _ in holes],
        )
        events.extend(_event(row, kind, "removed", now_ms) for row in removed)
    if holes:
        changed = await connection.fetch(
            _UPSERT,
            [pid for pid, _ in holes],
            [h.start_ms for _, h in holes],
            [h.end_ms for _, h in holes],
            metric_id,
            kind,
        )
        for row in changed:
            state = "opened" if row["end_ms"] is None else ("detected" if row["inserted"] else "closed")
            events.append(_event(row, kind, state, now_ms))
    return events


def _event(row: asyncpg.Record, kind: GapKind, state: str, now_ms: int) -> GapEvent:
    return GapEvent(
        participant_id=row["participant_id"],
        kind=kind,
        state=state,  # type: ignore[arg-type]
        start_ms=row["start_ms"],
        end_ms=row["end_ms"],
        detected_ms=row["detected_ms"],
        event_ms=now_ms,
    )


_EDGES: Final = f"""
SELECT participant_id,
       ts_to_ms(min(first_reading)) AS first_any,
       ts_to_ms(max(last_reading)) AS last_any,
       ts_to_ms(min(first_reading) FILTER (WHERE metric_id = {METRIC_IDS[HEART_RATE.name]})) AS first_hr,
       ts_to_ms(max(last_reading) FILTER (WHERE metric_id = {METRIC_IDS[HEART_RATE.name]})) AS last_hr
FROM participant_metric_state WHERE participant_id = ANY($1::text[]) GROUP BY participant_id
"""
_FOREVER_MS: Final = 10**15


async def recompute_edges(
    connection: asyncpg.Connection, participant_ids: Sequence[str], threshold_ms: int
) -> list[GapEvent]:
    """Not-worn holes at the edges of each participant's data: before the first heart rate (data of other
    metrics shows the device synced), and after the last one (open while later data keeps arriving)."""
    if not participant_ids:
        return []
    ranges: list[tuple[str, int, int]] = []
    holes: list[tuple[str, Hole]] = []
    for row in await connection.fetch(_EDGES, list(participant_ids)):
        pid, first_any, last_any = row["participant_id"], row["first_any"], row["last_any"]
        first_hr, last_hr = row["first_hr"], row["last_hr"]
        if first_hr is None:
            ranges.append((pid, 0, _FOREVER_MS))
            never_worn = trailing_hole(first_any, last_any, threshold_ms)
            holes.extend([(pid, never_worn)] if never_worn else [])
            continue
        ranges.extend([(pid, 0, first_hr), (pid, last_hr, last_hr + 1)])
        if first_hr - first_any >= threshold_ms:
            holes.append((pid, Hole(first_any, first_hr)))
        trailing = trailing_hole(last_hr, last_any, threshold_ms)
        holes.extend([(pid, trailing)] if trailing else [])
    return await replace(connection, NOT_WORN, ranges, holes)


_SILENT: Final = """
SELECT participant_id, ts_to_ms(max(last_upload)) AS last_upload
FROM participant_metric_state GROUP BY participant_id HAVING max(last_upload) <= ms_to_ts($1)
"""


async def open_not_synced(connection: asyncpg.Connection, now_ms: int, threshold_ms: int) -> list[GapEvent]:
    """Opens a `not_synced` gap for every participant whose last upload is ≥ threshold before `now_ms`."""
    silent = [r["participant_id"] for r in await connection.fetch(_SILENT, now_ms - threshold_ms)]
    await lock_participants(connection, silent)
    # Uploads may have arrived while we waited for the locks: decide again on what is committed now.
    rows = [r for r in await connection.fetch(_SILENT, now_ms - threshold_ms) if r["participant_id"] in set(silent)]
    ranges = [(r["participant_id"], r["last_upload"], r["last_upload"] + 1) for r in rows]
    holes = [(r["participant_id"], Hole(r["last_upload"], None)) for r in rows]
    return await replace(connection, NOT_SYNCED, ranges, holes)
