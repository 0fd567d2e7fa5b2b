"""The API's commands on the `wearstream` CLI: `wearstream api` and `wearstream apikey create|list|revoke|rotate`."""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, TypeVar

import typer

from core.cli import console, settings_of
from schemas.enrolment import Enrolment

EnrolmentFactory = Callable[[], Mapping[str, Enrolment]]
"""Builds the device sources' enrolments when the API starts (wired by the `wearstream` command)."""


class RoleChoice(enum.StrEnum):
    admin = "admin"
    researcher = "researcher"
    participant = "participant"


T = TypeVar("T")


def _lifetime(text: str | None) -> dt.timedelta | None:
    from api.auth.keys import parse_lifetime

    if text is None:
        return None
    try:
        return parse_lifetime(text)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--expires-in") from error


def _with_database(ctx: typer.Context, action: Callable[[Any], Awaitable[T]]) -> T:
    """Runs `action(connection)` on one connection; database errors become a one-line message and exit 1."""
    import asyncpg

    from api.auth.store import UnknownKeyError, UnknownParticipantError

    async def run() -> T:
        connection = await asyncpg.connect(settings_of(ctx).database.url)
        try:
            return await action(connection)
        finally:
            await connection.close()

    try:
        return asyncio.run(run())
    except UnknownParticipantError as error:
        console.print(f"[red]error:[/red] unknown participant {error}")
    except UnknownKeyError as error:
        console.print(f"[red]error:[/red] no live key with id {error} (see `wearstream apikey list`)")
    except ValueError as error:
        console.print(f"[red]error:[/red] {error}")
    except asyncpg.UndefinedColumnError:
        console.print("[red]error:[/red] the api_keys table is out of date: run `wearstream db migrate` first")
    except asyncpg.UndefinedTableError:
        console.print("[red]error:[/red] no api_keys table: run `wearstream db migrate` first")
    raise typer.Exit(code=1)


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Listen address (default WEARSTREAM_API_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default WEARSTREAM_API_PORT).")] = None,
    log_level: Annotated[str | None, typer.Option(help="Log level (default WEARSTREAM_TELEMETRY_LOG_LEVEL).")] = None,
) -> None:
    """Serve the REST and websocket API (OpenAPI UI at /schema, metrics at /metrics)."""
    _serve(ctx, host, port, log_level, None)


def _serve(
    ctx: typer.Context,
    host: str | None,
    port: int | None,
    log_level: str | None,
    enrolments: EnrolmentFactory | None,
) -> None:
    import uvicorn

    from api.app import create_app
    from core.logs import logging_config, with_level

    settings = settings_of(ctx)
    try:
        telemetry = with_level(settings.telemetry, log_level)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--log-level") from error
    uvicorn.run(
        create_app(settings, enrolments=_enrolments(enrolments)),
        host=host or settings.api.host,
        port=port or settings.api.port,
        log_config=logging_config(telemetry),
        log_level=telemetry.log_level.lower(),
        ws="websockets",
        loop="uvloop",
        http="httptools",
        proxy_headers=True,
    )


def _enrolments(factory: EnrolmentFactory | None) -> Mapping[str, Enrolment] | None:
    try:
        return factory() if factory else None
    except RuntimeError as error:  # a configured source without its sealing key, say
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(code=1) from None


def create(
    ctx: typer.Context,
    role: Annotated[RoleChoice, typer.Option(help="admin, researcher (whole study) or participant (own data).")],
    participant: Annotated[
        str | None, typer.Option("--participant", help="The participant a participant key may read.")
    ] = None,
    label: Annotated[str, typer.Option(help="A note stored with the key (who or what uses it).")] = "",
    expires_in: Annotated[
        str | None, typer.Option("--expires-in", help="Lifetime: 90m, 12h, 30d, 8w (default: no expiry).")
    ] = None,
) -> None:
    """Create an API key; the key is printed alone on the last line (it is not stored, only its hash)."""
    from api.auth.store import create_key

    lifetime = _lifetime(expires_in)
    key = _with_database(ctx, lambda db: create_key(db, role.value, participant, label, expires_in=lifetime))
    until = f", expires in {expires_in}" if expires_in else ""
    console.print(
        f"created {role.value} key {key.key_id}{f' for {participant}' if participant else ''}{until}; store it now:"
    )
    typer.echo(key.token)


def list_command(
    ctx: typer.Context,
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
) -> None:
    """List keys (id, role, participant, label, created, expires, last used, revoked); never the secrets."""
    from api.auth.store import list_keys

    keys = _with_database(ctx, lambda db: list_keys(db, include_revoked=include_revoked))

    def when(value: dt.datetime | None) -> str:
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%MZ") if value else "-"

    typer.echo("key_id\trole\tparticipant\tcreated\texpires\tlast_used\trevoked\tlabel")
    for key in keys:
        cells = (key.key_id, key.role, key.participant_id or "-", when(key.created_at), when(key.expires_at))
        typer.echo("\t".join((*cells, when(key.last_used_at), when(key.revoked_at), key.label)))


def revoke(ctx: typer.Context, key_id: Annotated[str, typer.Argument(help="The key's id (`apikey list`).")]) -> None:
    """Revoke a key. Running API processes refuse it within WEARSTREAM_API_KEY_CACHE_S seconds."""
    from api.auth.store import revoke_key

    _with_database(ctx, lambda db: revoke_key(db, key_id))
    seconds = settings_of(ctx).api.key_cache_s
    console.print(f"revoked {key_id}; API processes refuse it within {seconds:g} s (the key cache window)")


def rotate(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The key's id (`apikey list`).")],
    expires_in: Annotated[
        str | None, typer.Option("--expires-in", help="Lifetime of the new key (default: no expiry).")
    ] = None,
) -> None:
    """Revoke a key and create its replacement (same role, participant, label) in one transaction.

    The new key is printed alone on the last line."""
    from api.auth.store import rotate_key

    lifetime = _lifetime(expires_in)
    key = _with_database(ctx, lambda db: rotate_key(db, key_id, expires_in=lifetime))
    console.print(f"revoked {key_id}; its replacement is {key.key_id}; store it now:")
    typer.echo(key.token)


def register(app: typer.Typer, *, enrolments: EnrolmentFactory | None = None) -> None:
    """Adds `api` (serve with uvicorn) and `apikey create|list|revoke|rotate` to the `wearstream` command;
    `enrolments` gives the device sources the served API enrols with (read when it starts)."""
    apikey_app = typer.Typer(help="API keys (stored hashed; the key itself is shown once).")
    app.add_typer(apikey_app, name="apikey")

    @functools.wraps(serve)
    def serve_with_sources(
        ctx: typer.Context, host: str | None = None, port: int | None = None, log_level: str | None = None
    ) -> None:
        _serve(ctx, host, port, log_level, enrolments)

    app.command("api")(serve_with_sources)
    apikey_app.command("create")(create)
    apikey_app.command("list")(list_command)
    apikey_app.command("revoke")(revoke)
    apikey_app.command("rotate")(rotate)
