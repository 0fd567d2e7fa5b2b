"""Illness alerts end to end on the real stack: a simulated cohort with illness episodes, replayed through Kafka
and a real worker, gives the alerts of the nightly step run directly over the same stored rollups — in the
database, on `<prefix>.alerts`, on `/v1/events` and on the REST API."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import asyncpg
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.auth.store import create_key
from api.live.hub import LiveHub
from core.settings import Settings
from core.topics import ensure_topics
from producers.publisher import BatchPublisher
from producers.simulator import CohortSimulator
from producers.simulator.episodes import EpisodeModel
from schemas import topics
from schemas.events import decode_alert_event
from schemas.metrics import HEART_RATE, STEPS
from stream_processors.db import create_pool
from stream_processors.nightly import complete_through, last_readings, touched_night, update_nights
from tests.integration.pipeline import isolated, start_processor, stop_processor, wait_for_readings
from tests.integration.test_api_series import api_settings
from tests.integration.test_faults import read_all

START = dt.date(2026, 3, 2)
SEED = 5
PARTICIPANTS = 2
DAYS = 36
EPISODES = EpisodeModel(share=1.0, first_onset_day=30, last_onset_day=34, p_raised_night=0.0)

Key = tuple[str, str, dt.date]
OUTCOMES = "SELECT participant_id, detector, night, value, baseline, level, filled FROM night_outcomes ORDER BY 1, 2, 3"


async def _publish_cohort(settings: Settings) -> tuple[int, dict[str, str]]:
    """Publishes the participants and their heart rate and steps, day by day; returns readings and zones."""
    simulator = CohortSimulator(seed=SEED, start=START, episodes=EPISODES)
    publisher = BatchPublisher(settings.kafka, client_id="wearstream-test")
    await publisher.start()
    readings, zones = 0, {}
    try:
        for k in range(1, PARTICIPANTS + 1):
            record = simulator.participant_record(k, as_of_day=DAYS - 1)
            zones[record.participant_id] = record.timezone
            await publisher.send_participant(record)
        await publisher.flush()
        for day in range(DAYS):
            for k in range(1, PARTICIPANTS + 1):
                for batch in simulator.simulate_day(k, day).batches:
                    if batch.metric in (HEART_RATE.name, STEPS.name):
                        await publisher.send(batch)
                        readings += len(batch)
    finally:
        await publisher.stop()
    return readings, zones


async def _direct(connection: asyncpg.Connection, zones: dict[str, str]) -> tuple[dict[Key, str], list[asyncpg.Record]]:
    """What `update_nights` gives over the stored rollups from scratch (rolled back afterwards): the active
    alerts by key with their level, and every night's verdicts."""
    active: dict[Key, str] = {}
    reached = await last_readings(connection, sorted(zones))
    tr = connection.transaction()
    await tr.start()
    try:
        for table in ("alerts", "alert_changes", "night_outcomes", "nightly_values"):
            await connection.execute(f"DELETE FROM {table}")
        for participant_id, zone in zones.items():
            if participant_id not in reached:
                continue  # no heart rate or steps stored
            first_ms = await connection.fetchval(
                "SELECT ts_to_ms(min(first_reading)) FROM participant_metric_state WHERE participant_id = $1",
                participant_id,
            )
            first = touched_night(first_ms, zone)
            await update_nights(
                connection, participant_id, zone, first, complete_through(reached[participant_id], zone)
            )
        for row in await connection.fetch(
            "SELECT participant_id, detector, night, level FROM alerts WHERE state <> 'withdrawn'"
        ):
            active[(row["participant_id"], row["detector"], row["night"])] = row["level"]
        outcomes = await connection.fetch(OUTCOMES)
    finally:
        await tr.rollback()
    return active, outcomes


async def test_replayed_cohort_raises_the_alerts_of_a_direct_run_in_db_topic_events_and_rest(
    settings: Settings, database: str, tmp_path: Path
) -> None:
    env = isolated(settings, database)
    await ensure_topics(env.settings.kafka)
    worker = start_processor(env.env, tmp_path / "worker.log")
    try:
        total, zones = await _publish_cohort(env.settings)
        await wait_for_readings(database, total, timeout_s=420, process=worker)
        connection = await asyncpg.connect(database)
        try:
            changes = int(await connection.fetchval("SELECT count(*) FROM alert_changes"))
            alerts_topic = topics.alerts_topic(env.settings.kafka.topic_prefix)
            records = await read_all(env.settings.kafka.bootstrap_servers, alerts_topic, at_least=changes, timeout_s=60)
            streamed = {
                (r["participant_id"], r["detector"], r["night"]): r["level"]
                for r in await connection.fetch(
                    "SELECT participant_id, detector, night, level FROM alerts WHERE state <> 'withdrawn'"
                )
            }
            streamed_outcomes = await connection.fetch(OUTCOMES)
            direct, direct_outcomes = await _direct(connection, zones)
        finally:
            await connection.close()
    finally:
        stop_processor(worker)

    # The database: every night judged as the direct run judges it, and the same alerts at the same levels. (An
    # alert keeps the value and baseline of the change that set its level; the night's verdict has the latest.)
    assert len(streamed_outcomes) > 0
    assert [tuple(r) for r in streamed_outcomes] == [tuple(r) for r in direct_outcomes]
    assert any(detector == "nightsignal" for _, detector, _ in streamed), "the episodes raised no alert"
    assert streamed == direct

    # The topic: every change at least once, with ids; folded per alert in the order of the transactions that
    # made them (`event_ms`: two transactions of one participant may publish in either order), it ends where the
    # database is.
    events = [decode_alert_event(r.value) for r in records]
    assert all(e.event_id for e in events)
    unique = {e.event_id: e for e in events}
    assert len(unique) == changes
    last: dict[Key, tuple[str, str]] = {}
    for event in sorted(unique.values(), key=lambda e: e.event_ms):
        last[(event.participant_id, event.detector, event.night)] = (event.state, event.level)
    assert {k: level for k, (state, level) in last.items() if state != "withdrawn"} == streamed

    # /v1/events: the hub turns them into alert messages, each id once (a redelivery is dropped).
    hub = LiveHub(env.settings.kafka, queue_size=10_000, enabled=False)
    client = hub.subscribe_events()
    for record in [*records, *records]:
        hub.dispatch(alerts_topic, record.value)
    messages = [json.loads(message) for message in client._queue]
    assert len(messages) == changes
    assert {m["type"] for m in messages} == {"alert"}
    first = messages[0]
    assert set(first) >= {"participant_id", "detector", "level", "night", "value", "baseline", "state", "event_id"}
    assert dt.date.fromisoformat(first["night"]) == unique[first["event_id"]].night

    # REST: each participant's alerts are the database's.
    pool = await create_pool(database, size=1)
    try:
        researcher = (await create_key(pool, "researcher", None)).token
    finally:
        await pool.close()
    async with AsyncTestClient(create_app(api_settings(settings, database))) as rest:
        rest.headers["Authorization"] = f"Bearer {researcher}"
        served: dict[Key, str] = {}
        for participant_id in zones:
            page = (await rest.get(f"/v1/participants/{participant_id}/alerts", params={"limit": 1000})).json()
            assert page["next_cursor"] is None
            for item in page["items"]:
                if item["state"] != "withdrawn":
                    key = (participant_id, item["detector"], dt.date.fromisoformat(item["night"]))
                    served[key] = item["level"]
    assert served == streamed
