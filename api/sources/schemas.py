"""Response shapes of the sources runner's cursors."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

CursorStatus = Literal["new", "ok", "partial", "rate_limited", "unavailable", "not_authorised", "gone", "error"]


class SourceCursor(msgspec.Struct, frozen=True, kw_only=True):
    """One source × participant × metric cursor of the runner (`wearstream sources status` shows the same)."""

    source: str
    participant_id: str
    metric: str
    status: CursorStatus
    fetched_through: dt.datetime | None
    """Data is fetched (and acknowledged by Kafka) up to here; null before the first complete window."""
    resuming_window: list[dt.datetime] | None
    """[start, end) of a window a run left between pages (resumed at its saved page), else null."""
    last_run_start: dt.datetime | None
    last_run_end: dt.datetime | None
    last_success: dt.datetime | None
    last_error: str | None
    last_error_at: dt.datetime | None
    readings: int
    """Readings the runner published for this cursor, over all runs."""


class SourceCursorPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[SourceCursor]
    next_cursor: str | None
    total: int
