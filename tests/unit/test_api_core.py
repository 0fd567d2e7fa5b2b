"""Pure parts of the API: parameter parsing, cursors, resolution choice, peak-preserving reduction, keys,
rate limiting, and the live fan-out's routing and bounded queues."""

from __future__ import annotations

import asyncio
import datetime as dt

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar.exceptions import ValidationException

from api import cursor
from api.auth.keys import ApiKey, matches, new_key, secret_hash, split_token
from api.auth.ratelimit import RateLimiter
from api.live.hub import LiveHub, Subscriber
from api.params import date_window, parse_instant
from api.series.downsample import reduce_indices
from api.series.levels import bin_factor, choose_level
from core.settings import KafkaSettings
from schemas.events import GapEvent, LiveUpdate, MinutePoint, encode_event
from schemas.metrics import BREATHING_RATE, HEART_RATE, STEPS

UTC = dt.UTC


@pytest.mark.parametrize(
    ("raw", "timezone", "expected"),
    [
        ("2026-03-08", "America/New_York", dt.datetime(2026, 3, 8, 5, tzinfo=UTC)),
        ("2026-03-09", "America/New_York", dt.datetime(2026, 3, 9, 4, tzinfo=UTC)),  # after the DST change
        ("2026-03-08", "UTC", dt.datetime(2026, 3, 8, tzinfo=UTC)),
        ("2026-03-08T10:00:00Z", "Asia/Tokyo", dt.datetime(2026, 3, 8, 10, tzinfo=UTC)),
        ("2026-03-08T10:00:00+05:30", "UTC", dt.datetime(2026, 3, 8, 4, 30, tzinfo=UTC)),
        ("2026-03-08T10:00:00 01:00", "UTC", dt.datetime(2026, 3, 8, 9, tzinfo=UTC)),  # '+' unescaped in a URL
    ],
)
def test_instants_accept_dates_and_offsets(raw: str, timezone: str, expected: dt.datetime) -> None:
    assert parse_instant("start", raw, timezone) == expected


@pytest.mark.parametrize("raw", ["2026-03-08T10:00:00", "soon", "", "2026-13-01", "0001-01-01", "9999-12-31T23:59:59Z"])
def test_bad_instants_name_the_field(raw: str) -> None:
    with pytest.raises(ValidationException) as error:
        parse_instant("end", raw)
    assert error.value.extra[0]["key"] == "end"  # type: ignore[index]


def test_date_windows_default_and_check() -> None:
    assert date_window(None, None, "UTC", default_end=dt.date(2026, 3, 9), default_days=7, max_days=30) == (
        dt.date(2026, 3, 2),
        dt.date(2026, 3, 9),
    )
    assert date_window("2026-03-01T23:30:00Z", "2026-03-03", "Asia/Tokyo", default_end=dt.date(2026, 1, 1),
                       default_days=7, max_days=30)[0] == dt.date(2026, 3, 2)  # fmt: skip
    with pytest.raises(ValidationException):
        date_window("2026-03-05", "2026-03-05", "UTC", default_end=dt.date(2026, 1, 1), default_days=7, max_days=30)
    with pytest.raises(ValidationException):
        date_window("2025-01-01", "2026-03-05", "UTC", default_end=dt.date(2026, 1, 1), default_days=7, max_days=30)


def test_cursors_round_trip_and_are_bound_to_their_query() -> None:
    query = cursor.fingerprint("P0001", "heart_rate", "raw")
    token = cursor.encode(cursor.Position(q=query, after=1_772_755_200_000, skip=2))
    assert cursor.decode(token, query) == cursor.Position(q=query, after=1_772_755_200_000, skip=2)
    for bad, for_query in ((token, cursor.fingerprint("P0002", "heart_rate", "raw")), ("%%%", query), ("e30", query)):
        with pytest.raises(ValidationException):
            cursor.decode(bad, for_query)


def test_auto_picks_the_finest_level_within_budget() -> None:
    hour, day = 3_600_000, 86_400_000
    assert choose_level(HEART_RATE, hour, 1000) == "raw"
    assert choose_level(HEART_RATE, day, 1000) == "1m"
    assert choose_level(HEART_RATE, 365 * day, 1000) == "1h"
    assert choose_level(HEART_RATE, 5 * 365 * day, 1000) == "1d"
    assert choose_level(STEPS, 6 * day, 1000) == "raw"
    assert choose_level(STEPS, 7 * day, 1000) == "1h"
    assert choose_level(BREATHING_RATE, 365 * day, 1000) == "raw"
    assert choose_level(BREATHING_RATE, 365 * day, 100) == "1d"
    assert bin_factor(365 * day, hour, 1000) == 9
    assert bin_factor(day, 60_000, 1000) == 2
    assert bin_factor(hour, 60_000, 1000) == 1


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=5000),
    max_points=st.integers(min_value=10, max_value=600),
)
def test_reduction_keeps_extremes_and_bounds(values: list[float], max_points: int) -> None:
    y = np.asarray(values)
    x = np.arange(len(y), dtype=np.int64) * 1000
    kept = reduce_indices(x, y, max_points)
    assert len(kept) <= max_points
    assert np.all(np.diff(kept) > 0)
    assert y[kept].min() == y.min()
    assert y[kept].max() == y.max()


