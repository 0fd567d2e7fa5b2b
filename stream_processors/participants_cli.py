"""Participant records on the command line: `wearstream participants add|update|show|list` (audited as "cli")."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, get_args

import typer

from core.cli import fail, out, settings_of
from schemas.participants import Authorisation

if TYPE_CHECKING:
    import asyncpg

    from schemas.participants import Participant

T = TypeVar("T")

participants_app = typer.Typer(help="Participant records: enrolment, time zone, authorisation, contact, device.")
AuthorisationOption = Annotated[
    str | None, typer.Option(help="authorised, expired, revoked or never.", show_default=False)
]


def _participants_call(ctx: typer.Context, job: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    import asyncpg

    async def run() -> T:
        connection = await asyncpg.connect(settings_of(ctx).database.url)
        try:
            return await job(connection)
        finally:
            await connection.close()

    from stream_processors.participant_records import ParticipantError

    try:
        return asyncio.run(run())
    except ParticipantError as error:
        raise fail(str(error)) from error
    except asyncpg.UndefinedTableError as error:
        raise fail(f"the database is not set up ({error}): run `wearstream db migrate`") from error


def _print_participant(participant: Participant) -> None:
    out.print(
        f"{participant.participant_id}: enrolled {participant.enrolled_on}, {participant.timezone},"
        f" {participant.authorisation}, device {participant.device_id or '-'},"
        f" contact {participant.contact_email or '-'}"
    )


@participants_app.command("add")
def participants_add(
    ctx: typer.Context,
    participant: Annotated[str, typer.Argument(help="Study code, e.g. P0001.")],
    enrolled_on: Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="Enrolment date (local).")],
    timezone: Annotated[str, typer.Option(help="IANA time zone of the participant's local days.")] = "UTC",
    authorisation: AuthorisationOption = "authorised",
    device_id: Annotated[str, typer.Option(help="Device id.")] = "",
    contact_email: Annotated[str | None, typer.Option(help="Contact e-mail (reminders).")] = None,
) -> None:
    """Create a participant record (audited). Fails if it exists: change it with `update`."""
    import msgspec

    from schemas.participants import Participant
    from stream_processors import participant_records as participants

    _valid_authorisation(authorisation)
    record = msgspec.convert(
        {
            "participant_id": participant,
            "enrolled_on": enrolled_on.date(),
            "timezone": timezone,
            "authorisation": authorisation,
            "device_id": device_id,
            "contact_email": contact_email,
        },
        Participant,
    )

    async def job(connection: asyncpg.Connection) -> Participant | None:
        await participants.create(connection, record, actor="cli")
        return await participants.get(connection, participant)

    created = _participants_call(ctx, job)
    if created:
        _print_participant(created)


@participants_app.command("update")
def participants_update(
    ctx: typer.Context,
    participant: Annotated[str, typer.Argument(help="Study code, e.g. P0001.")],
    enrolled_on: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Enrolment date (local).", show_default=False)
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA time zone (recomputes the day rollups).", show_default=False)
    ] = None,
    authorisation: AuthorisationOption = None,
    device_id: Annotated[str | None, typer.Option(help="Device id.", show_default=False)] = None,
    contact_email: Annotated[
        str | None, typer.Option(help="Contact e-mail ('' removes it).", show_default=False)
    ] = None,
) -> None:
    """Change fields of a participant record (audited); fields not given stay as they are."""
    import msgspec

    from stream_processors import participant_records as participants

    _valid_authorisation(authorisation)
    fields: dict[str, object] = {
        "enrolled_on": enrolled_on.date() if enrolled_on else None,
        "timezone": timezone,
        "authorisation": authorisation,
        "device_id": device_id,
    }
    change_fields = {k: v for k, v in fields.items() if v is not None}
    if contact_email is not None:
        change_fields["contact_email"] = contact_email or None
    change = msgspec.convert(change_fields, participants.ParticipantChange)

    async def job(connection: asyncpg.Connection) -> Participant:
        return await participants.update(connection, participant, change, actor="cli")

    _print_participant(_participants_call(ctx, job))


@participants_app.command("show")
def participants_show(
    ctx: typer.Context, participant: Annotated[str, typer.Argument(help="Study code, e.g. P0001.")]
) -> None:
    """A participant record, its imports and the audit of its changes."""
    from stream_processors import participant_records as participants

    async def job(connection: asyncpg.Connection) -> tuple[Participant | None, list[Any], list[asyncpg.Record]]:
        record = await participants.get(connection, participant)
        imports = await connection.fetch(
            "SELECT imported_at, cardinality(files) AS files, readings::text AS readings FROM imports"
            " WHERE participant_id = $1 ORDER BY imported_at",
            participant,
        )
        return record, list(await participants.audit(connection, participant)), list(imports)

    record, history, imports = _participants_call(ctx, job)
    if record is None:
        raise fail(f"no participant {participant!r}")
    _print_participant(record)
    for row in imports:
        out.print(f"  import {row['imported_at']:%Y-%m-%d %H:%M:%S%z}: {row['files']} file(s), {row['readings']}")
    for entry in history:
        changes = ", ".join(f"{k} {before!r} → {after!r}" for k, (before, after) in entry.changes.items())
        out.print(f"  {entry.changed_at:%Y-%m-%d %H:%M:%S%z} {entry.action} by {entry.actor}: {changes}")


@participants_app.command("list")
def participants_list(ctx: typer.Context) -> None:
    """Every participant record."""
    from stream_processors import participant_records as participants

    for record in _participants_call(ctx, participants.list_all):
        _print_participant(record)


def _valid_authorisation(value: str | None) -> None:
    if value is not None and value not in get_args(Authorisation):
        raise fail(f"authorisation: {value!r} is not one of {', '.join(get_args(Authorisation))}")


def register(app: typer.Typer) -> None:
    app.add_typer(participants_app, name="participants")
