"""The `wearstream` command: one entry point with a subcommand per job.

Settings are read from the environment here, once, and passed down explicitly.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, get_args

import typer
from rich.console import Console

from core.settings import Settings, load_settings
from core.telemetry import IMPORT_METRICS_PORT, REPLAY_METRICS_PORT
from deploy.local.errors import StackError
from schemas.participants import Authorisation

if TYPE_CHECKING:
    import asyncpg

    from deploy.local.stack import LocalStack
    from schemas.participants import Participant

T = TypeVar("T")

app = typer.Typer(
    name="wearstream",
    help="Event-streaming pipeline for wearable data in clinical studies (Kafka → faust → TimescaleDB → API).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
stack_app = typer.Typer(help="The local stack without Docker: Apache Kafka (KRaft) and PostgreSQL + TimescaleDB.")
db_app = typer.Typer(help="Database: migrations, compaction of raw segments, retention, summaries.")
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


MetricsHost = Annotated[str, typer.Option(help="Address the /metrics server listens on (0.0.0.0 in containers).")]


def _serve_metrics(port: int, host: str, *, with_health: bool = False) -> None:
    """Serves Prometheus /metrics (and a worker's /healthz) in a background thread; a busy port is reported,
    not fatal."""
    if not port:
        return
    from prometheus_client import start_http_server

    try:
        if with_health:
            from stream_processors import health

            health.serve(port, host)
        else:
            start_http_server(port, addr=host)
    except OSError as error:
        console.print(f"[yellow]warning:[/yellow] no /metrics on {host}:{port}: {error}")
        return
    console.print(f"metrics on http://{host}:{port}/metrics")


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)


WithMonitoring = Annotated[
    bool,
    typer.Option(
        "--with-monitoring",
        help="Also Prometheus and Alertmanager (Debian packages), scraping the local processes' /metrics.",
    ),
]


def _local_stack(settings: Settings, *, with_monitoring: bool, if_running: bool = False) -> LocalStack:
    from deploy.local.monitoring import LocalMonitoring
    from deploy.local.stack import LocalStack

    monitoring = LocalMonitoring.from_settings(settings)
    wanted = with_monitoring or (if_running and monitoring.running())
    return LocalStack(settings.stack, monitoring=monitoring if wanted else None)


@stack_app.command("up")
def stack_up(ctx: typer.Context, with_monitoring: WithMonitoring = False) -> None:
    """Install what is missing, then start Kafka and TimescaleDB (harmless when already running)."""
    settings = _settings(ctx)
    try:
        _local_stack(settings, with_monitoring=with_monitoring).up(console.print)
    except StackError as error:
        raise _fail(str(error)) from error
    for status in _local_stack(settings, with_monitoring=with_monitoring).status():
        out.print(status.line())


@stack_app.command("down")
def stack_down(ctx: typer.Context, with_monitoring: WithMonitoring = False) -> None:
    """Stop the components this stack started (others are left alone; monitoring too when it runs)."""
    try:
        _local_stack(_settings(ctx), with_monitoring=with_monitoring, if_running=True).down(console.print)
    except StackError as error:
        raise _fail(str(error)) from error


@stack_app.command("status")
def stack_status(ctx: typer.Context, with_monitoring: WithMonitoring = False) -> None:
    """One line per component: name, address, version. Exits non-zero if any component is down."""
    statuses = _local_stack(_settings(ctx), with_monitoring=with_monitoring).status()
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


@db_app.command("compact")
def db_compact(
    ctx: typer.Context,
    settle: Annotated[int, typer.Option(help="Only periods that ended at least this many seconds ago.")] = 7200,
) -> None:
    """Merge the per-batch raw segments of finished periods into one compressed row each (workers also do this)."""
    from stream_processors.compaction import compact
    from stream_processors.db import create_pool

    async def run() -> tuple[int, int, int]:
        pool = await create_pool(_settings(ctx).database.url, size=2)
        totals = [0, 0, 0]
        try:
            while True:
                report = await compact(pool, settle_s=settle)
                totals = [totals[0] + report.periods, totals[1] + report.segments_merged, totals[2] + report.readings]
                if report.periods == 0:
                    return totals[0], totals[1], totals[2]
                console.print(f"compacted {totals[0]:,} periods so far")
        finally:
            await pool.close()

    periods, segments, readings = asyncio.run(run())
    out.print(f"compacted {periods:,} periods: {segments:,} segments merged, {readings:,} readings")


@db_app.command("retention")
def db_retention(ctx: typer.Context) -> None:
    """Drop chunks (summaries: rows) past each table's retention (WEARSTREAM_PROCESSOR_RETENTION_*_DAYS; workers
    also do this)."""
    import asyncpg

    from core.settings import retention_days
    from stream_processors.retention import apply_retention

    settings = _settings(ctx)

    async def run() -> dict[str, int]:
        connection = await asyncpg.connect(settings.database.url)
        try:
            return await apply_retention(connection, retention_days(settings.processor))
        finally:
            await connection.close()

    from stream_processors.retention import SUMMARY_TABLES

    dropped = asyncio.run(run())
    out.print(
        "dropped: "
        + (
            ", ".join(f"{t} {n} {'rows' if t in SUMMARY_TABLES else 'chunks'}" for t, n in dropped.items())
            or "none (nothing has retention)"
        )
    )


@db_app.command("summaries")
def db_summaries(
    ctx: typer.Context,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Recompute every stored day and night.")] = False,
    participant: Annotated[
        list[str] | None, typer.Option(help="Only these participants (repeatable; default: all).")
    ] = None,
) -> None:
    """Daily summaries and sleep nights (written at ingest): --rebuild recomputes them from the stored rollups,
    e.g. for data stored before they existed or after a participant's time zone changed."""
    import asyncpg

    from stream_processors.summaries import rebuild as rebuild_summaries

    if not rebuild:
        raise _fail("nothing to do: pass --rebuild")
    settings = _settings(ctx)

    async def run() -> tuple[int, int]:
        connection = await asyncpg.connect(settings.database.url)
        try:
            return await rebuild_summaries(connection, participant or None)
        finally:
            await connection.close()

    days, nights = asyncio.run(run())
    out.print(f"summaries rebuilt: {days:,} days, {nights:,} nights")


