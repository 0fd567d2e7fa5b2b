"""`wearstream sources …`: the device sources' commands (enrolment, the runner, status), one Typer group."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from core.cli import MetricsHost, console, fail, out, serve_metrics, settings_of
from core.settings import Settings
from core.telemetry import SOURCES_METRICS_PORT

if TYPE_CHECKING:
    from producers.sources.base import Source
    from producers.sources.choose import PoolBound
    from producers.sources.cursors import Cursor
    from producers.sources.runner import Enrolled, SyncReport

sources_app = typer.Typer(
    name="sources",
    help="Device sources (the Google Health API connector, the simulator, export files): enrol, sync, run, status.",
    no_args_is_help=True,
)

SourceOption = Annotated[str, typer.Option("--source", help="simulator, files or google_health.")]
ParticipantsOption = Annotated[
    list[str] | None,
    typer.Option("--participants", help="Only these participants (repeat, or comma-separated; default: all)."),
]
SeedOption = Annotated[int, typer.Option(help="simulator: the seed of the cohort.")]
StartOption = Annotated[
    str | None, typer.Option(help="simulator: its first day, YYYY-MM-DD (default: as a replay of the seed recorded).")
]
FilesRootOption = Annotated[
    Path | None, typer.Option(help="files: the folder holding one folder of *.json exports per participant.")
]


def _ids(values: Sequence[str] | None) -> list[str] | None:
    ids = [part.strip() for value in values or [] for part in value.split(",") if part.strip()]
    return ids or None


def _source(settings: Settings, name: str, seed: int, start: str | None, files_root: Path | None) -> Source | PoolBound:
    from producers.sources.choose import ChoiceError, build_source

    timezones = None
    if name == "files":
        timezones = asyncio.run(_timezones(settings))
    try:
        return build_source(settings, name, seed=seed, start=start, files_root=files_root, timezones=timezones)
    except ChoiceError as error:
        raise fail(str(error)) from error


async def _timezones(settings: Settings) -> dict[str, str]:
    import asyncpg

    connection = await asyncpg.connect(settings.database.url)
    try:
        return {
            r["participant_id"]: r["timezone"]
            for r in await connection.fetch("SELECT participant_id, timezone FROM participants")
        }
    finally:
        await connection.close()


@sources_app.command("sync")
def sync_command(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit (for cron).")] = False,
    source: SourceOption = "simulator",
    participants: ParticipantsOption = None,
    seed: SeedOption = 1,
    start: StartOption = None,
    files_root: FilesRootOption = None,
) -> None:
    """Pull every authorised participant's new data from a source onto Kafka, once.

    The first pass backfills from enrolment; later ones from each cursor minus the metric's lookback.
    Exit code 0 when every participant × metric synced, 1 when any failed (they are listed; the others synced)."""
    if not once:
        raise fail("sync needs --once (the scheduled runner is `wearstream sources run`)")
    settings = settings_of(ctx)
    chosen = _source(settings, source, seed, start, files_root)
    report = _sync_with_progress(settings, chosen, _ids(participants))
    _print_report(report)
    if report.failed:
        raise typer.Exit(code=1)


def _sync_with_progress(settings: Settings, source: Source | PoolBound, participants: list[str] | None) -> SyncReport:
    from aiokafka.errors import KafkaError
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from producers.sources.sync import sync_once

    started = time.perf_counter()
    columns = (
        TextColumn(f"[bold]{source.name}[/bold]"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} participant × metric"),
        TextColumn("{task.fields[readings]:,} readings, {task.fields[pages]:,} pages {task.fields[rate]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("sync", total=None, readings=0, pages=0, rate="")

        def on_start(targets: list[Enrolled], opened: Source) -> None:
            bar.update(task, total=len(targets) * len(opened.metrics()))

        def on_page(_participant: str, _metric: str, readings: int) -> None:
            fields = bar.tasks[0].fields
            done = fields["readings"] + readings
            rate = done / max(time.perf_counter() - started, 1e-9)
            bar.update(task, readings=done, pages=fields["pages"] + 1, rate=f"({rate:,.0f}/s)")

        def on_cursor(_participant: str, _metric: str, _status: str) -> None:
            bar.advance(task)

        try:
            return asyncio.run(
                sync_once(
                    settings,
                    source,
                    participants=participants,
                    on_start=on_start,
                    on_page=on_page,
                    on_cursor=on_cursor,
                )
            )
        except (OSError, KafkaError) as error:  # the broker or the database cannot be reached
            raise fail(f"{type(error).__name__}: {error}") from error


def _print_report(report: SyncReport) -> None:
    out.print(
        f"{report.source}: {report.participants} participants, {report.cursors_ok} metrics synced,"
        f" {report.readings:,} readings in {report.pages:,} pages"
        + (f", waited out {report.rate_limited_waits} rate limits ({report.waited_s:.0f} s)" if report.waited_s else "")
        + (f", {report.retries} retries" if report.retries else "")
    )
    for (participant_id, metric), problem in sorted(report.failures.items()):
        out.print(f"  failed {participant_id} {metric}: {problem}", markup=False, soft_wrap=True)


@sources_app.command("run")
def run_command(
    ctx: typer.Context,
    every: Annotated[str | None, typer.Option("--every", help="Pull every interval: 30s, 15m, 2h.")] = None,
    daily_at: Annotated[
        str | None, typer.Option("--daily-at", help="Pull once a day at this local time (each participant's zone).")
    ] = None,
    source: SourceOption = "simulator",
    participants: ParticipantsOption = None,
    seed: SeedOption = 1,
    start: StartOption = None,
    files_root: FilesRootOption = None,
    metrics_port: Annotated[int, typer.Option(help="Prometheus /metrics port (0: none).")] = SOURCES_METRICS_PORT,
    metrics_host: MetricsHost = "127.0.0.1",
) -> None:
    """Keep pulling on a schedule (default every 15 minutes) until Ctrl-C / SIGTERM; failures never stop it."""
    from producers.sources.schedule import Schedule, describe, parse_daily_at, parse_every
    from producers.sources.sync import run_scheduled

    if every and daily_at:
        raise fail("choose --every or --daily-at, not both")
    try:
        schedule: Schedule = parse_daily_at(daily_at) if daily_at else parse_every(every or "15m")
    except ValueError as error:
        raise fail(str(error)) from error
    settings = settings_of(ctx)
    chosen = _source(settings, source, seed, start, files_root)
    serve_metrics(metrics_port, metrics_host)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, stop.set)
            loop.add_signal_handler(signal.SIGTERM, stop.set)
        await run_scheduled(settings, chosen, schedule, stop, participants=_ids(participants), on_pass=_print_report)

    console.print(f"{chosen.name}: pulling {describe(schedule)}")
    asyncio.run(main())


@sources_app.command("status")
def status_command(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option("--source", help="Only this source.")] = None,
    participant: Annotated[str | None, typer.Option("--participant", help="Only this participant.")] = None,
) -> None:
    """A table of the runner's cursors: fetched through, last run, last success, status and last error."""
    from rich.table import Table

    from producers.sources.cursors import as_datetime, list_cursors

    async def load() -> list[Cursor]:
        import asyncpg

        connection = await asyncpg.connect(settings_of(ctx).database.url)
        try:
            return await list_cursors(connection, source=source, participant_id=participant)
        finally:
            await connection.close()

    def when(ms: int | None) -> str:
        moment = as_datetime(ms)
        return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")

    table = Table("source", "participant", "metric", "status", "fetched through", "last run", "last success", "error")
    found = asyncio.run(load())
    for cursor in found:
        table.add_row(
            cursor.source,
            cursor.participant_id,
            cursor.metric,
            cursor.status,
            when(cursor.fetched_through_ms),
            when(cursor.last_run_start_ms),
            when(cursor.last_success_ms),
            "-" if cursor.last_error is None else f"{when(cursor.last_error_at_ms)} {cursor.last_error}",
        )
    out.print(table if found else "no cursors yet (run `wearstream sources sync --once`)")


def register(app: typer.Typer) -> None:
    app.add_typer(sources_app)
