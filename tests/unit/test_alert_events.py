"""Alert changes on the wire: the `<prefix>.alerts` event, its `/v1/events` message, and which nights a reading
touches."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo

import msgspec
import pytest

from api.live.hub import LiveHub
from core.settings import KafkaSettings
from schemas.events import AlertEvent, decode_alert_event, decode_gap_event, encode_event
from stream_processors.nightly import AlertChange, alert_event, complete_through, touched_night

ZONE = "Europe/Berlin"


def _ms(day: dt.date, hour: int, minute: int = 0) -> int:
    local = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zoneinfo.ZoneInfo(ZONE))
    return int(local.timestamp() * 1000)


def test_an_alert_change_round_trips_with_its_id_and_is_not_a_gap() -> None:
    change = AlertChange(
        participant_id="P1",
        detector="nightsignal",
        level="red",
        night=dt.date(2026, 3, 5),
        value=61.5,
        baseline=57.0,
        state="raised",
    )
    event = msgspec.structs.replace(alert_event(change, 1_000), event_id="e-1")
    assert decode_alert_event(encode_event(event)) == event
    assert (event.night, event.state, event.event_ms) == (change.night, "raised", 1_000)
    with pytest.raises(msgspec.ValidationError):
        decode_gap_event(encode_event(event))


def test_the_hub_sends_alert_changes_to_event_clients_once_per_id() -> None:
    hub = LiveHub(KafkaSettings(topic_prefix="x"), queue_size=10, enabled=False)
    client = hub.subscribe_events()
    event = AlertEvent(
        participant_id="P1",
        detector="cusum",
        level="yellow",
        night=dt.date(2026, 3, 5),
        value=None,
        baseline=None,
        state="withdrawn",
        event_ms=5,
        event_id="e-2",
    )
    assert hub.dispatch("x.alerts", encode_event(event)) == 1
    assert hub.dispatch("x.alerts", encode_event(event)) == 0  # a redelivery
    assert hub.dispatch("x.alerts", b"\xc1") == 0  # undecodable: logged, nothing sent
    [message] = [json.loads(m) for m in client._queue]
    assert message == {
        "type": "alert",
        "participant_id": "P1",
        "detector": "cusum",
        "level": "yellow",
        "night": "2026-03-05",
        "value": None,
        "baseline": None,
        "state": "withdrawn",
        "event_ms": 5,
        "event_id": "e-2",
    }


def test_a_reading_touches_its_local_date_even_in_the_minutes_before_midnight() -> None:
    day = dt.date(2026, 3, 5)
    assert touched_night(_ms(day, 3), ZONE) == day
    assert touched_night(_ms(day, 15), ZONE) == day  # the hourly resting medians of that date
    assert touched_night(_ms(day, 23, 55), ZONE) == day  # hour 23's median (and, from there, the next night)
    assert complete_through(_ms(day, 6, 59), ZONE) == day - dt.timedelta(days=1)
    assert complete_through(_ms(day, 7), ZONE) == day
