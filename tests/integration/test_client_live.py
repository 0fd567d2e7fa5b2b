"""`AsyncClient` against a real API with the live fan-out on the real Kafka: the same frames as `Client`, and
`live()` yields the backfill, then the updates published on the live topic, and raises on refusals."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from core.settings import Settings
from deploy.local.stack import LocalStack
from schemas import topics
from schemas.events import LiveUpdate, MinutePoint, encode_event
from tests.integration.api_server import serve_api
from tests.integration.test_api_series import START, Cohort, api_settings, load_cohort
from wearstream.client import AsyncClient, Client, LiveClosedError

FIRST, END = START.isoformat(), (START.replace(day=START.day + 1)).isoformat()


@pytest.fixture(scope="module")
async def cohort(database: str) -> Cohort:
    return await load_cohort(database, participants=2, days=1)


@pytest.fixture(scope="module")
async def live_settings(settings: Settings, stack: LocalStack, cohort: Cohort) -> AsyncIterator[Settings]:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    names = [topics.live_topic(prefix), topics.gaps_topic(prefix)]
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1) for name in names])
    kafka = settings.kafka.model_copy(update={"topic_prefix": prefix})
    yield api_settings(settings, cohort.url, live=True).model_copy(update={"kafka": kafka})
    await admin.delete_topics(names)
    await admin.close()


@pytest.fixture(scope="module")
def api(live_settings: Settings) -> Iterator[str]:
    with serve_api(live_settings) as base:
        deadline = time.monotonic() + 30
        while httpx.get(f"{base}/readyz").json().get("live") != "ready":
            assert time.monotonic() < deadline, "the live fan-out did not start"
            time.sleep(0.2)
        yield base


async def test_async_frames_equal_the_sync_frames(api: str, cohort: Cohort) -> None:
    key = cohort.keys["researcher"]
    async with AsyncClient(api, key, page_size=500) as client:
        series = await client.series(["P0001", "P0002"], "heart_rate", FIRST, END, resolution="raw")
        daily = await client.daily(["P0001", "P0002"], FIRST, END)
    with Client(api, key, page_size=500) as sync:
        assert series.equals(sync.series(["P0001", "P0002"], "heart_rate", FIRST, END, resolution="raw"))
        assert daily.equals(sync.daily(["P0001", "P0002"], FIRST, END))
    assert len(series) > 1000


async def test_live_yields_the_backfill_then_published_updates(
    api: str, cohort: Cohort, live_settings: Settings
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=live_settings.kafka.bootstrap_servers)
    await producer.start()
    minute = int(time.time() // 60 * 60_000)
    mine = LiveUpdate(
        participant_id="P0001",
        metric="heart_rate",
        minutes=[MinutePoint(minute, 2, 71.0, 70.0, 72.0, 142.0)],
        timestamps=[minute, minute + 1000],
        values=[70.0, 72.0],
        emitted_ms=int(time.time() * 1000),
    )
    other = LiveUpdate(
        participant_id="P0002", metric="heart_rate", minutes=[MinutePoint(minute, 1, 80.0, 80.0, 80.0, 80.0)]
    )
    received: list[dict[str, object]] = []
    try:
        async with AsyncClient(api, cohort.keys["researcher"]) as client:
            feed = client.live(["P0001"], ["heart_rate"], backfill_minutes=5)
            received.append(await asyncio.wait_for(anext(feed), 10))
            for update in (other, mine):
                await producer.send_and_wait(
                    topics.live_topic(live_settings.kafka.topic_prefix), encode_event(update), key=b"k"
                )
            received.append(await asyncio.wait_for(anext(feed), 10))
            await feed.aclose()  # type: ignore[attr-defined]  # the feed is an async generator
    finally:
        await producer.stop()
    backfill, live = received
    assert backfill["type"] == "backfill"
    assert backfill["participant_id"] == "P0001"
    assert backfill["minutes"]
    assert live["type"] == "live"
    assert live["participant_id"] == "P0001"
    assert live["values"] == [70.0, 72.0]
    assert live["minutes"] == [{"time_ms": minute, "count": 2, "mean": 71.0, "min": 70.0, "max": 72.0, "sum": 142.0}]


async def test_live_refusals_raise_with_the_close_code(api: str, cohort: Cohort) -> None:
    async with AsyncClient(api, cohort.keys["researcher"]) as client:
        with pytest.raises(LiveClosedError) as refused:
            async for _ in client.live(["P4242"], ["heart_rate"]):
                pass
    assert refused.value.code == 4404
    assert "P4242" in refused.value.detail
    with Client(api, cohort.keys["participant"]) as sync, pytest.raises(LiveClosedError) as other:
        for _ in sync.live(["P0002"]):
            pass
    assert other.value.code == 4403
