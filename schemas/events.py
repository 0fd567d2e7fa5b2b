"""Wire contracts of the output topics: `<prefix>.gaps` (GapEvent), `<prefix>.live` (LiveUpdate) and
`<prefix>.alerts` (AlertEvent), msgpack.

All are keyed by participant id. Times are epoch milliseconds. Events are published from the processor's outbox
at least once: the same `event_id` may arrive twice, and consumers de-duplicate on it.
"""

from __future__ import annotations

import datetime as dt
from typing import Final, Literal

import msgspec

GapState = Literal["opened", "closed", "detected", "removed"]
"""opened: an open gap appeared; closed: an open gap got its end; detected: a gap found already closed
(late data); removed: late data filled a gap that had been reported."""


class GapEvent(msgspec.Struct, frozen=True, kw_only=True, tag="gap"):
    participant_id: str
    kind: Literal["not_worn", "not_synced"]
    state: GapState
    start_ms: int
    end_ms: int | None
    detected_ms: int
    event_ms: int
    event_id: str = ""
    """Stable id of this event (a uuid, given when it is written to the outbox): consumers de-duplicate on it."""


class MinutePoint(msgspec.Struct, frozen=True, array_like=True):
    """One 1-minute rollup: [bucket_ms, count, mean, min, max, sum]."""

    bucket_ms: int
    count: int
    mean: float
    min: float
    max: float
    sum: float


class LiveUpdate(msgspec.Struct, frozen=True, kw_only=True, tag="live"):
    """What one applied batch changed for one participant and metric: the merged 1-minute rollups, and for
    heart rate the readings thinned to at most one per second."""

    participant_id: str
    metric: str
    minutes: list[MinutePoint]
    timestamps: list[int] = []
    values: list[float] = []
    emitted_ms: int = 0
    trace_id: str | None = None
    event_id: str = ""
    """Stable id of this update (a uuid, given when it is written to the outbox): consumers de-duplicate on it."""


AlertLevel = Literal["yellow", "red"]
AlertState = Literal["raised", "upgraded", "downgraded", "withdrawn"]
"""raised: a new alert; upgraded/downgraded: its level changed; withdrawn: late data took it back."""


class AlertEvent(msgspec.Struct, frozen=True, kw_only=True, tag="alert"):
    """An illness alert's new state for one participant × detector × night (`stream_processors.nightly`).
    `night` is the local date of the morning; a withdrawn alert keeps its last level (value and baseline
    are then None: the night no longer has a verdict)."""

    participant_id: str
    detector: str
    level: AlertLevel
    night: dt.date
    value: float | None
    baseline: float | None
    state: AlertState
    event_ms: int
    event_id: str = ""
    """Stable id of this event (a uuid, given when it is written to the outbox): consumers de-duplicate on it."""


_encoder: Final = msgspec.msgpack.Encoder()
_gap_decoder: Final = msgspec.msgpack.Decoder(GapEvent)
_live_decoder: Final = msgspec.msgpack.Decoder(LiveUpdate)
_alert_decoder: Final = msgspec.msgpack.Decoder(AlertEvent)


def encode_event(event: GapEvent | LiveUpdate | AlertEvent) -> bytes:
    return _encoder.encode(event)


def decode_gap_event(payload: bytes) -> GapEvent:
    return _gap_decoder.decode(payload)


def decode_live_update(payload: bytes) -> LiveUpdate:
    return _live_decoder.decode(payload)


def decode_alert_event(payload: bytes) -> AlertEvent:
    return _alert_decoder.decode(payload)