@topics_app.command("create")
def topics_create(ctx: typer.Context) -> None:
    """Create the readings, participants, gaps, alerts, live and dead-letter topics that are missing."""
    from core.topics import ensure_topics

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
    metrics_port: Annotated[int, typer.Option(help="Prometheus /metrics port (0: none).")] = REPLAY_METRICS_PORT,
    metrics_host: MetricsHost = "127.0.0.1",
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
    _serve_metrics(metrics_port, metrics_host)
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

    _serve_metrics(metrics_port, metrics_host)
    sync_ms = None
    if sync_time is not None:
        sync_ms = int((sync_time if sync_time.tzinfo else sync_time.replace(tzinfo=dt.UTC)).timestamp() * 1000)
    try:
        report = asyncio.run(
            import_exports(
                _settings(ctx),
                paths,
                participant_id=participant,
                timezone=timezone,
                device_id=device_id,
                sync_time=sync_ms,
            )
        )
    except (FitbitImportError, ParticipantError) as error:
        raise _fail(str(error)) from error
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


participants_app = typer.Typer(help="Participant records: enrolment, time zone, authorisation, contact, device.")
app.add_typer(participants_app, name="participants")
AuthorisationOption = Annotated[
    str | None, typer.Option(help="authorised, expired, revoked or never.", show_default=False)
]


