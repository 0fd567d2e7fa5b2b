"""The nightly step: nightly values from the stored 1-minute rollups, the detectors, and alert state changes.

`update_nights` runs inside the caller's transaction (the participant already locked): it recomputes the
nights `first … last` from `rollup_1m` with `resting_hr.night_inputs`, rebuilds each detector's tracker from
the stored nightly values before `first` (arithmetic on one row per night, never the minutes again), pushes
the recomputed nights, and stores `nightly_values`, `night_outcomes` and the alerts that changed — raised,
upgraded, downgraded or withdrawn — each change also appended to `alert_changes` and returned as an
`AlertChange` for publishing after the commit; `judge_nights` is its second half, for nights already computed.
Late data for a past night is handled by calling it with that night as `first`: every later night is judged
again, so its alerts may rise, change level or be withdrawn.

A night is complete once its 07:00 local has passed and the participant's data has reached it
(`complete_through`). The sink calls `update_touched` in every transaction that stored heart rate or steps:
it recomputes from the earliest night the new data touched (the local date of its earliest reading: every
minute of a date is in that night's hourly medians) or the earliest night that just became complete, through
the latest complete night, and skips participants whose range holds no complete night.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping, Sequence
from typing import Final, Literal

import asyncpg
import msgspec

from schemas.events import AlertEvent
from schemas.metrics import HEART_RATE, METRIC_IDS, STEPS
from stream_processors import night_store
from stream_processors.detectors import (
    CusumDetector,
    Detector,
    Level,
    NightInput,
    NightOutcome,
    NightSignalDetector,
)
from stream_processors.metric_defs import ALERT_CHANGES, NIGHT_UPDATES
from stream_processors.night_store import NightRange
from stream_processors.validate import ValidBatch

HR_ID: Final = METRIC_IDS[HEART_RATE.name]
STEPS_ID: Final = METRIC_IDS[STEPS.name]
NIGHT_METRICS: Final = frozenset({HEART_RATE.name, STEPS.name})
"""The metrics the nightly step reads: a batch of either may change a night."""
NIGHT_END: Final = dt.time(7, 0)
AlertState = Literal["raised", "upgraded", "downgraded", "withdrawn"]
_RANK: Final[dict[Level | None, int]] = {None: 0, "yellow": 1, "red": 2}


def earliest_night_readings(batches: Sequence[ValidBatch]) -> dict[str, int]:
    """Per participant, the earliest heart-rate or steps reading of the batches (epoch ms)."""
    earliest: dict[str, int] = {}
    for b in batches:
        if b.metric.name in NIGHT_METRICS and len(b.timestamps):
            first = int(b.timestamps.min())
            earliest[b.batch.participant_id] = min(first, earliest.get(b.batch.participant_id, first))
    return earliest


def default_detectors() -> dict[str, Detector]:
    """The detectors a study runs unless configured otherwise: NightSignal and CuSum, published defaults."""
    return {"nightsignal": NightSignalDetector(), "cusum": CusumDetector()}


class AlertChange(msgspec.Struct, frozen=True, kw_only=True):
    """An alert's new state (the `<prefix>.alerts` event); `level` is the alert's level, kept on withdrawal."""

    participant_id: str
    detector: str
    level: Level
    night: dt.date
    value: float | None
    baseline: float | None
    state: AlertState


def transition(old: Level | None, new: Level | None) -> tuple[AlertState, Level] | None:
    """The state change from an alert at `old` (None: none, or withdrawn) to a verdict of `new`, with the level
    the alert then has (a withdrawn alert keeps its last level); None when nothing changes."""
    if _RANK[new] == _RANK[old]:
        return None
    if old is None:
        assert new is not None
        return "raised", new
    if new is None:
        return "withdrawn", old
    return ("upgraded" if _RANK[new] > _RANK[old] else "downgraded"), new


def record_changes(changes: list[AlertChange]) -> None:
    """Counts committed changes in `wearstream_processor_alert_changes_total`; call after the commit."""
    for change in changes:
        ALERT_CHANGES.labels(change.detector, change.level, change.state).inc()


def complete_through(last_reading_ms: int, timezone: str) -> dt.date:
    """The latest night whose 07:00 local has passed by the participant's last reading."""
    local = dt.datetime.fromtimestamp(last_reading_ms / 1000, tz=zoneinfo.ZoneInfo(timezone))
    return local.date() if local.time() >= NIGHT_END else local.date() - dt.timedelta(days=1)


