"""The runner's entry points: one pass (`sync_once`, for `wearstream sources sync --once` and cron) and the
scheduled loop (`run_scheduled`, for `wearstream sources run`). Both open the database pool and the Kafka
publisher, pull the participants whose authorisation is `authorised`, and close everything on the way out."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Final

import asyncpg

from core.settings import Settings
from core.topics import ensure_topics
from producers.publisher import BatchPublisher
from producers.sources import cursors
from producers.sources.base import Source
from producers.sources.choose import PoolBound
from producers.sources.cursors import Status
from producers.sources.limits import RateLimits, RetryPolicy
from producers.sources.pull import now_ms
from producers.sources.runner import Enrolled, SourcesRunner, SyncReport, authorised_participants
from producers.sources.schedule import Schedule, next_run
from stream_processors.db import create_pool

log = logging.getLogger("wearstream.sources")
IDLE_CHECK_S: Final = 60.0
"""The scheduled loop looks again at least this often (new participants, changed zones)."""


@asynccontextmanager
async def connected(
    settings: Settings, chosen: Source | PoolBound
) -> AsyncIterator[tuple[asyncpg.Pool, BatchPublisher, Source]]:
    """The pool, the started publisher and the source (opened on the pool when it needs one)."""
    await ensure_topics(settings.kafka)
    pool = await create_pool(settings.database.url, size=4)
    publisher = BatchPublisher(settings.kafka, client_id="wearstream-sources", source=chosen.name)
    try:
        await publisher.start()
        if isinstance(chosen, PoolBound):
            async with chosen.open(pool) as source:
                yield pool, publisher, source
        else:
            yield pool, publisher, chosen
    finally:
        try:
            await publisher.stop()
        finally:
            await pool.close()


async def sync_once(
    settings: Settings,
    chosen: Source | PoolBound,
    *,
    participants: Sequence[str] | None = None,
    limits: RateLimits | None = None,
    retry: RetryPolicy | None = None,
    clock: Callable[[], int] = now_ms,
    on_start: Callable[[list[Enrolled], Source], None] | None = None,
    on_page: Callable[[str, str, int], None] | None = None,
    on_cursor: Callable[[str, str, Status], None] | None = None,
) -> SyncReport:
    """One pass over the authorised participants (only `participants`, when given); failures are in the report,
    a listed participant without an authorised record among them."""
    async with connected(settings, chosen) as (pool, publisher, source):
        targets = await authorised_participants(pool, participants)
        if on_start is not None:
            on_start(targets, source)
        runner = SourcesRunner(
            source,
            pool,
            publisher,
            limits or RateLimits(),
            retry or RetryPolicy(),
            clock=clock,
            on_page=on_page,
            on_cursor=on_cursor,
        )
        report = await runner.sync(targets)
        for missing in sorted(set(participants or ()) - {t.participant_id for t in targets}):
            report.failures[(missing, "*")] = "skipped: no participant record with authorisation 'authorised'"
        return report


async def due_participants(
    pool: asyncpg.Pool, source: Source, schedule: Schedule, now: dt.datetime, only: Sequence[str] | None = None
) -> tuple[list[Enrolled], dt.datetime]:
    """The participants due now, and when the next one not due now will be (at most IDLE_CHECK_S away)."""
    targets = await authorised_participants(pool, only)
    last_starts: dict[str, int] = {}
    for cursor in await cursors.list_cursors(pool, source=source.name):
        if cursor.last_run_start_ms is not None:
            previous = last_starts.get(cursor.participant_id, cursor.last_run_start_ms)
            last_starts[cursor.participant_id] = min(previous, cursor.last_run_start_ms)
    due, wake = [], now + dt.timedelta(seconds=IDLE_CHECK_S)
    for target in targets:
        last = cursors.as_datetime(last_starts.get(target.participant_id))
        at = next_run(schedule, timezone=target.timezone, last_start=last, now=now)
        if at <= now:
            due.append(target)
        else:
            wake = min(wake, at)
    return due, wake


async def run_scheduled(
    settings: Settings,
    chosen: Source | PoolBound,
    schedule: Schedule,
    stop: asyncio.Event,
    *,
    participants: Sequence[str] | None = None,
    on_pass: Callable[[SyncReport], None] | None = None,
) -> None:
    """Pulls each participant when the schedule says, until `stop` is set; a pass's failures never end it."""
    limits = RateLimits()  # shared by every pass: the quotas are per minute, not per pass
    async with connected(settings, chosen) as (pool, publisher, source):
        runner = SourcesRunner(source, pool, publisher, limits, RetryPolicy())
        while not stop.is_set():
            now = dt.datetime.now(dt.UTC)
            try:
                due, wake = await due_participants(pool, source, schedule, now, participants)
                if due:
                    report = await runner.sync(due)
                    if on_pass is not None:
                        on_pass(report)
                    continue
            except Exception:  # the database or broker is away: try again after a while
                log.exception("%s: a scheduled pass failed; retrying in %s s", source.name, IDLE_CHECK_S)
                wake = now + dt.timedelta(seconds=IDLE_CHECK_S)
            wait_s = max(0.0, (wake - dt.datetime.now(dt.UTC)).total_seconds())
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait_s)