def test_reduction_is_not_every_nth_point() -> None:
    y = np.zeros(100_000)
    y[12_345] = 250.0  # a single-reading peak between any regular stride
    y[77_777] = -5.0
    kept = reduce_indices(np.arange(len(y), dtype=np.int64), y, 1000)
    assert 12_345 in kept
    assert 77_777 in kept


def test_keys_are_random_well_formed_and_checked_by_hash() -> None:
    key = new_key()
    assert split_token(key.token) == (key.key_id, key.secret)
    assert matches(key.secret, secret_hash(key.secret))
    assert not matches(key.secret + "x", secret_hash(key.secret))
    assert split_token("wsk_short_x") is None
    assert new_key().token != key.token
    reader = ApiKey(key_id=key.key_id, role="participant", participant_id="P0001")
    assert reader.may_read("P0001")
    assert not reader.may_read("P0002")
    assert not reader.cohort
    assert ApiKey(key_id="k", role="researcher").may_read("P0002")


def test_rate_limiter_refills_per_key() -> None:
    limiter = RateLimiter(60)  # one per second, bursts of 60
    assert all(limiter.take("a", now=100.0) == 0 for _ in range(60))
    assert limiter.take("a", now=100.0) == pytest.approx(1.0)
    assert limiter.take("b", now=100.0) == 0
    assert limiter.take("a", now=101.5) == 0
    assert RateLimiter(0).take("a") == 0


async def test_a_full_queue_drops_its_oldest_messages_and_counts_them() -> None:
    subscriber = Subscriber("live", None, None, capacity=3)
    for i in range(5):
        subscriber.offer(str(i).encode())
    assert await subscriber.take() == ([b"2", b"3", b"4"], 2)
    subscriber.offer(b"5")
    assert await subscriber.take() == ([b"5"], 0)
    assert subscriber.dropped == 2
    waiting = asyncio.create_task(subscriber.take())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    subscriber.offer(b"6")
    assert await waiting == ([b"6"], 0)


async def test_the_hub_routes_by_participant_and_metric_without_waiting_for_slow_clients() -> None:
    hub = LiveHub(KafkaSettings(topic_prefix="x"), queue_size=2, enabled=False)
    one = hub.subscribe_live(frozenset({"P0001"}), None)
    steps_only = hub.subscribe_live(frozenset({"P0001", "P0002"}), frozenset({"steps"}))
    everyone = hub.subscribe_live(None, None)
    events = hub.subscribe_events()

    def live(participant: str, metric: str) -> bytes:
        return encode_event(
            LiveUpdate(participant_id=participant, metric=metric, minutes=[MinutePoint(0, 1, 1.0, 1.0, 1.0, 1.0)])
        )

    assert hub.dispatch("x.live", live("P0001", "heart_rate")) == 2
    assert hub.dispatch("x.live", live("P0002", "steps")) == 2
    assert hub.dispatch("x.live", live("P0003", "steps")) == 1
    assert hub.dispatch("x.live", b"\x00garbage") == 0
    gap = GapEvent(participant_id="P0003", kind="not_worn", state="opened", start_ms=1, end_ms=None, detected_ms=1,
                   event_ms=1)  # fmt: skip
    assert hub.dispatch("x.gaps", encode_event(gap)) == 1
    assert hub.dispatch("other", b"") == 0

    def decoded(payloads: list[bytes]) -> list[tuple[str, str]]:
        return [(m["participant_id"], m.get("metric", m["type"])) for m in map(msgspec.json.decode, payloads)]

    assert decoded((await one.take())[0]) == [("P0001", "heart_rate")]
    assert decoded((await steps_only.take())[0]) == [("P0002", "steps")]
    payloads, dropped = await everyone.take()  # a slow client: capacity 2, three messages
    assert decoded(payloads) == [("P0002", "steps"), ("P0003", "steps")]
    assert dropped == 1
    assert decoded((await events.take())[0]) == [("P0003", "gap")]
    hub.unsubscribe(one)
    assert hub.dispatch("x.live", live("P0001", "heart_rate")) == 1
