"""What each client method asks the API, as generators that yield a `Call` and are sent its JSON answer.

The sync and async clients drive the same plans, so paging, cursors and frame building exist once; the
drivers own the network, retries and rate limits. A plan's return value is the method's DataFrame.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import Any, Final, Literal
from urllib.parse import quote

import pandas as pd

from wearstream.client import frames
from wearstream.client.http import Call
from wearstream.client.progress import Progress

Plan = Generator[Call, Any, pd.DataFrame]
Moment = str | dt.date | dt.datetime | None
Resolution = Literal["auto", "raw", "1m", "1h", "1d"]
Imputed = Literal["exclude", "include", "only"]
PageSink = Callable[[pd.DataFrame], None]

MAX_DAYS_PER_CALL: Final = 366
PARTICIPANTS_PAGE: Final = 1000


def moment(field: str, value: Moment) -> str | None:
    """A date (the participant's local midnight on the server) or an aware date-time, as the API takes it."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{field}: a datetime needs a time zone (or pass a date)")
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def ids(participants: str | Iterable[str]) -> list[str]:
    names = [participants] if isinstance(participants, str) else list(participants)
    if not names:
        raise ValueError("participants: give at least one participant id")
    return list(dict.fromkeys(names))


def _path(*parts: str) -> str:
    return "/" + "/".join(quote(p, safe="") for p in parts)


def _params(**values: str | int | bool | None) -> dict[str, str | int]:
    out: dict[str, str | int] = {}
    for name, value in values.items():
        if value is None:
            continue
        out[name] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


def paged(call: Call, limit_name: str = "limit") -> Generator[Call, Any, list[dict[str, Any]]]:
    """Every item of a `{items, next_cursor}` listing, following the cursor."""
    items: list[dict[str, Any]] = []
    params = dict(call.params)
    while True:
        answer = yield Call(call.path, params)
        items.extend(answer["items"])
        cursor = answer.get("next_cursor")
        if not cursor:
            return items
        params = {**params, "cursor": cursor}
        if "as_of" in answer and "as_of" not in params:
            # The cursor is bound to the first page's instant ("now" when not given): ask for that instant again.
            params["as_of"] = answer["as_of"]


def participants(page_size: int = PARTICIPANTS_PAGE, **filters: str | int | bool | None) -> Plan:
    limit = min(page_size, PARTICIPANTS_PAGE)
    items = yield from paged(Call("/v1/participants", _params(limit=limit, **filters)))
    frame = frames.records_frame(items, ["participant_id", "timezone", "enrolled_on", "authorisation"])
    frame.attrs["units"] = {"wear_pct_7d": "%", "hours_since_last_upload": "h"}
    return frame


def timezone_of(participant_id: str, zones: dict[str, str]) -> Generator[Call, Any, str]:
    if participant_id not in zones:
        detail = yield Call(_path("v1", "participants", participant_id), {})
        zones[participant_id] = detail["timezone"]
    return zones[participant_id]


def _windows(start: Moment, end: Moment) -> list[tuple[str | None, str | None]]:
    """[start, end) in windows the API accepts (≤ 366 days) when both are dates; else as given."""
    low, high = moment("start", start), moment("end", end)
    try:
        first = dt.date.fromisoformat(low or "")
        last = dt.date.fromisoformat(high or "")
    except ValueError:
        return [(low, high)]
    windows: list[tuple[str | None, str | None]] = []
    while first < last:
        upto = min(last, first + dt.timedelta(days=MAX_DAYS_PER_CALL))
        windows.append((first.isoformat(), upto.isoformat()))
        first = upto
    return windows or [(low, high)]


def per_day(
    kind: Literal["daily", "sleep"],
    participant_ids: Sequence[str],
    start: Moment,
    end: Moment,
    *,
    zones: dict[str, str],
    progress: Progress,
    imputed: Imputed = "exclude",
) -> Plan:
    """Daily summaries (`days`) or sleep nights (`nights`), one row per participant × local date; daily
    summaries with `imputed=include|only` count each metric's imputed minutes (`imputed_minutes_<metric>`)."""
    records: list[dict[str, Any]] = []
    key = "days" if kind == "daily" else "nights"
    for participant_id in participant_ids:
        for low, high in _windows(start, end):
            window = _params(start=low, end=high, imputed=None if imputed == "exclude" else imputed)
            report = yield Call(_path("v1", "participants", participant_id, kind), window)
            zones[participant_id] = report["timezone"]
            records.extend(
                {"participant_id": participant_id, "timezone": report["timezone"], **row} for row in report[key]
            )
        progress.advance(len(records))
    progress.close()
    frame = frames.records_frame(records, ["participant_id", "timezone", "date"])
    frame.attrs["units"] = _day_units(frame.columns)
    return frame


def _day_units(columns: Iterable[str]) -> dict[str, str]:
    units: dict[str, str] = {}
    for column in columns:
        if column.endswith("_pct") or column.startswith("coverage_pct"):
            units[column] = "%"
        elif column.endswith("minutes") or "stage_minutes" in column or column.startswith("imputed_minutes"):
            units[column] = "min"
        elif column.endswith("resting_hr"):
            units[column] = "bpm"
        elif column.endswith("spo2_mean") or column.endswith("spo2_min"):
            units[column] = "%"
        elif column.endswith("hrv_rmssd_mean"):
            units[column] = "ms"
        elif column.endswith("breathing_rate"):
            units[column] = "breaths/min"
        elif column == "steps":
            units[column] = "steps"
        elif column == "active_zone_minutes":
            units[column] = "AZM"
    return units


def gaps(
    participant_ids: Sequence[str] | None,
    start: Moment,
    end: Moment,
    *,
    kind: str | None,
    status: str,
    zones: dict[str, str],
    progress: Progress,
) -> Plan:
    """Gaps of the participants (each its own listing), or of the whole cohort (`/v1/gaps`)."""
    params = _params(start=moment("start", start), end=moment("end", end), kind=kind, status=status, limit=10_000)
    items: list[dict[str, Any]] = []
    if participant_ids is None:
        items = yield from paged(Call("/v1/gaps", params))
        missing = {item["participant_id"] for item in items} - zones.keys()
        if missing:
            yield from _fill_zones(zones)
    else:
        for participant_id in participant_ids:
            yield from timezone_of(participant_id, zones)
            items.extend((yield from paged(Call(_path("v1", "participants", participant_id, "gaps"), params))))
            progress.advance(len(items))
    progress.close()
    frame = frames.records_frame(items, ["participant_id", "kind", "start", "end", "open", "duration_s"])
    frame = frames.add_local(frame, zones, ["start", "end"])
    frame.attrs["units"] = {"duration_s": "s", "start": "UTC", "end": "UTC"}
    return frame


def _fill_zones(zones: dict[str, str]) -> Generator[Call, Any, None]:
    items = yield from paged(Call("/v1/participants", _params(limit=PARTICIPANTS_PAGE)))
    zones.update({item["participant_id"]: item["timezone"] for item in items})


def adherence(
    start: Moment, end: Moment, *, as_of: Moment, flag: str | None, per_day: bool, zones: dict[str, str]
) -> Plan:
    """Cohort adherence: one row per participant, or per participant × local date with `per_day`."""
    records: list[dict[str, Any]] = []
    thresholds: dict[str, Any] = {}
    for low, high in _windows(start, end):
        report = yield Call(
            "/v1/adherence", _params(start=low, end=high, as_of=moment("as_of", as_of), flag=flag, daily=per_day)
        )
        thresholds = report["thresholds"]
        for item in report["items"]:
            zones[item["participant_id"]] = item["timezone"]
            daily = item.pop("daily", [])
            if per_day:
                records.extend({"participant_id": item["participant_id"], **day} for day in daily)
            else:
                records.append({**item, "start": report["start"], "end": report["end"], "as_of": report["as_of"]})
    first = ["participant_id", "date"] if per_day else ["participant_id", "timezone", "wear_pct", "flags"]
    frame = frames.records_frame(records, first)
    if not per_day:
        for name in ("start", "end"):  # the window's dates, not instants
            if name in frame.columns:
                frame[name] = pd.to_datetime(frame[name].dt.date)
    frame.attrs["units"] = {"wear_pct": "%", "sleep_pct": "%", "hours_since_last_upload": "h", "worn_minutes": "min"}
    frame.attrs["thresholds"] = thresholds
    return frame


def alerts(
    participant_ids: Sequence[str] | None,
    start: Moment,
    end: Moment,
    *,
    level: str | None,
    detector: str | None,
    progress: Progress,
) -> Plan:
    """Illness alerts of the participants, or of the cohort (`/v1/alerts`, paged)."""
    params = _params(start=moment("start", start), end=moment("end", end), level=level, detector=detector)
    items: list[dict[str, Any]] = []
    if participant_ids is None:
        items = yield from paged(Call("/v1/alerts", params))
    else:
        for participant_id in participant_ids:
            items.extend((yield from paged(Call(_path("v1", "participants", participant_id, "alerts"), params))))
            progress.advance(len(items))
    progress.close()
    frame = frames.records_frame(items, ["participant_id", "detector", "level", "night", "value", "baseline", "state"])
    frame.attrs["units"] = {"value": "bpm", "baseline": "bpm"}
    return frame
