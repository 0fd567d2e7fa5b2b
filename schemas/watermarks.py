"""Wire contract of the compacted `<prefix>.watermarks` topic: delta-load progress of the producers.

The key is `<source>|<participant>|<metric>`; the latest record per key wins.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import msgspec


class Watermark(msgspec.Struct, frozen=True, kw_only=True):
    source: str
    """`replay` (the simulator) or `import` (device exports)."""
    participant_id: str
    metric: str
    seed: int | None = None
    start: dt.date | None = None
    days_done: int = 0
    """replay: days 0 … days_done-1 published completely."""
    until_ms: int = 0
    """import (records written before content hashes): readings up to and including this time published."""
    days: dict[int, list[str]] = {}
    """import: per UTC day (days since 1970-01-01), the content hashes of that day's readings published."""

    @property
    def key(self) -> str:
        return f"{self.source}|{self.participant_id}|{self.metric}"


_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(Watermark)


def encode_watermark(mark: Watermark) -> bytes:
    return _encoder.encode(mark)


def decode_watermark(payload: bytes) -> Watermark:
    return _decoder.decode(payload)
