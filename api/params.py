"""Query parameters shared by the domains: instants, dates, identifiers, and the paging parameters.

Instants (`start`, `end`, `as_of`) accept either a date, `YYYY-MM-DD`, meaning 00:00 of that date in the
participant's time zone (UTC on cohort-wide endpoints), or an RFC 3339 date-time with a UTC offset or `Z`
(`2026-03-02T08:00:00+01:00`; a `+` left unescaped in a URL arrives as a space and is accepted too).
A date-time without an offset is refused: it would be ambiguous. Ranges are half-open, [start, end).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from litestar.params import Parameter

from api.errors import invalid

EARLIEST: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST: Final = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
_UNESCAPED_PLUS: Final = re.compile(r" (\d\d(:?\d\d)?)$")
_PARTICIPANT_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def parse_date(field: str, raw: str) -> dt.date:
    """A calendar date, `YYYY-MM-DD`; a date-time is refused here."""
    try:
        value = dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise invalid(field, f"expected a date YYYY-MM-DD, got {raw[:40]!r}") from None
    if not EARLIEST.date() <= value < LATEST.date():
        raise invalid(field, f"outside {EARLIEST.date()} … {LATEST.date()}")
    return value


def parse_instant(field: str, raw: str, timezone: str = "UTC") -> dt.datetime:
    """A date (local midnight in `timezone`) or an offset-aware date-time, returned in UTC."""
    text = _UNESCAPED_PLUS.sub(r"+\1", raw.strip())
    value: dt.datetime
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise invalid(field, f"expected a date or an RFC 3339 date-time, got {raw[:40]!r}") from None
        if value.tzinfo is None or value.utcoffset() is None:
            raise invalid(field, "a date-time needs a UTC offset or Z (or give a date)") from None
    else:
        if not EARLIEST.date() < day < LATEST.date():
            raise invalid(field, f"outside {EARLIEST.date()} … {LATEST.date()}")
        value = dt.datetime.combine(day, dt.time(), tzinfo=zone(timezone))
    try:
        utc = value.astimezone(dt.UTC)
    except OverflowError:
        raise invalid(field, f"outside {EARLIEST.date()} … {LATEST.date()}") from None
    if not EARLIEST <= utc < LATEST:
        raise invalid(field, f"outside {EARLIEST.date()} … {LATEST.date()}")
    return utc


def local_date_of(field: str, raw: str, timezone: str) -> dt.date:
    """A date as given, or the local date (in `timezone`) of a date-time."""
    text = raw.strip()
    try:
        return parse_date(field, text)
    except Exception:
        pass
    return parse_instant(field, text, timezone).astimezone(zone(timezone)).date()


def check_range(start: dt.datetime, end: dt.datetime) -> None:
    if end <= start:
        raise invalid("end", "must be after start")


def check_dates(start: dt.date, end: dt.date, *, max_days: int) -> None:
    if end <= start:
        raise invalid("end", "must be after start (end is exclusive)")
    if (end - start).days > max_days:
        raise invalid("end", f"at most {max_days} days per request")


def valid_participant_id(participant_id: str) -> bool:
    return _PARTICIPANT_ID.match(participant_id) is not None


def to_ms(value: dt.datetime) -> int:
    return (value - EARLIEST) // dt.timedelta(milliseconds=1)


def from_ms(ms: int) -> dt.datetime:
    return EARLIEST + dt.timedelta(milliseconds=ms)


def date_window(
    start: str | None, end: str | None, timezone: str, *, default_end: dt.date, default_days: int, max_days: int
) -> tuple[dt.date, dt.date]:
    """[start, end) as local dates: each given as a date or a date-time (its local date); `end` defaults to
    `default_end`, `start` to `default_days` before `end`."""
    last = local_date_of("end", end, timezone) if end is not None else default_end
    first = local_date_of("start", start, timezone) if start is not None else last - dt.timedelta(days=default_days)
    check_dates(first, last, max_days=max_days)
    return first, last


Cursor = Annotated[str | None, Parameter(max_length=512)]
"""`cursor`: the previous page's `next_cursor`, bound to the query that produced it."""

Limit = Annotated[int, Parameter(ge=1, le=10_000)]
"""`limit`: items per page."""
