"""The store's commands: `wearstream process` (a stream-processor worker) and `wearstream db migrate|compact|
retention|summaries`."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from core.cli import MetricsHost, console, fail, out, serve_metrics, settings_of

db_app = typer.Typer(help="Database: migrations, compaction of raw segments, retention, summaries.")


@db_app.command("migrate")
def db_migrate(ctx: typer.Context) -> None:
    """Apply pending SQL migrations from schemas/migrations (each once, in a transaction)."""
    from schemas.migrate import MigrationError, migrate

    settings = settings_of(ctx)
    try:
        applied = asyncio.run(migrate(settings.database.url, log=console.print))
    except (MigrationError, OSError) as error:
        raise fail(str(error)) from error
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
        pool = await create_pool(settings_of(ctx).database.url, size=2)
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

    settings = settings_of(ctx)

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
        raise fail("nothing to do: pass --rebuild")
    settings = settings_of(ctx)

    async def run() -> tuple[int, int]:
        connection = await asyncpg.connect(settings.database.url)
        try:
            return await rebuild_summaries(connection, participant or None)
        finally:
            await connection.close()

    days, nights = asyncio.run(run())
    out.print(f"summaries rebuilt: {days:,} days, {nights:,} nights")


def process(
    ctx: typer.Context,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Port of /metrics and /healthz (default WEARSTREAM_PROCESSOR_METRICS_PORT; 0: none)."),
    ] = None,
    log_level: Annotated[str | None, typer.Option(help="Log level (default WEARSTREAM_TELEMETRY_LOG_LEVEL).")] = None,
    metrics_host: MetricsHost = "127.0.0.1",
) -> None:
    """Run a stream-processor worker (faust): validate, store, roll up, detect gaps, publish live updates.

    Start several to share the work: they split the topics' partitions within one consumer group.
    """
    import faust

    from core.logs import logging_config, with_level
    from core.topics import ensure_topics, with_cluster_replication
    from stream_processors.app import create_app

    settings = settings_of(ctx)
    asyncio.run(ensure_topics(settings.kafka))
    # faust creates topics of its own (the assignor's leader topic): replicated as ours are.
    settings = settings.model_copy(update={"kafka": asyncio.run(with_cluster_replication(settings.kafka))})
    port = settings.processor.metrics_port if metrics_port is None else metrics_port
    from stream_processors import health

    serve_metrics(port, metrics_host, start=health.serve)
    (settings.stack.state_dir / "processor").mkdir(parents=True, exist_ok=True)
    try:
        telemetry = with_level(settings.telemetry, log_level)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--log-level") from error
    worker = faust.Worker(
        create_app(settings), loglevel=telemetry.log_level, logging_config=logging_config(telemetry), quiet=True
    )
    worker.execute_from_commandline()


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.command("process")(process)
