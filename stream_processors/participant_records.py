"""Participant records, managed: create, change, read, and the audit of every change.

The `participants` table is the study's record: enrolment, time zone (the zone of the participant's local
days everywhere), authorisation, contact, device. The CLI (`wearstream participants`) and the admin API
change it through these functions; each change is audited (`participant_audit`, by a trigger, with the
actor given here). An import only ever creates a missing record. Changing a time zone recomputes the
participant's day rollups, daily summaries and sleep nights in the same transaction, under the participant's
processing lock.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from typing import Any, Final

import asyncpg
import msgspec

from schemas.participants import Authorisation, Participant
from stream_processors import summaries
from stream_processors.gap_store import lock_participants


class ParticipantError(ValueError):
    """A participant change that cannot be made: names the field and the problem."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class ParticipantExists(ParticipantError):
    pass


class ParticipantNotFound(ParticipantError):
    pass


class ParticipantChange(msgspec.Struct, frozen=True, kw_only=True):
    """The fields to change; an unset field is left as it is."""

    enrolled_on: dt.date | msgspec.UnsetType = msgspec.UNSET
    timezone: str | msgspec.UnsetType = msgspec.UNSET
    authorisation: Authorisation | msgspec.UnsetType = msgspec.UNSET
    device_id: str | msgspec.UnsetType = msgspec.UNSET
    contact_email: str | msgspec.UnsetType | None = msgspec.UNSET

    def fields(self) -> dict[str, Any]:
        return {f: v for f in self.__struct_fields__ if (v := getattr(self, f)) is not msgspec.UNSET}


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    changed_at: dt.datetime
    actor: str
    action: str
    changes: dict[str, list[Any]]
    """field → [before, after] (before is null on create)."""


COLUMNS: Final = "participant_id, enrolled_on, timezone, authorisation, device_id, contact_email, updated_at"


def check_timezone(timezone: str) -> str:
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ParticipantError("timezone", f"unknown IANA time zone {timezone!r}") from None
    return timezone


def _record(row: asyncpg.Record) -> Participant:
    return Participant(
        participant_id=row["participant_id"],
        enrolled_on=row["enrolled_on"],
        timezone=row["timezone"],
        authorisation=row["authorisation"],
        device_id=row["device_id"],
        contact_email=row["contact_email"],
        updated_at=int(row["updated_at"].timestamp() * 1000),
    )


async def _as(connection: asyncpg.Connection, actor: str) -> None:
    await connection.execute("SELECT set_config('wearstream.actor', $1, true)", actor)


async def create(
    connection: asyncpg.Connection, participant: Participant, *, actor: str, if_missing: bool = False
) -> bool:
    """Creates the record; returns False (changing nothing) when it exists and `if_missing`, else raises
    ParticipantExists."""
    if not participant.participant_id.strip():
        raise ParticipantError("participant_id", "must not be empty")
    check_timezone(participant.timezone)
    async with connection.transaction():
        await _as(connection, actor)
        created = await connection.fetchval(
            "INSERT INTO participants (participant_id, enrolled_on, timezone, authorisation, device_id,"
            " contact_email, updated_at) VALUES ($1, $2, $3, $4, $5, $6, now())"
            " ON CONFLICT (participant_id) DO NOTHING RETURNING true",
            participant.participant_id,
            participant.enrolled_on,
            participant.timezone,
            participant.authorisation,
            participant.device_id,
            participant.contact_email,
        )
    if not created and not if_missing:
        raise ParticipantExists("participant_id", f"{participant.participant_id!r} exists (change it with update)")
    return bool(created)


async def update(
    connection: asyncpg.Connection, participant_id: str, change: ParticipantChange, *, actor: str
) -> Participant:
    """Applies `change` and returns the record; a new time zone recomputes the participant's day rollups."""
    fields = change.fields()
    if "timezone" in fields:
        check_timezone(fields["timezone"])
    async with connection.transaction():
        await lock_participants(connection, [participant_id])
        await _as(connection, actor)
        before = await connection.fetchrow(
            f"SELECT {COLUMNS} FROM participants WHERE participant_id = $1 FOR UPDATE", participant_id
        )
        if before is None:
            raise ParticipantNotFound("participant_id", f"no participant {participant_id!r}")
        if not fields:
            return _record(before)
        assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(fields, start=2))
        after = await connection.fetchrow(
            f"UPDATE participants SET {assignments}, updated_at = now() WHERE participant_id = $1 RETURNING {COLUMNS}",
            participant_id,
            *fields.values(),
        )
        if after["timezone"] != before["timezone"]:
            await recompute_local_days(connection, participant_id, after["timezone"])
            await summaries.rebuild(connection, [participant_id])
    return _record(after)


