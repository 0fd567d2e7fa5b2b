"""Recognises what a response is from its top-level keys, independent of the file's name.

| marker key (top level of a response)          | data type            | decoded as               |
|-----------------------------------------------|----------------------|--------------------------|
| `activities-heart-intraday`                   | heart_rate           | `HeartRateIntraday`      |
| `heart_rate_day` (wearipedia's wrapper)       | heart_rate           | `WearipediaHeartRateDay` |
| `activities-steps-intraday`                   | steps                | `StepsIntraday`          |
| `activities-active-zone-minutes-intraday`     | active_zone_minutes  | `AzmIntraday`            |
| `minutes` (with `dateTime`)                   | spo2                 | `Spo2Day`                |
| `hrv`                                         | hrv                  | `HrvIntraday`            |
| `br`                                          | breathing_rate       | `BreathingRate`          |
| `sleep`                                       | sleep                | `SleepLogs`              |
| `activities-steps` (no intraday)              | daily (device steps) | `StepsDaily`             |
| `activities-heart` (no intraday)              | daily (resting HR)   | `HeartRateDaily`         |
| `value` (with `dateTime`)                     | daily (steps, SpO2)  | `DailyValue`             |

Daily summaries the device reports (step totals, SpO2 avg/min/max; resting HR, HRV and breathing-rate
summaries inside the kinds above) are kept as device-reported daily values, never turned into readings.
Summaries wearstream has no home for (the active-zone-minutes summary without intraday data) raise `NoHomeError`
with a reason: the importer skips them with a warning. So is a Fitbit error body
(`{"errors": [...]}`), with Fitbit's message. An unknown shape is an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, NamedTuple

import msgspec

from producers.fitbit.errors import NoHomeError, ShapeError
from producers.fitbit.shapes import (
    AzmIntraday,
    BreathingRate,
    DailyValue,
    DataType,
    HeartRateDaily,
    HeartRateIntraday,
    HrvIntraday,
    ResponseShape,
    SleepLogs,
    Spo2Day,
    StepsDaily,
    StepsIntraday,
    WearipediaHeartRateDay,
)


class ResponseKind(NamedTuple):
    marker: str
    data_type: DataType
    shape: type[ResponseShape]


# Order matters: the first marker present wins (an intraday response also carries its daily summary key).
KINDS: Final[tuple[ResponseKind, ...]] = (
    ResponseKind("activities-heart-intraday", DataType.HEART_RATE, HeartRateIntraday),
    ResponseKind("heart_rate_day", DataType.HEART_RATE, WearipediaHeartRateDay),
    ResponseKind("activities-steps-intraday", DataType.STEPS, StepsIntraday),
    ResponseKind("activities-active-zone-minutes-intraday", DataType.ACTIVE_ZONE_MINUTES, AzmIntraday),
    ResponseKind("hrv", DataType.HRV, HrvIntraday),
    ResponseKind("br", DataType.BREATHING_RATE, BreathingRate),
    ResponseKind("sleep", DataType.SLEEP, SleepLogs),
    ResponseKind("minutes", DataType.SPO2, Spo2Day),
    ResponseKind("activities-steps", DataType.DAILY, StepsDaily),
    ResponseKind("activities-heart", DataType.DAILY, HeartRateDaily),
    ResponseKind("value", DataType.DAILY, DailyValue),
)

_SUMMARY_ONLY: Final[dict[str, str]] = {
    "activities-active-zone-minutes": "a daily active-zone-minutes summary without intraday minutes",
}

DECODERS: Final[dict[type[ResponseShape], msgspec.json.Decoder[ResponseShape]]] = {
    kind.shape: msgspec.json.Decoder(kind.shape) for kind in KINDS
}


def detect_kind(response: Mapping[str, msgspec.Raw], json_path: str) -> ResponseKind:
    """Returns the kind of one response from its keys; raises `NoHomeError` for a recognised response that
    has no home, `ShapeError` for an unknown one."""
    for kind in KINDS:
        if kind.marker in response:
            return kind
    if "errors" in response:
        raise NoHomeError(json_path, f"a Fitbit API error response, not data: {_api_error(response['errors'])}")
    for key, what in _SUMMARY_ONLY.items():
        if key in response:
            raise NoHomeError(json_path, f"{what} is not importable: export the intraday detail level (1sec / 1min)")
    keys = ", ".join(f'"{key}"' for key in sorted(response)[:8]) or "none"
    expected = ", ".join(f'"{kind.marker}"' for kind in KINDS)
    raise ShapeError(json_path, f"unknown response shape (keys: {keys}); expected one of the keys {expected}")


def _api_error(raw: msgspec.Raw) -> str:
    try:
        errors = msgspec.json.decode(raw)
        return str(errors[0]["message"])
    except (msgspec.DecodeError, LookupError, TypeError):
        return msgspec.json.encode(raw).decode()[:200]
