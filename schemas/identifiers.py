"""Checks shared by every wire contract: identifiers, time zones and plausible instants.

Each check returns None when the value is acceptable, else a short reason naming the problem; callers add
the field name. Identifiers end up in SQL parameters, Kafka keys, Prometheus labels and file names, so they
are kept to a small printable charset.
"""

from __future__ import annotations

import re
import zoneinfo
from functools import cache
from typing import Final

ID_MAX_LENGTH: Final = 128
ID_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+-]*")
"""A letter or digit, then letters, digits and `. _ : @ + -` (no spaces, no control characters)."""

MIN_PLAUSIBLE_MS: Final = 946_684_800_000  # 2000-01-01: earlier instants are unit or encoding errors
MAX_PLAUSIBLE_MS: Final = 4_102_444_800_000  # 2100-01-01


def identifier_problem(value: str, *, allow_empty: bool = False) -> str | None:
    if not value:
        return None if allow_empty else "is empty"
    if len(value) > ID_MAX_LENGTH:
        return f"is {len(value)} characters long (at most {ID_MAX_LENGTH})"
    if "\x00" in value:
        return "contains a NUL character"
    if ID_PATTERN.fullmatch(value) is None:
        return f"{value[:40]!r} has characters outside letters, digits and . _ : @ + -"
    return None


@cache
def known_timezones() -> frozenset[str]:
    """The zone database's keys (tzdata), read once."""
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def timezone_problem(value: str, *, allow_empty: bool = False) -> str | None:
    if not value:
        return None if allow_empty else "is empty"
    if value not in known_timezones():
        return f"{value[:40]!r} is not a zone of the IANA time zone database"
    return None


def instant_problem(value_ms: int, *, latest_ms: int | None = None) -> str | None:
    """An epoch-millisecond instant between 2000-01-01 and `latest_ms` (default 2100-01-01)."""
    latest = MAX_PLAUSIBLE_MS if latest_ms is None else latest_ms
    if value_ms < MIN_PLAUSIBLE_MS:
        return f"{value_ms} is before 2000-01-01 (not epoch milliseconds?)"
    if value_ms > latest:
        return f"{value_ms} is later than {latest}"
    return None
