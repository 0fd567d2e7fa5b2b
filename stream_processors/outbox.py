"""The outbox: events (gaps, live updates, alert changes) are written in the data's transaction and published
after it, at least once.

`stage` runs inside the sink's transaction: it gives every event its stable id (a uuid) and inserts it. After
the commit the processor publishes the events it holds and `delete`s them; whatever a crash or a broker
outage left behind is published by `drain` (every worker runs it periodically; rows are locked with SKIP
LOCKED, so two workers never publish the same row at the same time). A row is deleted only after the broker
acknowledged it, so an event can be published twice, never lost: consumers de-duplicate by `event_id`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

import asyncpg
import msgspec

from schemas.events import (
    AlertEvent,
    GapEvent,
    LiveUpdate,
    decode_alert_event,
    decode_gap_event,
    decode_live_update,
    encode_event,
)
from stream_processors import metric_defs as m

DRAIN_AFTER_S: Final = 10.0
"""Rows older than this are leftovers (the inline publish takes milliseconds): the drain publishes them."""
DRAIN_BATCH: Final = 500


async def stage(
    connection: asyncpg.Connection,
    gap_events: Sequence[GapEvent],
    live: Sequence[LiveUpdate],
    alerts: Sequence[AlertEvent] = (),
) -> tuple[list[GapEvent], list[LiveUpdate], list[AlertEvent]]:
    """Writes the events with fresh ids in the caller's transaction; returns them with their ids."""
    staged_gaps = [msgspec.structs.replace(e, event_id=str(uuid.uuid4())) for e in gap_events]
    staged_live = [msgspec.structs.replace(u, event_id=str(uuid.uuid4())) for u in live]
    staged_alerts = [msgspec.structs.replace(a, event_id=str(uuid.uuid4())) for a in alerts]
    rows = [("gap", e.event_id, e.participant_id, encode_event(e)) for e in staged_gaps]
    rows += [("live", u.event_id, u.participant_id, encode_event(u)) for u in staged_live]
    rows += [("alert", a.event_id, a.participant_id, encode_event(a)) for a in staged_alerts]
    if rows:
        await connection.execute(
            "INSERT INTO outbox (kind, event_id, participant_id, payload)"
            " SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::bytea[])",
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2] for r in rows],
            [r[3] for r in rows],
        )
    return staged_gaps, staged_live, staged_alerts


async def delete(pool: asyncpg.Pool, event_ids: Sequence[str]) -> None:
    """Forgets published events; ids already gone (a drain got there first) are ignored."""
    if event_ids:
        await pool.execute("DELETE FROM outbox WHERE event_id = ANY($1::uuid[])", list(event_ids))


async def drain(
    pool: asyncpg.Pool,
    *,
    gap: Callable[[GapEvent], Awaitable[None]],
    live: Callable[[LiveUpdate], Awaitable[None]],
    flush: Callable[[], Awaitable[None]],
    alert: Callable[[AlertEvent], Awaitable[None]] | None = None,
    older_than_s: float = DRAIN_AFTER_S,
    limit: int = DRAIN_BATCH,
) -> int:
    """Publishes up to `limit` leftover events in the order they were written, waits for the broker (`flush`),
    then deletes them; returns how many. Raises (leaving the rows) when publishing fails. Without `alert`,
    alert events are left for a drain that can publish them."""
    kinds = ["gap", "live"] if alert is None else ["gap", "live", "alert"]
    async with pool.acquire() as connection, connection.transaction():
        rows = await connection.fetch(
            "SELECT id, kind, payload FROM outbox WHERE created_at < now() - make_interval(secs => $1)"
            " AND kind = ANY($3::text[]) ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
            older_than_s,
            limit,
            kinds,
        )
        for row in rows:
            if row["kind"] == "gap":
                await gap(decode_gap_event(row["payload"]))
            elif row["kind"] == "alert" and alert is not None:
                await alert(decode_alert_event(row["payload"]))
            else:
                await live(decode_live_update(row["payload"]))
            m.OUTBOX_PUBLISHED.labels(row["kind"], "drain").inc()
        await flush()
        if rows:
            await connection.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", [r["id"] for r in rows])
        m.OUTBOX_PENDING.set(await connection.fetchval("SELECT count(*) FROM outbox") - len(rows))
    return len(rows)
