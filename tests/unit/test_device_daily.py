"""The device-reported daily values message round-trips and refuses fields outside the contract."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from schemas.device_daily import FIELDS, DeviceDaily, DeviceDailyValue, decode_device_daily, encode_device_daily


def message(field: str, value: float) -> DeviceDaily:
    return DeviceDaily(
        participant_id="P0001",
        source="import:activity.json",
        values=[DeviceDailyValue(date=dt.date(2024, 1, 1), field=field, value=value)],
    )


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_every_field_round_trips_exactly(field: str) -> None:
    sent = message(field, 13.009272499010308)
    assert decode_device_daily(encode_device_daily(sent)) == sent


def test_an_unknown_field_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown device daily field"):
        decode_device_daily(encode_device_daily(message("calories", 2000)))


def test_a_malformed_message_raises_msgspec_errors() -> None:
    with pytest.raises(msgspec.ValidationError):
        decode_device_daily(msgspec.msgpack.encode({"participant_id": "P", "source": "s", "values": [{"date": 3}]}))
