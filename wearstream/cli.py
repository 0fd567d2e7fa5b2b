"""The `wearstream` command: one entry point with a subcommand per job.

Settings are read from the environment here, once, and passed down explicitly.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
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


@app.command("replay")
def replay_command(
    ctx: typer.Context,
    participants: Annotated[int, typer.Option("--participants", "-n", min=1, help="Cohort size (P0001 …).")] = 20,
    days: Annotated[int, typer.Option("--days", "-d", min=1, help="Days to publish (day 0 is --start).")] = 2,
    start: Annotated[
        str | None,
        typer.Option(help="First day, YYYY-MM-DD (default: as recorded for this seed, else DAYS days ago)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Simulator seed: the same seed gives the same cohort.")] = 1,
    speed: Annotated[
        float | None, typer.Option(min=0.001, help="Publish at SPEED × real time (default: as fast as possible).")
    ] = None,
    realtime: Annotated[bool, typer.Option("--realtime", help="The simulated clock is the wall clock.")] = False,
    follow: Annotated[bool, typer.Option("--follow", help="With --realtime: keep going day after day.")] = False,
) -> None:
    """Publish a simulated cohort's days onto Kafka in device-upload-sized batches (delta-load: only what is new)."""
    import datetime as dt

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from producers.replay import ReplayConflictError, ReplayPlan, replay

    if follow and not realtime:
        raise _fail("--follow needs --realtime")
    if speed is not None and realtime:
        raise _fail("choose --speed or --realtime, not both")
    try:
        start_date = dt.date.fromisoformat(start) if start else None
    except ValueError as error:
        raise _fail(f"--start: {error}") from error
    plan = ReplayPlan(
        participants=participants,
        days=None if follow else days,
        seed=seed,
        start=start_date,
        speed=speed,
        realtime=realtime,
        follow=follow,
    )
    settings = _settings(ctx)
    total = participants * days if not follow else None
    started = time.perf_counter()
    columns = (
        TextColumn("[bold]replay[/bold]"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} participant-days"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("replay", total=total, rate="")

        def on_progress(done: int, readings: int) -> None:
            rate = readings / max(time.perf_counter() - started, 1e-9)
            bar.update(task, completed=done, rate=f"{readings:,} readings, {rate:,.0f}/s")

        try:
            report = asyncio.run(replay(settings, plan, progress=on_progress))
        except ReplayConflictError as error:
            raise _fail(str(error)) from error
    out.print(
        f"replayed {report.participant_days} participant-days from {report.start} "
        f"({report.skipped_participant_days} already published): {report.total_readings:,} readings in "
        f"{report.messages:,} batches, {report.seconds:.1f} s"
        + (" — interrupted, progress saved" if report.interrupted else "")
    )
    for metric, count in report.readings.items():
        out.print(f"  {metric:<20} {count:>12,}")
    if report.interrupted:
        raise typer.Exit(code=130)


@app.command("import")
def import_command(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help="Fitbit JSON export files.")],
    participant: Annotated[str, typer.Option("--participant", help="Study code of the wearer, e.g. P0001.")],
    timezone: Annotated[str, typer.Option(help="The wearer's IANA time zone (Fitbit times are local).")] = "UTC",
    device_id: Annotated[str | None, typer.Option(help="Device id recorded with the readings.")] = None,
) -> None:
    """Publish Fitbit Web API / wearipedia JSON exports onto Kafka (the participant is created if new).

    Every file is checked before anything is published; a malformed file fails with its JSON path and reason.
    """
    from producers.fitbit import FitbitImportError
    from producers.import_job import import_exports

    try:
        report = asyncio.run(
            import_exports(_settings(ctx), paths, participant_id=participant, timezone=timezone, device_id=device_id)
        )
    except FitbitImportError as error:
        raise _fail(str(error)) from error
    out.print(
        f"imported {report.files} file(s) for {participant}: {sum(report.readings.values()):,} new readings "
        f"in {report.messages:,} batches"
    )
    for metric in sorted(set(report.readings) | set(report.already_published)):
        out.print(
            f"  {metric:<20} {report.readings.get(metric, 0):>10,} new"
            f" {report.already_published.get(metric, 0):>10,} already published"
        )


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