def _participants_call(ctx: typer.Context, job: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    import asyncpg

    async def run() -> T:
        connection = await asyncpg.connect(_settings(ctx).database.url)
        try:
            return await job(connection)
        finally:
            await connection.close()

    from stream_processors.participant_records import ParticipantError

    try:
        return asyncio.run(run())
    except ParticipantError as error:
        raise _fail(str(error)) from error


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
        raise _fail(f"no participant {participant!r}")
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
        raise _fail(f"authorisation: {value!r} is not one of {', '.join(get_args(Authorisation))}")


@app.command("process")
def process(
    ctx: typer.Context,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Port of /metrics and /healthz (default WEARSTREAM_PROCESSOR_METRICS_PORT; 0: none)."),
    ] = None,
    log_level: Annotated[str, typer.Option(help="faust worker log level.")] = "warning",
    metrics_host: MetricsHost = "127.0.0.1",
) -> None:
    """Run a stream-processor worker (faust): validate, store, roll up, detect gaps, publish live updates.

    Start several to share the work: they split the topics' partitions within one consumer group.
    """
    import faust

    from core.topics import ensure_topics
    from stream_processors.app import create_app

    settings = _settings(ctx)
    asyncio.run(ensure_topics(settings.kafka))
    port = settings.processor.metrics_port if metrics_port is None else metrics_port
    _serve_metrics(port, metrics_host, with_health=True)
    (settings.stack.state_dir / "processor").mkdir(parents=True, exist_ok=True)
    worker = faust.Worker(create_app(settings), loglevel=log_level, quiet=True)
    worker.execute_from_commandline()


