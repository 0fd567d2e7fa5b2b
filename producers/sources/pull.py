"""One window of one metric, pulled page by page: each request takes a token from the rate limits, each page
is published and acknowledged by Kafka before the cursor records it, and transient errors are retried
(`RateLimited`: wait as asked; `Unavailable`: capped jittered backoff) from the last acknowledged page."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import asyncpg

from producers.sources import cursors
from producers.sources import metric_defs as m
from producers.sources.base import Page, RateLimited, Source, Unavailable, Window
from producers.sources.cursors import Cursor
from producers.sources.limits import RateLimits, RetryPolicy
from schemas.readings import ReadingBatch

Sleep = Callable[[float], Awaitable[None]]


class Publisher(Protocol):
    """What the runner needs of `producers.publisher.BatchPublisher`."""

    async def send(self, batch: ReadingBatch) -> None: ...

    async def flush(self) -> None: ...


@dataclass
class Tally:
    """What a pass did, added up over every cursor."""

    readings: int = 0
    pages: int = 0
    rate_limited_waits: int = 0
    waited_s: float = 0.0
    retries: int = 0
    failures: dict[tuple[str, str], str] = field(default_factory=dict)
    """(participant, metric) → "status: reason" of each cursor that did not complete."""


@dataclass
class Pull:
    """The cursor of one participant × metric as far as Kafka acknowledged it (saved after every page)."""

    cursor: Cursor


@dataclass
class WindowPuller:
    source: Source
    pool: asyncpg.Pool
    publisher: Publisher
    limits: RateLimits
    retry: RetryPolicy
    tally: Tally
    sleep: Sleep = asyncio.sleep
    on_page: Callable[[str, str, int], None] | None = None
    """Called with (participant, metric, readings) after each acknowledged page."""

    async def pull(self, pull: Pull, window: Window, token: str | None) -> None:
        """Fetches `window` from `token` to its end; raises the source's error once retries are exhausted."""
        participant_id = pull.cursor.participant_id
        rate_limited = unavailable = 0
        while True:
            try:
                async for page in self._pages(participant_id, pull.cursor.metric, window, token):
                    await self._acknowledged(pull, window, page)
                    token = page.next_page
                return
            except RateLimited as error:
                rate_limited += 1
                if rate_limited > self.retry.rate_limited_attempts:
                    raise
                wait_s = self.retry.default_retry_after_s if error.retry_after_s is None else error.retry_after_s
                self.tally.rate_limited_waits += 1
                self.tally.waited_s += wait_s
                m.RATE_LIMITED.labels(self.source.name).inc()
                await self.sleep(wait_s)
            except Unavailable:
                if unavailable >= self.retry.backoff.attempts:
                    raise
                self.tally.retries += 1
                m.RETRIES.labels(self.source.name).inc()
                await self.sleep(self.retry.backoff.delay_s(unavailable))
                unavailable += 1

    async def _pages(self, participant_id: str, metric: str, window: Window, token: str | None) -> AsyncIterator[Page]:
        pages = self.source.fetch(participant_id, metric, window, token).__aiter__()
        try:
            while True:
                await self.limits.acquire(participant_id)
                try:
                    page = await pages.__anext__()
                except StopAsyncIteration:
                    return
                m.REQUESTS.labels(self.source.name).inc()
                yield page
        finally:
            close = getattr(pages, "aclose", None)
            if close is not None:
                await close()

    async def _acknowledged(self, pull: Pull, window: Window, page: Page) -> None:
        """Publishes the page, waits for Kafka's acknowledgement, then moves and saves the cursor."""
        for batch in page.batches:
            await self.publisher.send(batch)
        await self.publisher.flush()
        readings = sum(len(b) for b in page.batches)
        cursor = pull.cursor
        if page.next_page is None:
            through = max(cursor.fetched_through_ms or window.end_ms, window.end_ms)
            cursor = cursor.with_(fetched_through_ms=through, window_start_ms=None, window_end_ms=None, page_token=None)
        else:
            cursor = cursor.with_(
                window_start_ms=window.start_ms, window_end_ms=window.end_ms, page_token=page.next_page
            )
        pull.cursor = cursor.with_(readings=cursor.readings + readings, status="partial")
        await cursors.save(self.pool, pull.cursor)
        self.tally.readings += readings
        self.tally.pages += 1
        m.PAGES.labels(self.source.name).inc()
        if self.on_page is not None:
            self.on_page(cursor.participant_id, cursor.metric, readings)


def now_ms() -> int:
    return int(time.time() * 1000)
