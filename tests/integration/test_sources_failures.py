"""The sources runner when a source misbehaves, on the real Kafka and TimescaleDB: a source that answers
RateLimited (and Unavailable) again and again slows the runner and loses nothing; an interrupted window resumes
from its saved page; a participant who is not authorised, or whose data is gone, is reported while the others
sync. The test sources are small wrappers of the simulator source."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import asyncpg
import pytest

from core.settings import Settings
from core.topics import ensure_topics
from producers.simulator import CohortSimulator
from producers.simulator.grid import DAY_MS
from producers.sources.base import Gone, MetricSpec, NotAuthorised, Page, RateLimited, Unavailable, Window
from producers.sources.limits import Backoff, RetryPolicy
from producers.sources.simulator import SimulatorSource
from producers.sources.sync import sync_once
from tests.integration.pipeline import isolated, start_processor, stop_processor
from tests.integration.sources_helpers import (
    enrol,
    expected_counts,
    saved_cursors,
    simulator_start_ms,
    steady_participants,
    wait_for_counts,
    wait_until_consumed,
)

SEED = 23
START = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=4)
METRICS = ("heart_rate", "steps")

pytestmark = pytest.mark.timeout(900)


class Wrapped:
    """The simulator source under another name, recording the page tokens it was asked to start from."""

    def __init__(self, name: str, now_ms: int) -> None:
        self.name = name
        self.inner = SimulatorSource(seed=SEED, start=START, metrics=METRICS, clock=lambda: now_ms)
        self.started_from: list[tuple[str, str, str | None]] = []

    def metrics(self) -> Sequence[MetricSpec]:
        return self.inner.metrics()

    async def authorise(self, participant_id: str) -> None:
        await self.inner.authorise(participant_id)

    async def fetch(
        self, participant_id: str, metric: str, window: Window, page: str | None = None
    ) -> AsyncIterator[Page]:
        self.started_from.append((participant_id, metric, page))
        async for served in self.inner.fetch(participant_id, metric, window, page):
            self.check(participant_id, metric)
            yield served

    def check(self, participant_id: str, metric: str) -> None:
        """Raises what the service would answer to this request instead of the page."""


class Throttled(Wrapped):
    """Answers each page's request with RateLimited `refusals_per_page` times before serving it, until
    `rate_limited` such answers have been given; and every fifth request with Unavailable, `unavailable` times."""

    def __init__(
        self,
        name: str,
        now_ms: int,
        *,
        rate_limited: int,
        refusals_per_page: int,
        unavailable: int,
        retry_after_s: float,
    ) -> None:
        super().__init__(name, now_ms)
        self.requests = 0
        self.rate_limited = rate_limited
        self.refusals_per_page = refusals_per_page
        self.refused: dict[tuple[str, str], int] = {}
        self.unavailable = unavailable
        self.retry_after_s = retry_after_s
        self.asked_to_wait: dict[str, float] = {}

    def check(self, participant_id: str, metric: str) -> None:
        self.requests += 1
        key = (participant_id, metric)
        if self.rate_limited and self.refused.get(key, 0) < self.refusals_per_page:
            self.refused[key] = self.refused.get(key, 0) + 1
            self.rate_limited -= 1
            self.asked_to_wait[participant_id] = self.asked_to_wait.get(participant_id, 0.0) + self.retry_after_s
            raise RateLimited(participant_id, "HTTP 429", retry_after_s=self.retry_after_s)
        if self.unavailable and self.requests % 5 == 0:
            self.unavailable -= 1
            raise Unavailable(participant_id, "HTTP 503")
        self.refused[key] = 0


class Refusing(Wrapped):
    """Some participants' grants are revoked or expired; one participant's heart rate is gone."""

    def __init__(self, name: str, now_ms: int, *, revoked: str, expired: str, gone_hr: str) -> None:
        super().__init__(name, now_ms)
        self.revoked, self.expired, self.gone_hr = revoked, expired, gone_hr

    async def authorise(self, participant_id: str) -> None:
        if participant_id == self.revoked:
            raise NotAuthorised(participant_id, "refresh token revoked by the user (HTTP 400 invalid_grant)")
        if participant_id == self.expired:
            raise NotAuthorised(participant_id, "grant expired beyond refresh")

    def check(self, participant_id: str, metric: str) -> None:
        if participant_id == self.gone_hr and metric == "heart_rate":
            raise Gone(participant_id, "HTTP 410: heart rate is no longer served")


async def test_rate_limited_again_and_again_slows_the_runner_and_loses_nothing(
    settings: Settings, database: str, tmp_path: Path
) -> None:
    env = isolated(settings, database)
    await ensure_topics(env.settings.kafka)
    simulator = CohortSimulator(seed=SEED, start=START)
    ks = steady_participants(simulator, 2)
    await enrol(database, simulator, ks, START)
    now = simulator_start_ms(simulator) + 2 * DAY_MS
    source = Throttled("throttled", now, rate_limited=30, refusals_per_page=4, unavailable=3, retry_after_s=0.1)
    retry = RetryPolicy(backoff=Backoff(base_s=0.01, cap_s=0.05))
    worker = start_processor(env.env, tmp_path / "worker.log")
    try:
        started = time.perf_counter()
        report = await sync_once(env.settings, source, retry=retry, clock=lambda: now)
        elapsed = time.perf_counter() - started
        assert not report.failed, report.failures
        assert report.rate_limited_waits == 30
        assert report.waited_s == pytest.approx(3.0)
        assert report.retries == 3
        # Participants are pulled side by side, each one's requests in turn: every RateLimited was waited out
        # for as long as it asked before that participant's next request.
        assert elapsed >= max(source.asked_to_wait.values())
        assert sum(source.asked_to_wait.values()) == pytest.approx(3.0)
        expected = expected_counts(simulator, ks, METRICS, [(0, now)])
        assert report.readings == sum(expected.values())  # retried from the last acknowledged page: no repeats
        stored = await wait_for_counts(database, expected)
        assert {key: raw for key, (raw, _) in stored.items()} == expected
    finally:
        stop_processor(worker)


async def test_an_interrupted_window_resumes_from_its_saved_page_on_the_next_run(
    settings: Settings, database: str, tmp_path: Path
) -> None:
    env = isolated(settings, database)
    await ensure_topics(env.settings.kafka)
    simulator = CohortSimulator(seed=SEED, start=START)
    ks = steady_participants(simulator, 1, first_k=40)
    await enrol(database, simulator, ks, START)
    participant_id = simulator.traits(ks[0]).participant_id
    now = simulator_start_ms(simulator) + 3 * DAY_MS
    # The service keeps answering 429 after the first pages: the runner gives up on this window for this run.
    stubborn = Throttled("resuming", now, rate_limited=10**6, refusals_per_page=1, unavailable=0, retry_after_s=0.01)
    retry = RetryPolicy(rate_limited_attempts=1)
    worker = start_processor(env.env, tmp_path / "worker.log")
    try:
        first = await sync_once(env.settings, stubborn, retry=retry, clock=lambda: now, participants=[participant_id])
        assert set(first.failures) == {(participant_id, m) for m in METRICS}
        assert all(problem.startswith("rate_limited: HTTP 429") for problem in first.failures.values())
        saved = {metric: c for (_, metric), c in (await saved_cursors(database, "resuming")).items()}
        assert all(c.status == "rate_limited" and c.page_token is not None for c in saved.values())
        assert all(c.fetched_through_ms is None and c.last_error == "HTTP 429" for c in saved.values())
        # The next run (a new process: new source, pool and publisher) starts each window at its saved page.
        polite = Wrapped("resuming", now)
        second = await sync_once(env.settings, polite, clock=lambda: now, participants=[participant_id])
        assert not second.failed, second.failures
        firsts = {metric: page for _, metric, page in polite.started_from[::1] if page is not None}
        assert firsts == {metric: c.page_token for metric, c in saved.items()}
        expected = expected_counts(simulator, ks, METRICS, [(0, now)])
        assert first.readings + second.readings == sum(expected.values())  # nothing fetched twice, nothing lost
        await wait_until_consumed(env.settings, env.settings.processor.group_id, METRICS)
        stored = await wait_for_counts(database, expected)
        assert {key: raw for key, (raw, _) in stored.items()} == expected
        done = (await saved_cursors(database, "resuming")).values()
        assert {(c.status, c.page_token, c.fetched_through_ms) for c in done} == {("ok", None, now)}
    finally:
        stop_processor(worker)


async def test_a_participant_not_authorised_or_gone_is_reported_while_the_others_sync(
    settings: Settings, database: str, tmp_path: Path
) -> None:
    env = isolated(settings, database)
    await ensure_topics(env.settings.kafka)
    simulator = CohortSimulator(seed=SEED, start=START)
    ks = steady_participants(simulator, 4, first_k=60)
    await enrol(database, simulator, ks, START)
    revoked, expired, gone, fine = (simulator.traits(k).participant_id for k in ks)
    now = simulator_start_ms(simulator) + 2 * DAY_MS
    source = Refusing("refusing", now, revoked=revoked, expired=expired, gone_hr=gone)
    worker = start_processor(env.env, tmp_path / "worker.log")
    try:
        report = await sync_once(env.settings, source, clock=lambda: now, participants=[revoked, expired, gone, fine])
        assert report.participants == 4
        assert report.failures == {
            (revoked, "heart_rate"): "not_authorised: refresh token revoked by the user (HTTP 400 invalid_grant)",
            (revoked, "steps"): "not_authorised: refresh token revoked by the user (HTTP 400 invalid_grant)",
            (expired, "heart_rate"): "not_authorised: grant expired beyond refresh",
            (expired, "steps"): "not_authorised: grant expired beyond refresh",
            (gone, "heart_rate"): "gone: HTTP 410: heart rate is no longer served",
        }
        assert report.cursors_ok == 3  # the gone participant's steps, the fine participant's two metrics
        expected = expected_counts(simulator, ks[2:], METRICS, [(0, now)])
        del expected[(gone, "heart_rate")]
        stored = await wait_for_counts(database, expected)
        assert {key: raw for key, (raw, _) in stored.items()} == expected  # nothing for the refused ones
        connection = await asyncpg.connect(database)
        try:
            status = dict(
                await connection.fetch(
                    "SELECT participant_id, authorisation FROM participants WHERE participant_id = ANY($1)",
                    [revoked, expired, gone, fine],
                )
            )
            audit = await connection.fetchval(
                "SELECT actor FROM participant_audit WHERE participant_id = $1 ORDER BY id DESC LIMIT 1", revoked
            )
        finally:
            await connection.close()
        assert status == {revoked: "revoked", expired: "expired", gone: "authorised", fine: "authorised"}
        assert audit == "sources runner (refusing)"
        saved = await saved_cursors(database, "refusing")
        assert saved[(revoked, "steps")].status == "not_authorised"
        assert saved[(gone, "heart_rate")].status == "gone"
        assert saved[(gone, "heart_rate")].last_error_at_ms is not None
        assert saved[(fine, "heart_rate")].status == "ok"
        # The next pass leaves the de-authorised participants out until the study authorises them again.
        again = await sync_once(env.settings, source, clock=lambda: now, participants=[revoked, expired, gone, fine])
        assert again.participants == 2
        assert set(again.failures) == {(gone, "heart_rate"), (revoked, "*"), (expired, "*")}
        assert again.failures[(revoked, "*")] == "skipped: no participant record with authorisation 'authorised'"
    finally:
        stop_processor(worker)
