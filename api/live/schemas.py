"""What websocket clients receive (JSON text frames), built once per Kafka message."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

from schemas.events import AlertEvent, GapEvent, LiveUpdate


class Minute(msgspec.Struct, frozen=True, kw_only=True):
    """A merged 1-minute rollup; times are epoch milliseconds."""

    time_ms: int
    count: int
    mean: float
    min: float
    max: float
    sum: float


class LiveMessage(msgspec.Struct, frozen=True, kw_only=True, tag="live", tag_field="type"):
    """New data of one participant and metric: the 1-minute rollups it changed (as now stored) and, for heart
    rate, the readings thinned to at most one per second."""

    participant_id: str
    metric: str
    minutes: list[Minute]
    timestamps_ms: list[int] = []
    values: list[float] = []
    emitted_ms: int = 0
    event_id: str = ""
    """Stable id of the update: a client sees each id at most once."""


class BackfillMessage(msgspec.Struct, frozen=True, kw_only=True, tag="backfill", tag_field="type"):
    """Sent once per subscribed participant × metric on connect: the last N minutes up to the latest stored."""

    participant_id: str
    metric: str
    minutes: list[Minute]


class GapMessage(msgspec.Struct, frozen=True, kw_only=True, tag="gap", tag_field="type"):
    participant_id: str
    kind: Literal["not_worn", "not_synced"]
    state: Literal["opened", "closed", "detected", "removed"]
    start_ms: int
    end_ms: int | None
    detected_ms: int
    event_ms: int
    alert: bool
    """True when the event asks for attention: a gap opened (the participant stopped wearing or syncing)."""
    event_id: str = ""
    """Stable id of the event: a client sees each id at most once."""


class AlertMessage(msgspec.Struct, frozen=True, kw_only=True, tag="alert", tag_field="type"):
    """An illness alert's new state; `night` is the local date of the morning (YYYY-MM-DD)."""

    participant_id: str
    detector: str
    level: Literal["yellow", "red"]
    night: dt.date
    value: float | None
    baseline: float | None
    state: Literal["raised", "upgraded", "downgraded", "withdrawn"]
    event_ms: int
    event_id: str = ""
    """Stable id of the event: a client sees each id at most once."""


class DroppedMessage(msgspec.Struct, frozen=True, kw_only=True, tag="dropped", tag_field="type"):
    """This client was too slow: `count` older messages were dropped from its queue since the last notice."""

    count: int


class ErrorMessage(msgspec.Struct, frozen=True, kw_only=True, tag="error", tag_field="type"):
    detail: str


_encoder = msgspec.json.Encoder()


def encode(message: msgspec.Struct) -> bytes:
    return _encoder.encode(message)


def live_message(update: LiveUpdate) -> LiveMessage:
    return LiveMessage(
        participant_id=update.participant_id,
        metric=update.metric,
        minutes=[
            Minute(time_ms=m.bucket_ms, count=m.count, mean=m.mean, min=m.min, max=m.max, sum=m.sum)
            for m in update.minutes
        ],
        timestamps_ms=update.timestamps,
        values=update.values,
        emitted_ms=update.emitted_ms,
        event_id=update.event_id,
    )


def gap_message(event: GapEvent) -> GapMessage:
    return GapMessage(
        participant_id=event.participant_id,
        kind=event.kind,
        state=event.state,
        start_ms=event.start_ms,
        end_ms=event.end_ms,
        detected_ms=event.detected_ms,
        event_ms=event.event_ms,
        alert=event.state == "opened",
        event_id=event.event_id,
    )


def alert_message(event: AlertEvent) -> AlertMessage:
    return AlertMessage(
        participant_id=event.participant_id,
        detector=event.detector,
        level=event.level,
        night=event.night,
        value=event.value,
        baseline=event.baseline,
        state=event.state,
        event_ms=event.event_ms,
        event_id=event.event_id,
    )
