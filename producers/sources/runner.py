"""The sources runner: pulls every due participant × metric of a source, incrementally, and publishes it.

Per participant: `authorise`, then per metric the windows from the cursor: backfill from enrolment on the first
run; afterwards from the cursor minus the metric's lookback, so late device syncs are re-read (the processor
stores by content, latest upload wins, so re-read readings change nothing); a window that a run left between
pages resumes at its saved page. Each page is published and acknowledged by Kafka before its cursor moves. A
participant's failure is recorded on their cursors and never stops the pass: `NotAuthorised` marks the
participant's authorisation `revoked` (`expired` when the source's reason says so) and skips their other
metrics; `Gone` ends that metric; anything else is recorded as an error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import asyncpg

from producers.sources import cursors
from producers.sources import metric_defs as m
from producers.sources.base import (
    Gone,
    MetricSpec,
    NotAuthorised,
    RateLimited,
    Source,
    SourceError,
    Unavailable,
    Window,
)
from producers.sources.cursors import Cursor, Status
from producers.sources.limits import RateLimits, RetryPolicy
from producers.sources.pull import Publisher, Pull, Sleep, Tally, WindowPuller, now_ms
from producers.sources.windows import enrolment_ms, pull_windows, split_windows
from schemas.participants import Authorisation
from stream_processors import participant_records as records

log = logging.getLogger("wearstream.sources")


@dataclass(frozen=True, slots=True)
class Enrolled:
    """A participant the runner pulls for: from local midnight of the enrolment date."""

    participant_id: str
    enrolled_ms: int
    timezone: str


@dataclass
class SyncReport(Tally):
    source: str = ""
    participants: int = 0
    cursors_ok: int = 0

    @property
    def failed(self) -> bool:
        return bool(self.failures)


@dataclass
class SourcesRunner:
    """Runs passes of one source; safe to run again at any time (it resumes from the saved cursors)."""

    source: Source
    pool: asyncpg.Pool
    publisher: Publisher
    limits: RateLimits = field(default_factory=RateLimits)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Callable[[], int] = now_ms
    """Epoch milliseconds now: windows end here."""
    sleep: Sleep = asyncio.sleep
    concurrency: int = 4
    """Participants pulled at once (requests stay within the rate limits whatever this is)."""
    on_page: Callable[[str, str, int], None] | None = None
    """Called with (participant, metric, readings) after each acknowledged page."""
    on_cursor: Callable[[str, str, Status], None] | None = None
    """Called with (participant, metric, status) when a cursor's pull of this pass has ended."""

    async def sync(self, participants: Sequence[Enrolled]) -> SyncReport:
        """One pass over `participants`; every failure is in the report, none is raised."""
        report = SyncReport(source=self.source.name, participants=len(participants))
        puller = WindowPuller(
            self.source, self.pool, self.publisher, self.limits, self.retry, report, self.sleep, self.on_page
        )
        gate = asyncio.Semaphore(self.concurrency)

        async def one(participant: Enrolled) -> None:
            async with gate:
                try:
                    await self._participant(puller, participant, report)
                except Exception as error:  # the cursors could not be read: the database is away
                    log.exception("%s: %s skipped", self.source.name, participant.participant_id)
                    report.failures[(participant.participant_id, "*")] = f"error: {type(error).__name__}: {error}"

        with m.PASS_SECONDS.labels(self.source.name).time():
            await asyncio.gather(*(one(p) for p in participants))
        m.LAST_PASS.labels(self.source.name).set(self.clock() / 1000)
        m.FAILED_CURSORS.labels(self.source.name).set(len(report.failures))
        return report

    async def _participant(self, puller: WindowPuller, participant: Enrolled, report: SyncReport) -> None:
        saved = await cursors.load(self.pool, self.source.name, participant.participant_id)
        specs = list(self.source.metrics())
        started = self.clock()
        pulls = [
            Pull(saved.get(s.metric) or Cursor(self.source.name, participant.participant_id, s.metric)) for s in specs
        ]
        try:
            await self.limits.acquire(participant.participant_id)
            await self.source.authorise(participant.participant_id)
            for spec, pull in zip(specs, pulls, strict=True):
                pull.cursor = pull.cursor.with_(last_run_start_ms=started)
                await self._metric(puller, participant, spec, pull, report)
        except NotAuthorised as error:
            for pull in pulls:
                await self._failed(pull.cursor.with_(last_run_start_ms=started), "not_authorised", error, report)
            await self._deauthorise(participant.participant_id, error)
        except Exception as error:  # authorise failed otherwise: every metric waits for the next pass
            log.warning("%s: %s authorise failed: %r", self.source.name, participant.participant_id, error)
            for pull in pulls:
                await self._failed(pull.cursor.with_(last_run_start_ms=started), _status(error), error, report)

    async def _metric(
        self, puller: WindowPuller, participant: Enrolled, spec: MetricSpec, pull: Pull, report: SyncReport
    ) -> None:
        """Pulls one metric to now; records its outcome. Re-raises NotAuthorised for the participant's handler."""
        try:
            saved = pull.cursor
            if saved.page_token is not None and saved.window_start_ms is not None and saved.window_end_ms is not None:
                # An interrupted window first, from the page after its last acknowledged one; then on from its
                # end (the run it belongs to re-read the lookback already).
                await puller.pull(pull, Window(saved.window_start_ms, saved.window_end_ms), saved.page_token)
                windows = split_windows(saved.window_end_ms, self.clock(), spec.max_window_ms)
            else:
                windows = pull_windows(
                    spec,
                    enrolled_ms=participant.enrolled_ms,
                    fetched_through_ms=saved.fetched_through_ms,
                    now_ms=self.clock(),
                )
            for window in windows:
                await puller.pull(pull, window, None)
        except NotAuthorised:
            raise
        except Exception as error:
            if not isinstance(error, SourceError):
                log.exception("%s: %s %s failed", self.source.name, participant.participant_id, spec.metric)
            await self._failed(pull.cursor, _status(error), error, report)
            return
        ended = self.clock()
        pull.cursor = pull.cursor.with_(status="ok", last_run_end_ms=ended, last_success_ms=ended)
        await cursors.save(self.pool, pull.cursor)
        report.cursors_ok += 1
        m.CURSOR_RESULTS.labels(self.source.name, "ok").inc()
        if self.on_cursor is not None:
            self.on_cursor(participant.participant_id, spec.metric, "ok")

    async def _failed(self, cursor: Cursor, status: Status, error: BaseException, report: SyncReport) -> None:
        reason = error.reason if isinstance(error, SourceError) else f"{type(error).__name__}: {error}"
        ended = self.clock()
        cursor = cursor.with_(status=status, last_error=reason, last_error_at_ms=ended, last_run_end_ms=ended)
        try:
            await cursors.save(self.pool, cursor)
        except Exception:  # the database is away: the report still says it, the next pass records it
            log.exception("%s: could not record %s for %s", self.source.name, status, cursor.participant_id)
        report.failures[(cursor.participant_id, cursor.metric)] = f"{status}: {reason}"
        m.CURSOR_RESULTS.labels(self.source.name, status).inc()
        if self.on_cursor is not None:
            self.on_cursor(cursor.participant_id, cursor.metric, status)

    async def _deauthorise(self, participant_id: str, error: NotAuthorised) -> None:
        status: Authorisation = "expired" if "expire" in error.reason.lower() else "revoked"
        try:
            async with self.pool.acquire() as connection:
                change = records.ParticipantChange(authorisation=status)
                await records.update(connection, participant_id, change, actor=f"sources runner ({self.source.name})")
        except Exception:
            log.exception("%s: could not mark %s %s", self.source.name, participant_id, status)


def _status(error: BaseException) -> Status:
    if isinstance(error, RateLimited):
        return "rate_limited"
    if isinstance(error, Unavailable):
        return "unavailable"
    if isinstance(error, NotAuthorised):
        return "not_authorised"
    if isinstance(error, Gone):
        return "gone"
    return "error"


async def authorised_participants(pool: asyncpg.Pool, only: Sequence[str] | None = None) -> list[Enrolled]:
    """The participants whose authorisation is `authorised` (optionally only those listed), by id."""
    rows = await pool.fetch(
        "SELECT participant_id, enrolled_on, timezone FROM participants WHERE authorisation = 'authorised'"
        " AND ($1::text[] IS NULL OR participant_id = ANY($1)) ORDER BY participant_id",
        list(only) if only else None,
    )
    return [Enrolled(r["participant_id"], enrolment_ms(r["enrolled_on"], r["timezone"]), r["timezone"]) for r in rows]
