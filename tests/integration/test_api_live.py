"""Websockets on the real broker: LiveUpdates published to a uuid-prefixed live topic reach exactly the
clients subscribed to that participant, within a second; backfill on connect; keys and roles enforced."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from queue import Empty
from typing import Any

import msgspec
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient
from litestar.testing.websocket_test_session import WebSocketTestSession

from api.app import create_app
from core.settings import Settings
from deploy.local.stack import LocalStack
from schemas import topics
from schemas.events import GapEvent, LiveUpdate, MinutePoint, encode_event
from tests.integration.test_api_series import Cohort, api_settings, load_cohort


@pytest.fixture(scope="module")
async def cohort(database: str) -> Cohort:
    return await load_cohort(database, participants=3, days=1)


@pytest.fixture(scope="module")
async def live_settings(settings: Settings, stack: LocalStack, cohort: Cohort) -> AsyncIterator[Settings]:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    names = [topics.live_topic(prefix), topics.gaps_topic(prefix)]
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1) for name in names])
    kafka = settings.kafka.model_copy(update={"topic_prefix": prefix})
    yield api_settings(settings, cohort.url, live=True).model_copy(update={"kafka": kafka})
    await admin.delete_topics(names)
    await admin.close()


@pytest.fixture(scope="module")
async def producer(live_settings: Settings) -> AsyncIterator[AIOKafkaProducer]:
    kafka = AIOKafkaProducer(bootstrap_servers=live_settings.kafka.bootstrap_servers)
    await kafka.start()
    yield kafka
    await kafka.stop()


@pytest.fixture(scope="module")
def client(live_settings: Settings) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(live_settings)) as test_client:
        deadline = time.monotonic() + 30
        while test_client.get("/readyz").json()["live"] != "ready":
            assert time.monotonic() < deadline, "the live fan-out did not start"
            time.sleep(0.1)
        yield test_client


def update(participant: str, metric: str = "heart_rate", minute: int = 1_772_755_200_000) -> LiveUpdate:
    return LiveUpdate(
        participant_id=participant,
        metric=metric,
        minutes=[MinutePoint(minute, 3, 70.0, 65.0, 75.0, 210.0)],
        timestamps=[minute, minute + 1000, minute + 2000],
        values=[65.0, 70.0, 75.0],
        emitted_ms=int(time.time() * 1000),
    )


async def publish(producer: AIOKafkaProducer, topic: str, *events: LiveUpdate | GapEvent) -> None:
    for event in events:
        await producer.send_and_wait(topic, encode_event(event), key=event.participant_id.encode())


def receive(ws: WebSocketTestSession, timeout: float = 5.0) -> dict[str, Any]:
    message = ws.receive(timeout=timeout)
    assert message["type"] == "websocket.send", message
    return msgspec.json.decode(message["text"] or "")  # type: ignore[no-any-return]


def closed_with(ws: WebSocketTestSession) -> int:
    with pytest.raises(WebSocketDisconnect) as closed:
        ws.receive(timeout=5)
    return closed.value.code


def nothing_more(ws: WebSocketTestSession, wait: float = 1.0) -> bool:
    try:
        ws.receive(timeout=wait)
    except Empty:
        return True
    return False


async def test_a_subscriber_gets_its_participants_updates_and_nobody_elses(
    client: TestClient[Any], cohort: Cohort, producer: AIOKafkaProducer, live_settings: Settings
) -> None:
    live = topics.live_topic(live_settings.kafka.topic_prefix)
    key = cohort.keys["researcher"]
    with (
        client.websocket_connect(f"/v1/live?participants=P0001&token={key}") as one,
        client.websocket_connect("/v1/live?participants=P0002&metrics=steps", cookies={"wearstream_token": key}) as two,
    ):
        started = time.monotonic()
        await publish(producer, live, update("P0002"), update("P0003"), update("P0001"), update("P0002", "steps"))
        got = receive(one)
        assert time.monotonic() - started < 1.0
        assert got["type"] == "live"
        assert got["participant_id"] == "P0001"
        assert got["metric"] == "heart_rate"
        assert got["minutes"] == [
            {"time_ms": 1_772_755_200_000, "count": 3, "mean": 70.0, "min": 65.0, "max": 75.0, "sum": 210.0}
        ]
        assert got["values"] == [65.0, 70.0, 75.0]
        other = receive(two)
        assert (other["participant_id"], other["metric"]) == ("P0002", "steps")
        assert nothing_more(one)
        assert nothing_more(two, 0.2)


async def test_backfill_sends_the_last_minutes_on_connect(client: TestClient[Any], cohort: Cohort) -> None:
    key = cohort.keys["participant"]  # P0001's own key; participants default to its own
    with client.websocket_connect(f"/v1/live?metrics=heart_rate,steps&backfill_minutes=30&token={key}") as ws:
        messages = [receive(ws), receive(ws)]
    for message in messages:
        assert message["type"] == "backfill"
        assert message["participant_id"] == "P0001"
        ts, values = cohort.series("P0001", message["metric"])
        last = int(ts[-1]) // 60_000 * 60_000
        minutes = sorted({int(t) // 60_000 * 60_000 for t in ts if last - 30 * 60_000 < t // 60_000 * 60_000 <= last})
        assert [m["time_ms"] for m in message["minutes"]] == minutes
        for m in message["minutes"]:
            in_minute = (ts >= m["time_ms"]) & (ts < m["time_ms"] + 60_000)
            assert m["count"] == in_minute.sum()
            assert m["max"] == values[in_minute].max()
    assert {m["metric"] for m in messages} == {"heart_rate", "steps"}


async def test_participant_keys_are_refused_other_participants(client: TestClient[Any], cohort: Cohort) -> None:
    key = cohort.keys["participant"]
    for path in (
        f"/v1/live?participants=P0002&token={key}",
        f"/v1/live?participants=P0001,P0002&token={key}",
        f"/v1/events?token={key}",
    ):
        with client.websocket_connect(path) as ws:
            assert receive(ws)["type"] == "error"
            assert closed_with(ws) == 4403


async def test_bad_keys_and_parameters_close_the_socket(client: TestClient[Any], cohort: Cohort) -> None:
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/v1/live?participants=P0001"):
        pass
    assert refused.value.code == 4401
    key = cohort.keys["admin"]
    for query, code in (("participants=NOBODY", 4404), ("metrics=mood", 4404), ("backfill_minutes=-1", 4400)):
        with client.websocket_connect(f"/v1/live?{query}&token={key}") as ws:
            assert receive(ws)["type"] == "error"
            assert closed_with(ws) == code


async def test_events_carry_cohort_wide_gap_events(
    client: TestClient[Any], cohort: Cohort, producer: AIOKafkaProducer, live_settings: Settings
) -> None:
    gaps = topics.gaps_topic(live_settings.kafka.topic_prefix)
    event = GapEvent(
        participant_id="P0003",
        kind="not_synced",
        state="opened",
        start_ms=1,
        end_ms=None,
        detected_ms=2,
        event_ms=3,
        event_id="5f0c6f7e-0d1a-4c8e-9a57-3c1d2b9e8f10",
    )
    closed = msgspec.structs.replace(event, state="closed", end_ms=4, event_id="0b8e2d4a-6c1f-4f3e-8d2a-9e7c5b3a1f20")
    with client.websocket_connect(f"/v1/events?token={cohort.keys['researcher']}") as ws:
        await publish(producer, gaps, event)
        got = receive(ws)
        await publish(producer, gaps, event, closed)  # published again (at least once), then a new event
        after = receive(ws)
    assert after["event_id"] == closed.event_id  # the repeated id never reached the client
    assert got == {
        "type": "gap",
        "participant_id": "P0003",
        "kind": "not_synced",
        "state": "opened",
        "start_ms": 1,
        "end_ms": None,
        "detected_ms": 2,
        "event_ms": 3,
        "alert": True,
        "event_id": "5f0c6f7e-0d1a-4c8e-9a57-3c1d2b9e8f10",
    }
    await asyncio.sleep(0)
