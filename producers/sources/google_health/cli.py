"""`wearstream sources enrol`: a participant's consent link for the Google Health API (added to the sources group)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from core.cli import console, fail, out, settings_of
from producers.sources.cli import sources_app


def enrol(
    ctx: typer.Context,
    participant: Annotated[str, typer.Option("--participant", help="The participant to enrol, e.g. P0007.")],
    source: Annotated[str, typer.Option(help="The device source.")] = "google_health",
) -> None:
    """Print a single-use consent link for a participant (state + PKCE; the verifier is kept, sealed, in the
    database). Needs WEARSTREAM_GOOGLE_HEALTH_CLIENT_ID/_SECRET/_REDIRECT_URI and WEARSTREAM_SOURCES_KEY."""
    import asyncpg

    from producers.sources.google_health.enrolment import enrolments_from_environment
    from producers.sources.google_health.tokens import SealError
    from schemas.enrolment import EnrolmentError

    settings = settings_of(ctx)
    try:
        enrolment = enrolments_from_environment().get(source)
    except SealError as error:
        raise fail(str(error)) from None
    if enrolment is None:
        raise fail(f"source {source!r} is not configured (set WEARSTREAM_GOOGLE_HEALTH_CLIENT_ID and _CLIENT_SECRET)")

    async def create() -> str:
        connection = await asyncpg.connect(settings.database.url)
        try:
            link = await enrolment.create_link(connection, participant, actor="cli sources enrol")
        finally:
            await connection.close()
        console.print(f"link for {participant}, valid until {link.expires_at:%Y-%m-%d %H:%M} UTC (single use):")
        return link.url

    try:
        out.print(asyncio.run(create()), soft_wrap=True)
    except EnrolmentError as error:
        raise fail(error.reason) from None
    except asyncpg.UndefinedTableError:
        raise fail("no source_enrolments table: run `wearstream db migrate` first") from None


def register(app: typer.Typer) -> None:
    """Adds `enrol` to the `wearstream sources` group (which `producers.sources.cli.register` adds to `app`)."""
    sources_app.command("enrol")(enrol)
