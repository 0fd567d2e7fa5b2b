"""Opaque paging cursors: base64url of a small JSON document, bound to the query that issued it.

A cursor holds a position (`after`, and for raw readings how many readings at exactly that instant were
already returned), never an offset: pages stay exact while new data arrives.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Final

import msgspec

from api.errors import invalid

_VERSION: Final = 1
_MAX: Final = 1 << 53


class Position(msgspec.Struct, frozen=True, kw_only=True):
    v: int = _VERSION
    q: str
    """Fingerprint of the query (what the cursor may be used with)."""
    after: int
    """Sort key of the last item returned (epoch ms, or an offset for list views)."""
    skip: int = 0
    """Items at exactly `after` already returned (raw readings may share a timestamp)."""
    key: str = ""
    """Tie-breaker of the last item (e.g. a participant id) where the sort key is not unique."""


_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder(Position)


def fingerprint(*parts: object) -> str:
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=6).hexdigest()


def encode(position: Position) -> str:
    return base64.urlsafe_b64encode(_encoder.encode(position)).rstrip(b"=").decode()


def decode(raw: str, query: str) -> Position:
    """The position of a cursor issued for `query`; 400 naming `cursor` for anything else."""
    try:
        text = base64.urlsafe_b64decode(raw.strip() + "=" * (-len(raw.strip()) % 4))
        position = _decoder.decode(text)
    except (ValueError, msgspec.DecodeError):
        raise invalid("cursor", "not a cursor issued by this API") from None
    if position.v != _VERSION or position.q != query:
        raise invalid("cursor", "this cursor belongs to another query")
    if not (0 <= position.after <= _MAX and 0 <= position.skip <= _MAX):
        raise invalid("cursor", "not a cursor issued by this API")
    return position
