"""The idempotent sink: one database transaction per group of batches.

Raw segments, rollups (1 min, 1 h, local 1 day), uploads, participant state and gaps are written together;
the record of what was applied (`applied.py`) is written with them, so a redelivered batch changes nothing.
For one participant × metric × timestamp the latest upload wins: a batch that intersects stored readings of
its participant × metric is resolved by `corrections.py` (its local days recomputed from the winners); the
others, nearly all of them, take the fast path of additive rollup merges.
The caller acknowledges the Kafka messages only after `apply` returned (the transaction committed).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Final

import asyncpg
import numpy as np
import numpy.typing as npt

from schemas.device_daily import DeviceDaily
from schemas.events import AlertEvent, GapEvent, LiveUpdate
from schemas.metrics import METRICS
from schemas.participants import Participant
from stream_processors import corrections, gap_store, nightly, outbox, summaries
from stream_processors.applied import claim_raw
from stream_processors.compaction import CompactionReport, compact
from stream_processors.device_daily_store import upsert_device_daily
from stream_processors.gaps import NOT_SYNCED, NOT_WORN
from stream_processors.live import count_in, live_updates
from stream_processors.participant_records import materialise
from stream_processors.retention import apply_retention
from stream_processors.rollup_store import UPSERT_1D, UPSERT_1H, UPSERT_1M, RollupRows
from stream_processors.rollups import HOUR_MS, MINUTE_MS, aggregate, fixed_buckets, local_day_buckets
from stream_processors.segments import Readings, Segment, pack_many
from stream_processors.state_store import store_uploads_and_state
from stream_processors.store import Applied as Applied
from stream_processors.store import ParticipantInfo
from stream_processors.validate import ValidBatch

if TYPE_CHECKING:
    from stream_processors.store import StageEvents

WEAR_SIGNAL: Final = next(metric for metric in METRICS.values() if metric.gap_threshold_s is not None)
"""The registry's wear signal: the metric with a `not_worn` threshold (no heart rate ⇒ not worn)."""
WEAR_GAP_MS: Final = (WEAR_SIGNAL.gap_threshold_s or 0) * 1000


