"""The API's commands, registered on the `wearstream` CLI: `wearstream api` and `wearstream apikey create`."""

from __future__ import annotations

import asyncio
import enum
from typing import Annotated

import typer
from rich.console import Console

from wearstream.settings import Settings, load_settings

console = Console(stderr=True, highlight=False)


class RoleChoice(enum.StrEnum):
    admin = "admin"
    researcher = "researcher"
    participant = "participant"


def _settings(ctx: typer.Context) -> Settings:
    return ctx.obj if isinstance(ctx.obj, Settings) else load_settings()


def register(app: typer.Typer) -> None:
    """Adds `api` (serve with uvicorn) and `apikey create` to the `wearstream` command."""
    apikey_app = typer.Typer(help="API keys (stored hashed; the key itself is shown once).")
    app.add_typer(apikey_app, name="apikey")

    @app.command("api")
    def serve(
        ctx: typer.Context,
        host: Annotated[str | None, typer.Option(help="Listen address (default WEARSTREAM_API_HOST).")] = None,
        port: Annotated[int | None, typer.Option(help="Port (default WEARSTREAM_API_PORT).")] = None,
        log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    ) -> None:
        """Serve the REST and websocket API (OpenAPI UI at /schema, metrics at /metrics)."""
        import uvicorn

        from api.app import create_app

        settings = _settings(ctx)
        uvicorn.run(
            create_app(settings),
            host=host or settings.api.host,
            port=port or settings.api.port,
            log_level=log_level,
            ws="websockets",
            proxy_headers=True,
        )

    @apikey_app.command("create")
    def create(
        ctx: typer.Context,
        role: Annotated[RoleChoice, typer.Option(help="admin, researcher (whole study) or participant (own data).")],
        participant: Annotated[
            str | None, typer.Option("--participant", help="The participant a participant key may read.")
        ] = None,
        label: Annotated[str, typer.Option(help="A note stored with the key (who or what uses it).")] = "",
    ) -> None:
        """Create an API key; the key is printed alone on the last line (it is not stored, only its hash)."""
        import asyncpg

        from api.auth.store import UnknownParticipantError, create_key

        async def run() -> str:
            connection = await asyncpg.connect(_settings(ctx).database.url)
            try:
                key = await create_key(connection, role.value, participant, label)
            finally:
                await connection.close()
            return key.token

        try:
            token = asyncio.run(run())
        except UnknownParticipantError as error:
            console.print(f"[red]error:[/red] unknown participant {error}")
            raise typer.Exit(code=1) from error
        except ValueError as error:
            console.print(f"[red]error:[/red] {error}")
            raise typer.Exit(code=1) from error
        except asyncpg.UndefinedTableError as error:
            console.print("[red]error:[/red] no api_keys table: run `wearstream db migrate` first")
            raise typer.Exit(code=1) from error
        console.print(f"created a {role.value} key{f' for {participant}' if participant else ''}; store it now:")
        typer.echo(token)
