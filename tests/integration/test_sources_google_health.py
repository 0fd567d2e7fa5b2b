"""The runner driving the Google Health connector against its contract server (no processor: the connector's own
tests store what it fetches): a backfill of every data type from enrolment, with cursors, each page
acknowledged by the real Kafka, and a second pass that re-reads only the lookback."""

from __future__ import annotations

import datetime as dt

import pytest

from core.settings import Settings
from core.topics import ensure_topics
from producers.publisher import BatchPublisher
from producers.simulator import CohortSimulator
from producers.sources import cursors
from producers.sources.choose import ChoiceError, google_health
from producers.sources.google_health.settings import GoogleHealthSettings
from producers.sources.google_health.tokens import SOURCE
from producers.sources.runner import SourcesRunner, authorised_participants
from producers.sources.sync import sync_once
from tests.integration.google_health import harness
from tests.integration.pipeline import isolated

START = dt.date(2026, 9, 1)
START_MS = int(dt.datetime(2026, 9, 1, tzinfo=dt.UTC).timestamp() * 1000)
DAY_MS = 86_400_000
SIMULATOR = CohortSimulator(seed=11, start=START)


async def test_the_runner_backfills_the_google_health_source_and_keeps_cursors(
    settings: Settings, database: str
) -> None:
    env = isolated(settings, database)
    await ensure_topics(env.settings.kafka)
    metrics = {"heart_rate", "steps"}
    batches = [b for day in range(2) for b in SIMULATOR.simulate_day(3, day).batches if b.metric in metrics]
    now = START_MS + 2 * DAY_MS + 3_600_000
    async with harness(database) as h:
        seeded = await h.participant("P0003", "p0003@example.com", batches)
        await h.consent("P0003", "p0003@example.com")
        publisher = BatchPublisher(env.settings.kafka, client_id="wearstream-sources", source=SOURCE)
        await publisher.start()
        try:
            runner = SourcesRunner(h.source(), h.pool, publisher, clock=lambda: now)
            targets = await authorised_participants(h.pool, ["P0003"])
            assert [t.participant_id for t in targets] == ["P0003"]
            first = await runner.sync(targets)
            second = await runner.sync(targets)
        finally:
            await publisher.stop()
        saved = await cursors.list_cursors(h.pool, source=SOURCE)
    assert not first.failed, first.failures
    assert first.readings == seeded  # every seeded reading, each once, from enrolment to now
    assert first.cursors_ok == len(saved) == len(runner.source.metrics())
    assert {(c.status, c.fetched_through_ms, c.page_token) for c in saved} == {("ok", now, None)}
    assert not second.failed, second.failures
    # The second pass starts at the cursor minus the connector's lookback, never before enrolment.
    lookback = runner.source.metrics()[0].lookback_ms
    assert 0 < second.readings <= first.readings
    assert (second.readings == first.readings) == (now - lookback <= START_MS)


async def test_sync_once_opens_the_connector_on_its_own_pool_as_sources_sync_does(
    settings: Settings, database: str
) -> None:
    env = isolated(settings, database)
    batches = [b for b in SIMULATOR.simulate_day(4, 0).batches if b.metric == "steps"]
    now = START_MS + DAY_MS
    async with harness(database) as h:
        seeded = await h.participant("P0004", "p0004@example.com", batches)
        await h.consent("P0004", "p0004@example.com")
        report = await sync_once(
            env.settings, google_health(h.settings, h.sealer), participants=["P0004"], clock=lambda: now
        )
    assert not report.failed, report.failures
    assert report.source == SOURCE
    assert report.readings == seeded


def test_google_health_is_refused_without_a_client_id() -> None:
    with pytest.raises(ChoiceError, match="WEARSTREAM_GOOGLE_HEALTH_CLIENT_ID"):
        google_health(GoogleHealthSettings(client_id=""))
