"""The `wearstream` command: one entry point with a subcommand per job.

Settings are read from the environment here, once, and passed down explicitly.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from deploy.local.errors import StackError
from wearstream.settings import Settings, load_settings

app = typer.Typer(
    name="wearstream",
    help="Event-streaming pipeline for wearable data in clinical studies (Kafka → faust → TimescaleDB → API).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
stack_app = typer.Typer(help="The local stack without Docker: Apache Kafka (KRaft) and PostgreSQL + TimescaleDB.")
db_app = typer.Typer(help="Database schema.")
topics_app = typer.Typer(help="Kafka topics.")
app.add_typer(stack_app, name="stack")
app.add_typer(db_app, name="db")
app.add_typer(topics_app, name="topics")

console = Console(stderr=True, highlight=False)
out = Console(highlight=False)


def _settings(ctx: typer.Context) -> Settings:
    if not isinstance(ctx.obj, Settings):
        ctx.obj = load_settings()
    return ctx.obj


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)


@stack_app.command("up")
def stack_up(ctx: typer.Context) -> None:
    """Install what is missing, then start Kafka and TimescaleDB (harmless when already running)."""
    from deploy.local.stack import LocalStack

    settings = _settings(ctx)
    try:
        LocalStack(settings.stack).up(console.print)
    except StackError as error:
        raise _fail(str(error)) from error
    for status in LocalStack(settings.stack).status():
        out.print(status.line())


@stack_app.command("down")
def stack_down(ctx: typer.Context) -> None:
    """Stop the components this stack started (others are left alone)."""
    from deploy.local.stack import LocalStack

    try:
        LocalStack(_settings(ctx).stack).down(console.print)
    except StackError as error:
        raise _fail(str(error)) from error


@stack_app.command("status")
def stack_status(ctx: typer.Context) -> None:
    """One line per component: name, address, version. Exits non-zero if any component is down."""
    from deploy.local.stack import LocalStack

    statuses = LocalStack(_settings(ctx).stack).status()
    for status in statuses:
        out.print(status.line())
    if not all(s.up for s in statuses):
        raise typer.Exit(code=1)


@stack_app.command("smoke")
def stack_smoke(ctx: typer.Context) -> None:
    """Check the running stack end to end: a Kafka round trip through a consumer group and a hypertable."""
    from wearstream.smoke import smoke

    try:
        lines = asyncio.run(smoke(_settings(ctx)))
    except Exception as error:
        raise _fail(f"smoke check failed: {error}") from error
    for line in lines:
        out.print(line)


@db_app.command("migrate")
def db_migrate(ctx: typer.Context) -> None:
    """Apply pending SQL migrations from schemas/migrations (each once, in a transaction)."""
    from schemas.migrate import MigrationError, migrate

    settings = _settings(ctx)
    try:
        applied = asyncio.run(migrate(settings.database.url, log=console.print))
    except (MigrationError, OSError) as error:
        raise _fail(str(error)) from error
    out.print(f"database up to date ({len(applied)} migration(s) applied now)")


@topics_app.command("create")
def topics_create(ctx: typer.Context) -> None:
    """Create the readings, participants, gaps, live and dead-letter topics that are missing."""
    from wearstream.topics import ensure_topics

    settings = _settings(ctx)
    created = asyncio.run(ensure_topics(settings.kafka))
    out.print(f"topics up to date ({len(created)} created now, prefix {settings.kafka.topic_prefix!r})")


@app.command("process")
def process(
    ctx: typer.Context,
    metrics_port: Annotated[
        int | None, typer.Option(help="Prometheus /metrics port (default WEARSTREAM_PROCESSOR_METRICS_PORT; 0: none).")
    ] = None,
    log_level: Annotated[str, typer.Option(help="faust worker log level.")] = "warning",
) -> None:
    """Run a stream-processor worker (faust): validate, store, roll up, detect gaps, publish live updates.

    Start several to share the work: they split the topics' partitions within one consumer group.
    """
    import faust
    from prometheus_client import start_http_server

    from stream_processors.app import create_app
    from wearstream.topics import ensure_topics

    settings = _settings(ctx)
    asyncio.run(ensure_topics(settings.kafka))
    port = settings.processor.metrics_port if metrics_port is None else metrics_port
    if port:
        start_http_server(port, addr="127.0.0.1")
        console.print(f"metrics on http://127.0.0.1:{port}/metrics")
    (settings.stack.state_dir / "processor").mkdir(parents=True, exist_ok=True)
    worker = faust.Worker(create_app(settings), loglevel=log_level, quiet=True)
    worker.execute_from_commandline()


@app.callback()
def main(
    ctx: typer.Context,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More log output.")] = False,
) -> None:
    ctx.obj = load_settings()
    if verbose:
        import logging

        logging.basicConfig(level=logging.INFO)