# Commands whose process is traced when OTEL_* configures an exporter: (component, instrumentations).
@app.command("demo")
def demo_command(
    ctx: typer.Context,
    participants: Annotated[int, typer.Option("--participants", "-n", min=1, help="Cohort size.")] = 20,
    days: Annotated[int, typer.Option("--days", "-d", min=1, help="Days to replay (up to yesterday).")] = 2,
) -> None:
    """Run the whole pipeline here: stack, processor, API, a replay, then a summary and the URLs to open.

    Everything keeps running afterwards; `wearstream stack down` stops it all.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from wearstream.demo import run_demo

    settings = _settings(ctx)
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        replaying = bar.add_task("replay ", total=participants * days, info="")
        storing = bar.add_task("stored ", total=None, info="")

        def on_replay(done: int, readings: int) -> None:
            bar.update(replaying, completed=done, info=f"{readings:,} readings published")

        def on_store(stored: int) -> None:
            bar.update(storing, info=f"{stored:,} readings in TimescaleDB")

        try:
            summary = asyncio.run(
                run_demo(
                    settings,
                    participants=participants,
                    days=days,
                    log=console.print,
                    replay_progress=on_replay,
                    store_progress=on_store,
                )
            )
        except (StackError, RuntimeError, OSError) as error:
            raise _fail(str(error)) from error
    out.print(f"\n[bold]Stored readings[/bold] ({summary.replay.total_readings:,} published by this replay)")
    for metric, count in summary.stored.items():
        out.print(f"  {metric:<20} {count:>12,}")
    out.print("[bold]Gaps[/bold]")
    for kind, count in summary.gaps.items() or {"none": 0}.items():
        out.print(f"  {kind:<20} {count:>12,}")
    out.print(f"[bold]Adherence flags[/bold] ({summary.flagged_participants} of {participants} participants flagged)")
    for flag, count in sorted(summary.flags.items()):
        out.print(f"  {flag:<20} {count:>12,}")
    out.print("[bold]Open[/bold]")
    for name, url in summary.urls.items():
        out.print(f"  {name:<20} {url}")
    out.print(f"  {'admin API key':<20} {summary.admin_key}")
    out.print("Everything keeps running; stop it with: .venv/bin/wearstream stack down")


@app.command("estimate")
def estimate_command(
    ctx: typer.Context,
    participants: Annotated[int, typer.Option("--participants", "-n", min=1, help="Study size.")] = 1000,
    years: Annotated[float, typer.Option(min=0.01, help="Study duration in years.")] = 2.0,
    metrics: Annotated[str | None, typer.Option(help="Comma-separated metrics (default: all in the registry).")] = None,
    kafka_retention_days: Annotated[float, typer.Option(help="Days of readings Kafka keeps.")] = 7.0,
) -> None:
    """Capacity estimate: readings, raw and stored bytes, rollups and Kafka retention for a study."""
    from schemas.metrics import METRICS
    from wearstream.capacity import compute, daily_profile, human_bytes, measured_sources

    chosen = [m.strip() for m in metrics.split(",")] if metrics else list(METRICS)
    unknown = [m for m in chosen if m not in METRICS]
    if unknown:
        raise _fail(f"--metrics: unknown metric(s) {', '.join(unknown)}; known: {', '.join(METRICS)}")
    sources = asyncio.run(measured_sources(_settings(ctx).database.url))
    result = compute(
        participants=participants,
        years=years,
        metrics=chosen,
        profile=daily_profile(),
        sources=sources,
        kafka_retention_days=kafka_retention_days,
        rollup_1m_retention_days=_settings(ctx).processor.retention_rollup_1m_days,
    )
    out.print(f"[bold]{participants:,} participants × {years:g} years[/bold] ({', '.join(chosen)})")
    for metric, per_day in result.readings_per_day.items():
        out.print(f"  {metric:<20} {per_day:>10,.0f} readings per participant-day")
    out.print(f"  readings             {result.readings:>14,.0f}")
    out.print(f"  raw bytes            {human_bytes(result.raw_bytes):>14}  (16 B per reading as devices send them)")
    out.print(
        f"  stored raw           {human_bytes(result.stored_bytes):>14}  (bytes/reading from {sources.stored_from})"
    )
    out.print(
        f"  rollups              {human_bytes(result.rollup_bytes):>14}  ({result.rollup_rows:,.0f} rows; 1-minute"
        f" rows kept {_settings(ctx).processor.retention_rollup_1m_days or 'all'} days)"
    )
    out.print(
        f"  Kafka retention      {human_bytes(result.kafka_bytes):>14}  ({kafka_retention_days:g} days,"
        f" {sources.wire_bytes:.1f} B/reading encoded, from {sources.wire_from}; lz4 on the wire shrinks it)"
    )


evaluate_app = typer.Typer(help="Score study-science methods on simulated cohorts (no broker or database).")
app.add_typer(evaluate_app, name="evaluate")


@evaluate_app.command("detectors")
def evaluate_detectors_command(
    participants: Annotated[int, typer.Option("--participants", "-n", min=1, help="Simulated participants.")] = 1000,
    days: Annotated[
        int, typer.Option(min=40, help="Simulated days (episodes' onsets fall in day 35 … days − 10).")
    ] = 120,
    seed: Annotated[int, typer.Option(min=0, help="Simulator seed.")] = 7,
    share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of participants with an illness episode.")
    ] = 0.1,
    window_days: Annotated[int, typer.Option(min=0, help="An alert counts if ≤ this many days before onset.")] = 14,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the scores as JSON here.")] = None,
) -> None:
    """Sensitivity, lead time and false-alert days of each illness detector on a simulated cohort."""
    import msgspec

    from producers.simulator.episodes import EpisodeModel
    from wearstream.evaluate import Plan, evaluate, markdown

    plan = Plan(
        participants=participants,
        days=days,
        seed=seed,
        window_days=window_days,
        episodes=EpisodeModel(share=share, first_onset_day=35, last_onset_day=days - 10),
    )

    def progress(done: int, total: int) -> None:
        if done == total or done % 50 == 0:
            console.print(f"{done}/{total} participants")

    evaluation = evaluate(plan, workers=workers, progress=progress)
    out.print(markdown(evaluation), markup=False, soft_wrap=True)
    if json_out is not None:
        json_out.write_bytes(msgspec.json.format(msgspec.json.encode(evaluation)))


@app.command("bench", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def bench_command(ctx: typer.Context) -> None:
    """Run the benchmarks on the local stack (`wearstream bench --help` for options); results in bench/results/."""
    from bench.runner import main as run_benchmarks

    run_benchmarks(list(ctx.args))


TRACED_COMMANDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "process": ("processor", ("asyncpg",)),
    "replay": ("replay", ("aiokafka",)),
    "import": ("import", ("aiokafka", "asyncpg")),
    "api": ("api", ("asyncpg",)),
}


@app.callback()
def main(
    ctx: typer.Context,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More log output.")] = False,
) -> None:
    ctx.obj = load_settings()
    if verbose:
        import logging

        logging.basicConfig(level=logging.INFO)
    traced = TRACED_COMMANDS.get(ctx.invoked_subcommand or "")
    if traced is not None:
        from core.telemetry import setup_telemetry

        component, instrumentations = traced
        setup_telemetry(ctx.obj.telemetry, component=component, instrument=instrumentations)


from api.cli import register as register_api_commands  # noqa: E402

register_api_commands(app)

from wearstream.client.cli import register as register_export_command  # noqa: E402

register_export_command(app)
