"""Kafka metadata travels beside the payload, never inside business logic."""

from __future__ import annotations

import msgspec


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    topic: str
    partition: int
    offset: int
    payload: bytes
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp_ms: int = 0
    key: bytes | None = None
    """The message's Kafka key (the participant id for readings); dead letters keep it."""

    def header(self, name: str) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None
