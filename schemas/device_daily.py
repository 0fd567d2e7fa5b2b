"""Wire contract of `<prefix>.device_daily`: daily values as the device reported them, msgpack, keyed by
participant id.

These are the device's own numbers (Fitbit's daily step total, resting heart rate, SpO2 / HRV / breathing-rate
summaries), kept beside what wearstream computes from the readings and never mixed into them. For one
participant × local date × field the latest message wins.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import msgspec

FIELDS: Final[dict[str, str]] = {
    "steps": "steps",
    "resting_heart_rate": "bpm",
    "spo2_avg": "%",
    "spo2_min": "%",
    "spo2_max": "%",
    "hrv_daily_rmssd": "ms",
    "hrv_deep_rmssd": "ms",
    "breathing_rate_full": "breaths/min",
    "breathing_rate_light": "breaths/min",
    "breathing_rate_deep": "breaths/min",
    "breathing_rate_rem": "breaths/min",
}
"""Every field a device-reported daily value can have, with its unit."""


class DeviceDailyValue(msgspec.Struct, frozen=True, kw_only=True):
    date: dt.date
    """The wearer's local date the device reported the value for."""
    field: str
    """One of `FIELDS`."""
    value: float


class DeviceDaily(msgspec.Struct, frozen=True, kw_only=True):
    """Device-reported daily values of one participant from one source (e.g. an imported file)."""

    participant_id: str
    source: str
    """Where the values came from, e.g. `import:activity.json`."""
    values: list[DeviceDailyValue]


_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(DeviceDaily)


def encode_device_daily(message: DeviceDaily) -> bytes:
    return _encoder.encode(message)


def decode_device_daily(payload: bytes) -> DeviceDaily:
    """Raises msgspec.DecodeError / msgspec.ValidationError on malformed input, ValueError on an unknown field."""
    message = _decoder.decode(payload)
    unknown = sorted({v.field for v in message.values} - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown device daily field(s): {', '.join(unknown)}")
    return message