def touched_night(timestamp_ms: int, timezone: str) -> dt.date:
    """The earliest night a reading at `timestamp_ms` can change: its local date. Every minute of that date is
    in its hourly resting medians (CuSum's input), those just before midnight too; steps there also decide
    whether the next night's first minutes were resting, which the recomputation from this date covers."""
    return dt.datetime.fromtimestamp(timestamp_ms / 1000, tz=zoneinfo.ZoneInfo(timezone)).date()


async def last_readings(connection: asyncpg.Connection, participant_ids: list[str]) -> dict[str, int]:
    """How far each participant's night data has arrived (epoch ms): the earlier of the last heart-rate and
    the last steps reading (only heart rate for a participant without steps)."""
    rows = await connection.fetch(
        "SELECT participant_id, ts_to_ms(min(last_reading)) AS t FROM participant_metric_state"
        " WHERE participant_id = ANY($1::text[]) AND metric_id = ANY($2::int2[]) GROUP BY participant_id",
        participant_ids,
        [HR_ID, STEPS_ID],
    )
    return {r["participant_id"]: r["t"] for r in rows}


async def update_touched(
    connection: asyncpg.Connection,
    earliest_ms: Mapping[str, int],
    before: Mapping[str, int],
    timezones: Mapping[str, str],
    *,
    detectors: Mapping[str, Detector] | None = None,
) -> list[AlertChange]:
    """Updates the nights of participants whose new heart rate or steps (the earliest reading of each in
    `earliest_ms`) touched a complete night, or whose last reading (`before`: as it was before this
    transaction) moved past a night's 07:00; from that night through the latest complete one, all
    participants together (`update_ranges`)."""
    after = await last_readings(connection, sorted(earliest_ms))
    ranges: list[NightRange] = []
    for participant_id in sorted(earliest_ms):
        if participant_id not in after:
            continue
        zone = timezones[participant_id]
        first = touched_night(earliest_ms[participant_id], zone)
        if participant_id in before:
            first = min(first, complete_through(before[participant_id], zone) + dt.timedelta(days=1))
        last = complete_through(after[participant_id], zone)
        if first > last:
            NIGHT_UPDATES.labels("skipped").inc()
            continue
        NIGHT_UPDATES.labels("computed").inc()
        ranges.append(NightRange(participant_id, zone, first, last))
    return await update_ranges(connection, ranges, detectors=detectors)


async def update_nights(
    connection: asyncpg.Connection,
    participant_id: str,
    timezone: str,
    first: dt.date,
    last: dt.date,
    *,
    detectors: Mapping[str, Detector] | None = None,
) -> list[AlertChange]:
    """Recomputes nights `first … last` (inclusive) and every detector's verdicts from `first` on."""
    return await update_ranges(connection, [NightRange(participant_id, timezone, first, last)], detectors=detectors)


async def update_ranges(
    connection: asyncpg.Connection, ranges: Sequence[NightRange], *, detectors: Mapping[str, Detector] | None = None
) -> list[AlertChange]:
    """`update_nights` for several participants (one range each) in a few statements for them all."""
    ranges = [r for r in ranges if r.first <= r.last]
    if not ranges:
        return []
    nights = await night_store.recompute(connection, ranges)
    return await judge_ranges(
        connection, [(r.participant_id, r.first, r.last, nights[r.participant_id]) for r in ranges], detectors=detectors
    )


