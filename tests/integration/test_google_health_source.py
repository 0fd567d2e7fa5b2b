"""The Google Health connector against the contract server and the real TimescaleDB: paging, rate limits,
retries, error mapping, refresh before expiry, revocation, late uploads."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from producers.simulator import CohortSimulator
from producers.sources.base import Gone, NotAuthorised, SourceError, Unavailable, Window
from producers.sources.google_health.tokens import SOURCE
from schemas.readings import ReadingBatch
from tests.contract.google_health.state import ContractState
from tests.integration.google_health import fast_policy, fetch_all, harness, readings_of

START = dt.date(2026, 9, 1)
DAY_MS = 86_400_000
START_MS = int(dt.datetime(2026, 9, 1, tzinfo=dt.UTC).timestamp() * 1000)
SIMULATOR = CohortSimulator(seed=11, start=START)


def day_batches(k: int, days: int, metrics: set[str]) -> list[ReadingBatch]:
    return [b for day in range(days) for b in SIMULATOR.simulate_day(k, day).batches if b.metric in metrics]


WINDOW = Window(START_MS - DAY_MS, START_MS + 4 * DAY_MS)


async def test_paging_across_10000_point_pages_gives_every_point_once(database: str) -> None:
    batches = day_batches(1, 2, {"heart_rate"})
    async with harness(database) as h:
        assert await h.participant("P0001", "p0001@example.com", batches) > 25_000
        await h.consent("P0001", "p0001@example.com")
        pages = await fetch_all(h.source(), "P0001", "heart_rate", WINDOW)
    got = readings_of(b for p in pages for b in p.batches)
    assert got == readings_of(batches)
    assert len({t for t, _ in got}) == len(got)  # every point once
    assert len(pages) == -(-len(got) // 10_000) >= 3
    assert [len(p.batches[0]) for p in pages[:-1]] == [10_000] * (len(pages) - 1)
    assert pages[-1].next_page is None
    assert all(p.next_page for p in pages[:-1])
    assert pages[0].last_sync_ms == max(b.sync_time for b in batches)
    assert all(b.sync_time == pages[0].last_sync_ms for p in pages for b in p.batches)


async def test_resuming_from_a_page_token_gives_the_rest(database: str) -> None:
    batches = day_batches(2, 1, {"heart_rate"})
    async with harness(database) as h:
        await h.participant("P0002", "p0002@example.com", batches)
        await h.consent("P0002", "p0002@example.com")
        source = h.source()
        first = await anext(aiter(source.fetch("P0002", "heart_rate", WINDOW)))
        assert first.next_page is not None
        rest = [p async for p in source.fetch("P0002", "heart_rate", WINDOW, first.next_page)]
    assert readings_of(b for p in [first, *rest] for b in p.batches) == readings_of(batches)


async def test_a_429_storm_slows_the_client_and_loses_nothing(database: str) -> None:
    metrics = {"steps", "spo2", "hrv_rmssd", "breathing_rate", "sleep_stage", "active_zone_minutes"}
    batches = day_batches(3, 2, metrics)
    async with harness(database) as h:
        await h.participant("P0003", "p0003@example.com", batches)
        await h.consent("P0003", "p0003@example.com")
        h.state.inject(429, 3, retry_after_s=1, path_contains="/dataPoints")
        policy = fast_policy()
        source = h.source(policy)
        began = time.monotonic()
        fetched = {m: await fetch_all(source, "P0003", m, WINDOW) for m in sorted(metrics)}
        elapsed = time.monotonic() - began
        statuses = h.state.statuses("/dataPoints")
    assert statuses.count(429) == 3
    assert policy.waited_s >= 3
    assert elapsed >= 3
    for metric in metrics:
        expected = readings_of(b for b in batches if b.metric == metric)
        assert readings_of(b for p in fetched[metric] for b in p.batches) == expected, metric


async def test_the_per_user_limit_answers_429_with_retry_after_and_the_client_waits(database: str) -> None:
    batches = day_batches(4, 1, {"heart_rate"})
    state = ContractState(rate_limit=3, rate_window_s=2.0)
    async with harness(database, state) as h:
        await h.participant("P0004", "p0004@example.com", batches)
        await h.consent("P0004", "p0004@example.com")
        policy = fast_policy()
        pages = await fetch_all(h.source(policy), "P0004", "heart_rate", WINDOW)
        statuses = h.state.statuses("/v4/")
    assert 429 in statuses
    assert statuses.count(200) == len(pages) + 1  # + the paired-devices call
    assert policy.waited_s >= 1
    assert readings_of(b for p in pages for b in p.batches) == readings_of(batches)


async def test_5xx_is_retried_then_unavailable(database: str) -> None:
    batches = day_batches(5, 1, {"steps"})
    async with harness(database) as h:
        await h.participant("P0005", "p0005@example.com", batches)
        await h.consent("P0005", "p0005@example.com")
        h.state.inject(503, 2, path_contains="/dataPoints")
        pages = await fetch_all(h.source(), "P0005", "steps", WINDOW)
        assert readings_of(b for p in pages for b in p.batches) == readings_of(batches)
        h.state.inject(500, 50, path_contains="/dataPoints")
        with pytest.raises(Unavailable, match="HTTP 500 after 4 tries"):
            await fetch_all(h.source(fast_policy(max_attempts=4)), "P0005", "steps", WINDOW)
        assert h.state.statuses("/dataPoints").count(500) == 4


async def test_403_is_not_authorised_and_410_is_gone(database: str) -> None:
    async with harness(database) as h:
        await h.participant("P0006", "p0006@example.com", day_batches(6, 1, {"steps"}))
        await h.consent("P0006", "p0006@example.com")
        h.state.inject(403, 1, path_contains="/dataPoints")
        with pytest.raises(NotAuthorised, match="permission denied") as denied:
            await fetch_all(h.source(), "P0006", "steps", WINDOW)
        assert denied.value.participant_id == "P0006"
        with pytest.raises(SourceError, match="14 days at most"):
            await fetch_all(h.source(), "P0006", "heart_rate", Window(0, 15 * DAY_MS))
        h.state.gone.add("steps")
        with pytest.raises(Gone, match="gone"):
            await fetch_all(h.source(), "P0006", "steps", WINDOW)


async def test_an_access_token_is_refreshed_before_it_expires(database: str) -> None:
    state = ContractState(access_ttl_s=600)
    async with harness(database, state) as h:
        await h.participant("P0008", "p0008@example.com", day_batches(8, 1, {"steps"}))
        await h.consent("P0008", "p0008@example.com")
        source = h.source()
        first = await source.access_token("P0008")
        assert await source.access_token("P0008") == first  # 600 s left, margin 300 s: no refresh
        sealed_before = await h.pool.fetchval("SELECT sealed_tokens FROM source_grants WHERE participant_id = 'P0008'")
        h.state.clock.advance(400_000)  # 200 s left: inside the margin
        await source.authorise("P0008")
        second = await source.access_token("P0008")
        row = await h.pool.fetchrow(
            "SELECT sealed_tokens, refreshed_at FROM source_grants WHERE participant_id = 'P0008'"
        )
        assert h.state.statuses("/token").count(200) == 2  # the exchange, then one refresh
        pages = await fetch_all(source, "P0008", "steps", WINDOW)
        assert not any(s == 401 for s in h.state.statuses("/v4/"))
    assert second != first
    assert row["refreshed_at"] is not None
    assert row["sealed_tokens"] != sealed_before
    assert sum(len(b) for p in pages for b in p.batches) > 0


async def test_a_revoked_grant_sets_the_participant_revoked(database: str) -> None:
    async with harness(database) as h:
        await h.participant("P0009", "p0009@example.com", day_batches(9, 1, {"steps"}))
        await h.consent("P0009", "p0009@example.com")
        assert (
            await h.pool.fetchval("SELECT authorisation FROM participants WHERE participant_id = 'P0009'")
            == "authorised"
        )
        h.state.revoke_account("p0009@example.com")
        with pytest.raises(NotAuthorised, match="revoked"):
            await fetch_all(h.source(), "P0009", "steps", WINDOW)
        assert 401 in h.state.statuses("/v4/")
        assert h.state.statuses("/token")[-1] == 400  # the refresh, refused
        record = await h.pool.fetchrow(
            "SELECT p.authorisation, g.status, g.revoked_at FROM participants p"
            " JOIN source_grants g USING (participant_id)"
            " WHERE participant_id = 'P0009' AND g.source = $1",
            SOURCE,
        )
        audit = await h.pool.fetch(
            "SELECT actor FROM participant_audit WHERE participant_id = 'P0009' ORDER BY changed_at"
        )
        with pytest.raises(NotAuthorised, match="revoked"):
            await h.source().authorise("P0009")
    assert record["authorisation"] == "revoked"
    assert record["status"] == "revoked"
    assert record["revoked_at"] is not None
    assert [a["actor"] for a in audit][-1] == "source google_health"


async def test_late_uploads_appear_in_a_later_fetch_of_the_same_window(database: str) -> None:
    batches = day_batches(10, 2, {"heart_rate", "steps"})
    syncs = sorted({b.sync_time for b in batches})
    cut = syncs[len(syncs) // 2]
    async with harness(database) as h:
        await h.participant("P0010", "p0010@example.com", batches)
        await h.consent("P0010", "p0010@example.com")
        h.state.clock.offset_ms = cut - int(time.time() * 1000)  # the service's "now": half the uploads made
        early = await fetch_all(h.source(), "P0010", "steps", WINDOW)
        h.state.clock.offset_ms = 0
        later = await fetch_all(h.source(), "P0010", "steps", WINDOW)
    steps = [b for b in batches if b.metric == "steps"]
    assert readings_of(b for p in early for b in p.batches) == readings_of(b for b in steps if b.sync_time <= cut)
    assert early[0].last_sync_ms == max(b.sync_time for b in batches if b.sync_time <= cut)
    assert readings_of(b for p in later for b in p.batches) == readings_of(steps)


async def test_a_401_mid_fetch_refreshes_once_and_goes_on(database: str) -> None:
    batches = day_batches(12, 1, {"steps"})
    async with harness(database) as h:
        await h.participant("P0012", "p0012@example.com", batches)
        await h.consent("P0012", "p0012@example.com")
        for access in h.state.access.values():
            access.expires_ms = 0  # the service ended the token early; our record still says it is valid
        pages = await fetch_all(h.source(), "P0012", "steps", WINDOW)
        statuses = h.state.statuses("/v4/")
        refreshes = h.state.statuses("/token")
    assert statuses[:2] == [401, 200]
    assert 401 not in statuses[1:]
    assert refreshes == [200, 200]  # the exchange, then one refresh
    assert readings_of(b for p in pages for b in p.batches) == readings_of(batches)
