"""The producers' commands: `wearstream replay` (a simulated cohort) and `wearstream import` (device exports),
with their progress bars and summaries."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from core.cli import MetricsHost, console, fail, out, serve_metrics, settings_of
from core.settings import KafkaSettings
from core.telemetry import IMPORT_METRICS_PORT, REPLAY_METRICS_PORT

if TYPE_CHECKING:
    from producers.import_job import ImportReport
    from producers.replay import ReplayPlan, ReplayReport


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
    metrics_port: Annotated[int, typer.Option(help="Prometheus /metrics port (0: none).")] = REPLAY_METRICS_PORT,
    metrics_host: MetricsHost = "127.0.0.1",
) -> None:
    """Publish a simulated cohort's days onto Kafka in device-upload-sized batches (delta-load: only what is new)."""
    from producers.replay import ReplayPlan

    if follow and not realtime:
        raise fail("--follow needs --realtime")
    if speed is not None and realtime:
        raise fail("choose --speed or --realtime, not both")
    try:
        start_date = dt.date.fromisoformat(start) if start else None
    except ValueError as error:
        raise fail(f"--start: {error}") from error
    serve_metrics(metrics_port, metrics_host)
    plan = ReplayPlan(
        participants=participants,
        days=None if follow else days,
        seed=seed,
        start=start_date,
        speed=speed,
        realtime=realtime,
        follow=follow,
    )
    report = _replay_with_progress(settings_of(ctx).kafka, plan, total=None if follow else participants * days)
    _print_replay(report)
    if report.interrupted:
        raise typer.Exit(code=130)


def _replay_with_progress(kafka: KafkaSettings, plan: ReplayPlan, *, total: int | None) -> ReplayReport:
    """Runs the replay under a progress bar of participant-days and readings per second."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from producers.replay import ReplayConflictError, replay

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
            return asyncio.run(replay(kafka, plan, progress=on_progress))
        except ReplayConflictError as error:
            raise fail(str(error)) from error


def _print_replay(report: ReplayReport) -> None:
    out.print(
        f"replayed {report.participant_days} participant-days from {report.start} "
        f"({report.skipped_participant_days} already published): {report.total_readings:,} readings in "
        f"{report.messages:,} batches, {report.seconds:.1f} s"
        + (" — interrupted, progress saved" if report.interrupted else "")
    )
    for metric, count in report.readings.items():
        out.print(f"  {metric:<20} {count:>12,}")


def import_command(
    ctx: typer.Context,
    paths: Annotated[
        list[Path], typer.Argument(exists=True, help="Fitbit JSON export files, or folders of them (every *.json).")
    ],
    participant: Annotated[str, typer.Option("--participant", help="Study code of the wearer, e.g. P0001.")],
    timezone: Annotated[
        str, typer.Option(help="The wearer's IANA time zone (Fitbit times are local); a new participant's zone.")
    ] = "UTC",
    device_id: Annotated[str | None, typer.Option(help="Device id recorded with the readings.")] = None,
    sync_time: Annotated[
        dt.datetime | None,
        typer.Option(
            help="When the device last synced before the export (ISO date-time, UTC unless it has an offset);"
            " default: now. For each timestamp the reading with the latest sync time wins.",
            formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"],
        ),
    ] = None,
    metrics_port: Annotated[int, typer.Option(help="Prometheus /metrics port (0: none).")] = IMPORT_METRICS_PORT,
    metrics_host: MetricsHost = "127.0.0.1",
) -> None:
    """Publish Fitbit Web API / wearipedia JSON exports onto Kafka, delta-loaded by content.

    Every file is checked before anything is published; a malformed file fails with its JSON path and reason.
    Days whose content was imported before are not published again. A missing participant is created
    (enrolment: the data's first local date); an existing one is never changed. The import is recorded in
    the `imports` table, not as device uploads.
    What has no home (a daily summary without intraday data) is skipped with a warning; the rest imports.
    """
    from producers.fitbit import FitbitImportError
    from producers.import_job import import_exports
    from stream_processors.participant_records import ParticipantError

    serve_metrics(metrics_port, metrics_host)
    sync_ms = None
    if sync_time is not None:
        sync_ms = int((sync_time if sync_time.tzinfo else sync_time.replace(tzinfo=dt.UTC)).timestamp() * 1000)
    try:
        report = asyncio.run(
            import_exports(
                settings_of(ctx).kafka,
                settings_of(ctx).database.url,
                paths,
                participant_id=participant,
                timezone=timezone,
                device_id=device_id,
                sync_time=sync_ms,
            )
        )
    except (FitbitImportError, ParticipantError) as error:
        raise fail(str(error)) from error
    _print_import(report, participant)


def _print_import(report: ImportReport, participant: str) -> None:
    for skipped in report.skipped:
        console.print(f"warning: {skipped}", markup=False)
    out.print(
        f"imported {report.files} file(s) for {participant}"
        + (" (new participant)" if report.participant_created else "")
        + f": {sum(report.readings.values()):,} readings published in {report.messages:,} batches"
        + f" (import {report.import_id})"
    )
    if report.device_daily:
        out.print(f"  {'device-reported daily':<20} {report.device_daily:>10,} values")
    for metric in sorted(set(report.new) | set(report.unchanged) | set(report.corrected)):
        out.print(
            f"  {metric:<20} {report.new.get(metric, 0):>10,} new {report.unchanged.get(metric, 0):>10,} unchanged"
            f" {report.corrected.get(metric, 0):>10,} corrected"
        )


def register(app: typer.Typer) -> None:
    app.command("replay")(replay_command)
    app.command("import")(import_command)
