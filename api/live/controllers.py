"""Websockets `/v1/live` (a participant × metric subscription, with backfill) and `/v1/events` (cohort-wide
gap and alert events). Both authenticate with the header, the `wearstream_token` cookie or the `token` query
parameter (which REST refuses).

`/v1/live?participants=P0001,P0002&metrics=heart_rate&backfill_minutes=10`: `participants` defaults to the
key's own participant (participant keys) or everyone (other keys; no backfill then), `metrics` to all.
Refusals are sent as `{"type": "error", "detail": …}` and the socket is closed with 4400 (bad parameter),
4403 (not this key's data) or 4404 (unknown participant or metric); a missing or bad key closes with 4401.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Final

import asyncpg
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from api.auth.keys import ApiKey
from api.live.hub import LiveHub, Subscriber
from api.live.schemas import BackfillMessage, DroppedMessage, ErrorMessage, Minute, encode
from api.params import valid_participant_id
from core.settings import Settings
from schemas.metrics import METRICS

MAX_PARTICIPANTS: Final = 1000

_BACKFILL: Final = """
SELECT s.participant_id, m.name AS metric, ts_to_ms(r.bucket) AS t, r.count, r.sum, r.min, r.max
FROM participant_metric_state s
JOIN metrics m ON m.metric_id = s.metric_id
JOIN rollup_1m r ON r.participant_id = s.participant_id AND r.metric_id = s.metric_id
    AND r.bucket > s.last_reading - $3 * interval '1 minute' AND r.bucket <= s.last_reading
WHERE s.participant_id = ANY($1::text[]) AND m.name = ANY($2::text[])
ORDER BY 1, 2, 3
"""


class Refused(Exception):
    def __init__(self, code: int, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _names(raw: str | None, field: str) -> frozenset[str] | None:
    if raw is None or not raw.strip():
        return None
    names = frozenset(part.strip() for part in raw.split(",") if part.strip())
    if len(names) > MAX_PARTICIPANTS:
        raise Refused(4400, f"{field}: at most {MAX_PARTICIPANTS} names")
    return names


async def _subscription(
    socket: WebSocket[Any, Any, Any], key: ApiKey, pool: asyncpg.Pool, max_backfill: int
) -> tuple[frozenset[str] | None, frozenset[str] | None, int]:
    params = socket.query_params
    participants = _names(params.get("participants"), "participants")
    metrics = _names(params.get("metrics"), "metrics")
    try:
        backfill = int(params.get("backfill_minutes") or 0)
    except ValueError:
        raise Refused(4400, "backfill_minutes: expected an integer") from None
    if not 0 <= backfill <= max_backfill:
        raise Refused(4400, f"backfill_minutes: between 0 and {max_backfill}")
    if metrics is not None and not metrics <= METRICS.keys():
        raise Refused(4404, f"metrics: unknown {sorted(metrics - METRICS.keys())}")
    if not key.cohort:
        participants = participants or frozenset({key.participant_id or ""})
        if participants != {key.participant_id}:
            raise Refused(4403, "this key may subscribe to its own participant only")
    if participants is not None:
        invalid = sorted(p for p in participants if not valid_participant_id(p))
        known = await pool.fetch(
            "SELECT participant_id FROM participants WHERE participant_id = ANY($1::text[])"
            " UNION SELECT participant_id FROM participant_metric_state WHERE participant_id = ANY($1::text[])",
            sorted(participants - set(invalid)),
        )
        unknown = sorted(participants - {row["participant_id"] for row in known})
        if unknown:
            raise Refused(4404, f"participants: unknown {unknown[:10]}")
    return participants, metrics, backfill


async def _backfill(
    socket: WebSocket[Any, Any, Any],
    pool: asyncpg.Pool,
    participants: frozenset[str],
    metrics: frozenset[str],
    minutes: int,
) -> None:
    rows = await pool.fetch(_BACKFILL, sorted(participants), sorted(metrics), minutes)
    groups: dict[tuple[str, str], list[Minute]] = {}
    for row in rows:
        groups.setdefault((row["participant_id"], row["metric"]), []).append(
            Minute(
                time_ms=row["t"],
                count=row["count"],
                mean=row["sum"] / row["count"],
                min=row["min"],
                max=row["max"],
                sum=row["sum"],
            )
        )
    for (participant_id, metric), points in groups.items():
        message = BackfillMessage(participant_id=participant_id, metric=metric, minutes=points)
        await socket.send_text(encode(message).decode())


async def _pump(socket: WebSocket[Any, Any, Any], subscriber: Subscriber) -> None:
    """Sends queued messages until the client leaves (its receive side ends the exchange)."""

    async def send() -> None:
        while True:
            payloads, dropped = await subscriber.take()
            if dropped:
                await socket.send_text(encode(DroppedMessage(count=dropped)).decode())
            for payload in payloads:
                await socket.send_text(payload.decode())

    async def receive() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await socket.receive_data(mode="text")

    tasks = [asyncio.create_task(send()), asyncio.create_task(receive())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if (
                not task.cancelled()
                and task.exception() is not None
                and not isinstance(task.exception(), (WebSocketDisconnect, OSError, RuntimeError))
            ):
                raise task.exception()  # type: ignore[misc]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _refuse(socket: WebSocket[Any, Any, Any], refusal: Refused) -> None:
    await socket.send_text(encode(ErrorMessage(detail=refusal.detail)).decode())
    await socket.close(code=refusal.code, reason=refusal.detail[:120])


@websocket("/v1/live")
async def live_socket(socket: WebSocket[ApiKey, Any, Any]) -> None:
    """Live 1-minute rollups and thinned heart rate of the subscribed participants × metrics."""
    state = socket.app.state
    hub: LiveHub = state.hub
    pool: asyncpg.Pool = state.pool
    settings: Settings = state.settings
    try:
        participants, metrics, backfill = await _subscription(
            socket, socket.user, pool, settings.api.live.max_backfill_minutes
        )
    except Refused as refusal:
        await socket.accept()
        await _refuse(socket, refusal)
        return
    # Subscribed before the handshake completes: once connected, a client misses nothing published later.
    subscriber = hub.subscribe_live(participants, metrics)
    try:
        await socket.accept()
        if backfill and participants is not None:
            await _backfill(socket, pool, participants, metrics or frozenset(METRICS), backfill)
        await _pump(socket, subscriber)
    finally:
        hub.unsubscribe(subscriber)


@websocket("/v1/events")
async def events_socket(socket: WebSocket[ApiKey, Any, Any]) -> None:
    """Cohort-wide gap events (`alert` is true when a gap opened) and illness-alert changes (`"type": "alert"`);
    admin and researcher keys only."""
    hub: LiveHub = socket.app.state.hub
    if not socket.user.cohort:
        await socket.accept()
        await _refuse(socket, Refused(4403, f"a {socket.user.role} key cannot read cohort-wide events"))
        return
    subscriber = hub.subscribe_events()
    try:
        await socket.accept()
        await _pump(socket, subscriber)
    finally:
        hub.unsubscribe(subscriber)