async def judge_nights(
    connection: asyncpg.Connection,
    participant_id: str,
    first: dt.date,
    last: dt.date,
    nights: list[NightInput],
    *,
    detectors: Mapping[str, Detector] | None = None,
) -> list[AlertChange]:
    """Stores `nights` as the nights `first … last` (those missing have no value) and runs every detector over
    them after the stored nights before `first`, storing the verdicts and alert changes from `first` on."""
    return await judge_ranges(connection, [(participant_id, first, last, nights)], detectors=detectors)


async def judge_ranges(
    connection: asyncpg.Connection,
    ranges: Sequence[tuple[str, dt.date, dt.date, list[NightInput]]],
    *,
    detectors: Mapping[str, Detector] | None = None,
) -> list[AlertChange]:
    """`judge_nights` for several participants (one range each), their statements shared."""
    chosen = dict(detectors or default_detectors())
    await night_store.store_values(connection, ranges)
    around = await night_store.stored_around(connection, [(pid, first, last) for pid, first, last, _ in ranges])
    verdicts: list[night_store.Verdicts] = []
    for participant_id, first, _, nights in ranges:
        earlier, later = around[participant_id]
        for name, detector in chosen.items():
            tracker = detector.tracker()
            for night in earlier:
                tracker.push(night)
            outcomes: dict[dt.date, NightOutcome] = {}
            for night in nights + later:
                for outcome in tracker.push(night):
                    outcomes[outcome.night] = outcome
            since = min([first, *outcomes])
            verdicts.append(night_store.Verdicts(participant_id, name, since, list(outcomes.values())))
    await night_store.store_outcomes(connection, verdicts)
    existing = await night_store.alert_levels(connection, verdicts)
    changes = [
        change
        for v in verdicts
        for change in _alert_changes(v.participant_id, v.detector, existing[v.participant_id, v.detector], v.outcomes)
    ]
    await _write_changes(connection, changes)
    return changes


def _alert_changes(
    participant_id: str, detector: str, existing: dict[dt.date, Level | None], outcomes: list[NightOutcome]
) -> list[AlertChange]:
    """The alert state changes from the stored levels (None: none, or withdrawn) to the outcomes' levels."""
    by_night = {o.night: o for o in outcomes}
    changes: list[AlertChange] = []
    for night in sorted(set(existing) | {o.night for o in outcomes if o.level is not None}):
        old = existing.get(night)
        outcome = by_night.get(night)
        found = transition(old, None if outcome is None else outcome.level)
        if found is None:
            continue
        state, level = found
        changes.append(
            AlertChange(
                participant_id=participant_id,
                detector=detector,
                level=level,
                night=night,
                value=None if outcome is None else outcome.value,
                baseline=None if outcome is None else outcome.baseline,
                state=state,
            )
        )
    return changes


async def _write_changes(connection: asyncpg.Connection, changes: list[AlertChange]) -> None:
    """Each change onto its alert row, and appended to `alert_changes`."""
    if not changes:
        return
    await connection.executemany(
        "INSERT INTO alerts AS a (participant_id, detector, night, level, value, baseline, state)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (participant_id, detector, night) DO UPDATE SET"
        " level = EXCLUDED.level, value = coalesce(EXCLUDED.value, a.value),"
        " baseline = coalesce(EXCLUDED.baseline, a.baseline), state = EXCLUDED.state, updated_at = now()",
        [(c.participant_id, c.detector, c.night, c.level, c.value, c.baseline, c.state) for c in changes],
    )
    await connection.executemany(
        "INSERT INTO alert_changes (participant_id, detector, night, level, state, value, baseline)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [(c.participant_id, c.detector, c.night, c.level, c.state, c.value, c.baseline) for c in changes],
    )


def alert_event(change: AlertChange, event_ms: int) -> AlertEvent:
    """The event that publishes an alert state change."""
    return AlertEvent(
        participant_id=change.participant_id,
        detector=change.detector,
        level=change.level,
        night=change.night,
        value=change.value,
        baseline=change.baseline,
        state=change.state,
        event_ms=event_ms,
    )
