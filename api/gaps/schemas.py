"""Response shapes of gaps."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

GapKind = Literal["not_worn", "not_synced"]
GapState = Literal["open", "closed", "all"]


class Gap(msgspec.Struct, frozen=True, kw_only=True):
    participant_id: str
    kind: GapKind
    start: dt.datetime
    end: dt.datetime | None
    """Null while the gap is open."""
    open: bool
    duration_s: float
    """end − start; for an open gap, now − start."""
    detected_at: dt.datetime
    closed_at: dt.datetime | None


class GapPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Gap]
    next_cursor: str | None