async def get(connection: asyncpg.Connection, participant_id: str) -> Participant | None:
    row = await connection.fetchrow(f"SELECT {COLUMNS} FROM participants WHERE participant_id = $1", participant_id)
    return None if row is None else _record(row)


async def list_all(connection: asyncpg.Connection) -> list[Participant]:
    return [_record(r) for r in await connection.fetch(f"SELECT {COLUMNS} FROM participants ORDER BY participant_id")]


async def audit(connection: asyncpg.Connection, participant_id: str) -> list[AuditEntry]:
    rows = await connection.fetch(
        "SELECT changed_at, actor, action, before, after FROM participant_audit WHERE participant_id = $1 ORDER BY id",
        participant_id,
    )
    entries = []
    for row in rows:
        before = msgspec.json.decode(row["before"]) if row["before"] else {}
        after = msgspec.json.decode(row["after"])
        changes = {
            k: [before.get(k), v] for k, v in after.items() if k != "updated_at" and (not before or before.get(k) != v)
        }
        entries.append(
            AuditEntry(changed_at=row["changed_at"], actor=row["actor"], action=row["action"], changes=changes)
        )
    return entries


_DAYS_FROM: Final = """
INSERT INTO rollup_1d AS d (participant_id, metric_id, bucket, count, sum, min, max, first_time, last_time, minutes,
                            stage_epochs)
SELECT participant_id, metric_id, date_trunc('day', bucket AT TIME ZONE $2) AT TIME ZONE $2,
       sum(count)::int, sum(sum), min(min), max(max), min(first_time), max(last_time), {minutes},
       CASE WHEN bool_or(stage_epochs IS NOT NULL) THEN ARRAY[sum(stage_epochs[1]), sum(stage_epochs[2]),
            sum(stage_epochs[3]), sum(stage_epochs[4])]::int[] END
FROM {table} r
WHERE participant_id = $1 {where}
GROUP BY 1, 2, 3
ON CONFLICT DO NOTHING
"""


async def recompute_local_days(connection: asyncpg.Connection, participant_id: str, timezone: str) -> None:
    """Rebuilds the participant's day rollups in `timezone`: from the 1-minute rollups (exact), and for
    dates before the oldest 1-minute rollup kept (retention) from the 1-hour ones (exact for zones whose
    offset is whole hours; in others a day then starts at the UTC hour that holds its midnight)."""
    await connection.execute("DELETE FROM rollup_1d WHERE participant_id = $1", participant_id)
    await connection.execute(
        _DAYS_FROM.format(table="rollup_1m", minutes="count(*)::int", where=""), participant_id, timezone
    )
    await connection.execute(
        _DAYS_FROM.format(
            table="rollup_1h",
            minutes="sum(minutes)::int",
            where="AND bucket < coalesce((SELECT min(m.bucket) FROM rollup_1m m WHERE m.participant_id = $1"
            " AND m.metric_id = r.metric_id), 'infinity')",
        ),
        participant_id,
        timezone,
    )


async def materialise(pool: asyncpg.Pool, participants: Sequence[Participant]) -> None:
    """Materialises participant records from the participants topic (the latest wins, by updated_at); a
    record whose time zone changed has its day rollups recomputed in the same transaction."""
    latest = {p.participant_id: p for p in sorted(participants, key=lambda p: p.updated_at)}
    ids = sorted(latest)
    async with pool.acquire() as connection, connection.transaction():
        await lock_participants(connection, ids)
        zones = "SELECT participant_id, timezone FROM participants WHERE participant_id = ANY($1::text[])"
        before = {r["participant_id"]: r["timezone"] for r in await connection.fetch(zones, ids)}
        await connection.executemany(
            "INSERT INTO participants AS p (participant_id, enrolled_on, timezone, authorisation, device_id,"
            " contact_email, updated_at) VALUES ($1, $2, $3, $4, $5, $6, ms_to_ts($7))"
            " ON CONFLICT (participant_id) DO UPDATE SET enrolled_on = EXCLUDED.enrolled_on,"
            " timezone = EXCLUDED.timezone, authorisation = EXCLUDED.authorisation,"
            " device_id = EXCLUDED.device_id, contact_email = EXCLUDED.contact_email,"
            " updated_at = EXCLUDED.updated_at WHERE p.updated_at <= EXCLUDED.updated_at",
            [
                (
                    p.participant_id,
                    p.enrolled_on,
                    p.timezone,
                    p.authorisation,
                    p.device_id,
                    p.contact_email,
                    p.updated_at,
                )
                for p in latest.values()
            ],
        )
        for row in await connection.fetch(zones, [pid for pid in ids if pid in before]):
            if row["timezone"] != before[row["participant_id"]]:
                await recompute_local_days(connection, row["participant_id"], row["timezone"])