class Sink:
    def __init__(self, pool: asyncpg.Pool, *, not_synced_after_s: int) -> None:
        self.pool = pool
        self.not_synced_ms = not_synced_after_s * 1000
        self._participants: dict[str, ParticipantInfo] = {}
        self._loaded_at = 0.0

    async def participants(self, *, max_age_s: float = 30.0) -> dict[str, ParticipantInfo]:
        """Time zones and enrolment starts (local midnight, ms) of known participants, cached briefly."""
        if time.monotonic() - self._loaded_at > max_age_s:
            rows = await self.pool.fetch(
                "SELECT participant_id, timezone,"
                " ts_to_ms(enrolled_on::timestamp AT TIME ZONE timezone) AS enrolment_ms FROM participants"
            )
            self._participants = {r["participant_id"]: ParticipantInfo(r["timezone"], r["enrolment_ms"]) for r in rows}
            self._loaded_at = time.monotonic()
        return self._participants

    def forget_participants(self) -> None:
        self._loaded_at = 0.0

    async def apply(
        self, group: Sequence[ValidBatch], *, stage_events: StageEvents | None = None, live_since_ms: int | None = None
    ) -> Applied:
        """Stores a group of validated batches in one transaction; safe to call again with the same batches.
        `stage_events` runs in the same transaction (the events commit with the data); live updates only for
        participants with minutes from `live_since_ms` on (all: None)."""
        unique = list({b.batch.batch_id: b for b in group}.values())
        applied = Applied(duplicates=len(group) - len(unique))
        if not unique:
            return applied
        changes: list[nightly.AlertChange] = []
        async with self.pool.acquire() as connection, connection.transaction():
            segments = _segments(unique)
            await gap_store.lock_participants(connection, [b.batch.participant_id for b in unique])
            # Read under the lock: a time-zone change (which recomputes the day rollups) is never half-seen.
            timezones: dict[str, str] = {
                r["participant_id"]: r["timezone"]
                for r in await connection.fetch(
                    "SELECT participant_id, timezone FROM participants WHERE participant_id = ANY($1::text[])",
                    sorted({b.batch.participant_id for b in unique}),
                )
            }
            claimed = await claim_raw(connection, segments, {b.batch.batch_id: b.batch.sync_time for b in unique})
            overlaps = await corrections.overlapping(connection, [s for s in segments if s.batch_id in claimed])
            fresh = [b for b in unique if b.batch.batch_id in claimed]
            applied.duplicates += len(unique) - len(fresh)
            applied.batches = len(fresh)
            applied.readings = sum(len(b.timestamps) for b in fresh)
            by_metric: dict[str, list[ValidBatch]] = defaultdict(list)
            for b in fresh:
                by_metric[b.metric.name].append(b)
            superseded: dict[tuple[str, int], int] = {}
            wear_windows: list[tuple[str, int, int]] = []
            for metric_batches in by_metric.values():
                wear_windows += await self._store_metric(
                    connection, metric_batches, timezones, overlaps, superseded, applied, live_since_ms
                )
            if fresh:
                earliest = nightly.earliest_night_readings(fresh)
                before = await nightly.last_readings(connection, sorted(earliest)) if earliest else {}
                upload_windows, participants = await store_uploads_and_state(connection, fresh, superseded)
                applied.gap_events += await self._gaps(connection, wear_windows, upload_windows, participants)
                await summaries.update(connection, fresh, timezones)
                if earliest:
                    device_timezones = {b.batch.participant_id: b.batch.timezone for b in fresh if b.batch.timezone}
                    zones = {p: timezones.get(p) or device_timezones.get(p) or "UTC" for p in earliest}
                    changes = await nightly.update_touched(connection, earliest, before, zones)
                    event_ms = int(time.time() * 1000)
                    applied.alerts = [nightly.alert_event(c, event_ms) for c in changes]
            if stage_events is not None:
                applied.gap_events, applied.live, applied.alerts = await stage_events(
                    connection, applied.gap_events, applied.live, applied.alerts
                )
        nightly.record_changes(changes)
        return applied

    async def _store_metric(
        self,
        connection: asyncpg.Connection,
        batches: list[ValidBatch],
        timezones: dict[str, str],
        overlaps: set[tuple[str, int]],
        superseded: dict[tuple[str, int], int],
        applied: Applied,
        live_since_ms: int | None,
    ) -> list[tuple[str, int, int]]:
        """Stores one metric's batches: raw (claimed already), minute, hour and local-day rollups, corrections
        where they overlap stored readings; returns the windows of new wear-signal data (for `not_worn`)."""
        metric = batches[0].metric
        metric_id = batches[0].metric_id
        stages = metric.aggregate == "stage"
        per_participant = _by_participant(batches)

        # The zone of a participant's local days is the study's record; the device's only for participants the
        # study does not know (yet).
        device_timezones = {b.batch.participant_id: b.batch.timezone for b in batches if b.batch.timezone}
        minute_rows, hour_rows, day_rows = RollupRows(), RollupRows(), RollupRows()
        readings: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]] = {}
        corrected: list[asyncpg.Record] = []
        gap_windows: list[tuple[str, int, int]] = []
        for pid, own in per_participant.items():
            readings[pid] = ts, values = _in_time_order(own)
            if (pid, metric_id) in overlaps:
                resolved = await corrections.resolve(
                    connection,
                    participant_id=pid,
                    metric=metric,
                    metric_id=metric_id,
                    timestamps=ts,
                    timezone=timezones.get(pid) or device_timezones.get(pid) or "UTC",
                )
                corrected.extend(resolved.minutes)
                gap_windows.extend(resolved.windows)
                superseded[(pid, metric_id)] = resolved.superseded
                applied.superseded += resolved.superseded
                continue
            minute_rows.add(pid, aggregate(fixed_buckets(ts, MINUTE_MS), ts, values, stages=stages))
            gap_windows.append((pid, int(ts[0] // MINUTE_MS * MINUTE_MS), int(ts[-1] // MINUTE_MS * MINUTE_MS)))
        upserted = await minute_rows.upsert(connection, UPSERT_1M, metric_id, stages=stages)

        new_minutes = _inserted_minutes(upserted)
        for pid, (ts, values) in readings.items():
            if (pid, metric_id) in overlaps:
                continue
            minutes = np.asarray(sorted(new_minutes.get(pid, [])), dtype=np.int64)
            timezone = timezones.get(pid) or device_timezones.get(pid) or "UTC"
            hours = aggregate(fixed_buckets(ts, HOUR_MS), ts, values, stages=stages)
            hour_rows.add(pid, hours, count_in(hours.bucket_ms, fixed_buckets(minutes, HOUR_MS)))
            days = aggregate(local_day_buckets(ts, timezone), ts, values, stages=stages)
            day_rows.add(pid, days, count_in(days.bucket_ms, local_day_buckets(minutes, timezone)))
        await hour_rows.upsert(connection, UPSERT_1H, metric_id, stages=stages)
        await day_rows.upsert(connection, UPSERT_1D, metric_id, stages=stages)

        applied.live.extend(live_updates(metric, [*upserted, *corrected], readings, live_since_ms))
        return gap_windows if metric.gap_threshold_s is not None else []

    async def _gaps(
        self,
        connection: asyncpg.Connection,
        wear_windows: list[tuple[str, int, int]],
        upload_windows: list[tuple[str, int, int]],
        participants: list[str],
    ) -> list[GapEvent]:
        """The gap step: `not_worn` around new wear-signal data, `not_synced` around new uploads, then each
        touched participant's open edges."""
        events = await gap_store.recompute(connection, NOT_WORN, wear_windows, WEAR_GAP_MS)
        events += await gap_store.recompute(connection, NOT_SYNCED, upload_windows, self.not_synced_ms)
        return events + await gap_store.recompute_edges(connection, participants, WEAR_GAP_MS)

    async def check_not_synced(self, now_ms: int, *, stage_events: StageEvents | None = None) -> list[GapEvent]:
        """Opens `not_synced` gaps for participants silent for the threshold at `now_ms` (the timer's job)."""
        async with self.pool.acquire() as connection, connection.transaction():
            events = await gap_store.open_not_synced(connection, now_ms, self.not_synced_ms)
            if stage_events is not None:
                events, _, _ = await stage_events(connection, events, [], [])
            return events

    async def upsert_participants(self, participants: Sequence[Participant]) -> None:
        """Materialises participant records from the participants topic (`participant_records.materialise`)."""
        await materialise(self.pool, participants)
        self.forget_participants()

    async def store_group(self, group: Sequence[ValidBatch], *, live_since_ms: int) -> Applied:
        """`apply` with the events written to the outbox in the transaction. Live feeds show what is happening
        now: live updates whose last minute is before `live_since_ms` (backfilled history) are not staged."""

        async def stage(
            connection: asyncpg.Connection, gap_events: list[GapEvent], live: list[LiveUpdate], alerts: list[AlertEvent]
        ) -> tuple[list[GapEvent], list[LiveUpdate], list[AlertEvent]]:
            recent = [u for u in live if u.minutes and u.minutes[-1].bucket_ms >= live_since_ms]
            return await outbox.stage(connection, gap_events, recent, alerts)

        return await self.apply(group, stage_events=stage, live_since_ms=live_since_ms)

    async def open_not_synced(self, now_ms: int) -> list[GapEvent]:
        """`check_not_synced` with the events written to the outbox in the transaction."""
        return await self.check_not_synced(now_ms, stage_events=outbox.stage)

    async def upsert_device_daily(self, messages: Sequence[DeviceDaily]) -> int:
        return await upsert_device_daily(self.pool, messages)

    async def drain_outbox(
        self,
        *,
        gap: Callable[[GapEvent], Awaitable[None]],
        live: Callable[[LiveUpdate], Awaitable[None]],
        flush: Callable[[], Awaitable[None]],
        alert: Callable[[AlertEvent], Awaitable[None]] | None,
    ) -> int:
        return await outbox.drain(self.pool, gap=gap, live=live, flush=flush, alert=alert)

    async def delete_published(self, event_ids: Sequence[str]) -> None:
        await outbox.delete(self.pool, event_ids)

    async def compact(self, *, settle_s: int) -> CompactionReport:
        return await compact(self.pool, settle_s=settle_s)

    async def apply_retention(self, retention_days: Mapping[str, int | None]) -> dict[str, int]:
        async with self.pool.acquire() as connection:
            return await apply_retention(connection, retention_days)


def _in_time_order(batches: Sequence[ValidBatch]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """One participant's readings of one metric from several batches, in time order (stable)."""
    ts = np.concatenate([b.timestamps for b in batches])
    values = np.concatenate([b.values for b in batches])
    order = np.argsort(ts, kind="stable")
    return ts[order], values[order]


def _by_participant(batches: Sequence[ValidBatch]) -> dict[str, list[ValidBatch]]:
    grouped: dict[str, list[ValidBatch]] = defaultdict(list)
    for b in batches:
        grouped[b.batch.participant_id].append(b)
    return grouped


def _inserted_minutes(upserted: Sequence[asyncpg.Record]) -> dict[str, list[int]]:
    """Per participant, the minute buckets the upsert created (not merged into)."""
    created: dict[str, list[int]] = defaultdict(list)
    for row in upserted:
        if row["inserted"]:
            created[row["participant_id"]].append(row["bucket_ms"])
    return created


def _segments(batches: Sequence[ValidBatch]) -> list[Segment]:
    """The batches' raw readings as the store's per-hour delta-encoded segments."""
    return pack_many(
        [
            Readings(
                participant_id=b.batch.participant_id,
                metric_id=b.metric_id,
                batch_id=b.batch.batch_id,
                scale=b.metric.scale,
                timestamps=b.timestamps,
                values=b.values,
                extra=[b.extra[c] for c in b.metric.extra_columns],
            )
            for b in batches
        ]
    )
