"""The whole-system commands: `wearstream demo`, `wearstream estimate`, `wearstream evaluate detectors|imputation`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from core.cli import console, fail, out, settings_of
from deploy.local.errors import StackError

evaluate_app = typer.Typer(help="Score study-science methods on simulated cohorts (no broker or database).")


def demo_command(
    ctx: typer.Context,
    participants: Annotated[int, typer.Option("--participants", "-n", min=1, help="Cohort size.")] = 20,
    days: Annotated[int, typer.Option("--days", "-d", min=1, help="Days to replay (up to yesterday).")] = 2,
    with_monitoring: Annotated[
        bool,
        typer.Option(
            "--with-monitoring",
            help="Also Prometheus, Alertmanager and Zipkin; the replay is traced and a batch's trace URL printed.",
        ),
    ] = False,
) -> None:
    """Run the whole pipeline here: stack, processor, API, a replay, then a summary and the URLs to open.

    Everything keeps running afterwards; `wearstream stack down` stops it all.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from wearstream.demo import run_demo

    settings = settings_of(ctx)
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
                    with_monitoring=with_monitoring,
                )
            )
        except (StackError, RuntimeError, OSError) as error:
            raise fail(str(error)) from error
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


ChallengeOption = Annotated[
    bool,
    typer.Option(
        "--challenge",
        help="Answer the original challenge's question instead: 4 metrics each at 1 Hz for n = 1, 1,000,"
        " 10,000 × 1, 2, 5 years, and n = 1,000 × 2 years × 3 metrics; uncompressed, at 80 % compression"
        " and as wearstream stores a 1 Hz stream.",
    ),
]


def estimate_command(
    ctx: typer.Context,
    participants: Annotated[int, typer.Option("--participants", "-n", min=1, help="Study size.")] = 1000,
    years: Annotated[float, typer.Option(min=0.01, help="Study duration in years.")] = 2.0,
    metrics: Annotated[str | None, typer.Option(help="Comma-separated metrics (default: all in the registry).")] = None,
    kafka_retention_days: Annotated[float, typer.Option(help="Days of readings Kafka keeps.")] = 7.0,
    brokers: Annotated[
        int | None,
        typer.Option(
            min=1, help="Kafka brokers; topics get min(3, brokers) replicas (default: WEARSTREAM_KAFKA_BROKERS)."
        ),
    ] = None,
    challenge: ChallengeOption = False,
) -> None:
    """Capacity estimate: readings, raw and stored bytes, rollups and Kafka retention for a study."""
    if challenge:
        _print_challenge(settings_of(ctx).processor.retention_rollup_1m_days)
        return
    from schemas.metrics import METRICS
    from wearstream.capacity import compute, daily_profile, human_bytes, kafka_footprint, measured_sources

    chosen = [m.strip() for m in metrics.split(",")] if metrics else list(METRICS)
    unknown = [m for m in chosen if m not in METRICS]
    if unknown:
        raise fail(f"--metrics: unknown metric(s) {', '.join(unknown)}; known: {', '.join(METRICS)}")
    sources = asyncio.run(measured_sources(settings_of(ctx).database.url))
    result = compute(
        participants=participants,
        years=years,
        metrics=chosen,
        profile=daily_profile(),
        sources=sources,
        kafka_retention_days=kafka_retention_days,
        rollup_1m_retention_days=settings_of(ctx).processor.retention_rollup_1m_days,
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
        f" rows kept {settings_of(ctx).processor.retention_rollup_1m_days or 'all'} days)"
    )
    out.print(
        f"  Kafka retention      {human_bytes(result.kafka_bytes):>14}  ({kafka_retention_days:g} days,"
        f" {sources.wire_bytes:.1f} B/reading encoded, from {sources.wire_from}; lz4 on the wire shrinks it)"
    )
    kafka = kafka_footprint(result, brokers=brokers or settings_of(ctx).stack.kafka_brokers)
    out.print(
        f"  Kafka on {kafka.brokers} broker(s) {human_bytes(kafka.disk_total):>8}  ({kafka.replicas} replicas:"
        f" {human_bytes(kafka.disk_per_broker)} per broker; {human_bytes(kafka.produced_per_day)}/day produced,"
        f" {human_bytes(kafka.replication_per_day)}/day replicated, {human_bytes(kafka.consumed_per_day)}/day"
        f" consumed; writes go on with {kafka.broker_losses_tolerated} broker(s) down)"
    )


def _print_challenge(rollup_1m_retention_days: float) -> None:
    from rich.table import Table

    from wearstream.capacity import human_bytes
    from wearstream.challenge import UNCOMPRESSED_BYTES, challenge_row, challenge_sources, challenge_table

    sources = challenge_sources(rollup_1m_retention_days)
    table = Table(title="4 metrics, each sampled once a second")
    for column in ("participants", "years", "readings", "uncompressed", "at 80 %", "stored raw", "rollups"):
        table.add_column(column, justify="right")
    rows = [*challenge_table(sources), challenge_row(1000, 2, 3, sources)]
    for row in rows:
        table.add_row(
            f"{row.participants:,}" + ("" if row.metrics == 4 else f" ({row.metrics} metrics)"),
            f"{row.years:g}",
            f"{row.readings:,.0f}",
            human_bytes(row.uncompressed_bytes),
            human_bytes(row.compressed_80_bytes),
            human_bytes(row.stored_raw_bytes),
            human_bytes(row.rollup_bytes),
        )
    out.print(table)
    out.print(
        f"uncompressed: {UNCOMPRESSED_BYTES} B per reading (8-byte time + 8-byte value); stored raw:"
        f" {sources.stored_bytes:.2f} B per reading from {sources.stored_from}; rollups: 1,440 one-minute rows"
        f" per metric-day at {sources.rollup_row_bytes:.0f} B kept {rollup_1m_retention_days or 'all'} days,"
        " hours and days for ever. The last row is the challenge's n = 1,000 × 2 years × 3 metrics."
    )


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


@evaluate_app.command("imputation")
def evaluate_imputation_command(
    participants: Annotated[int, typer.Option("--participants", "-n", min=1, help="Simulated participants.")] = 100,
    days: Annotated[int, typer.Option(min=7, help="Simulated days per participant.")] = 28,
    seed: Annotated[int, typer.Option(min=0, help="First seed (simulator and mask placement).")] = 7,
    seeds: Annotated[int, typer.Option(min=1, help="Repetitions, with seeds seed, seed + 1, ….")] = 3,
    masks: Annotated[int, typer.Option(min=1, help="Masked stretches per participant and gap bucket.")] = 3,
    export: Annotated[
        Path | None,
        typer.Option(help="Also score a Fitbit/wearipedia export folder (.json or .json.gz files; UTC times)."),
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the scores as JSON here.")] = None,
) -> None:
    """MAE, RMSE and interval coverage of each imputation method per metric and gap length, by masking observed
    stretches of a simulated cohort with the lengths of the not_worn gaps the processor finds."""
    import msgspec

    from wearstream.imputation_eval import Plan, evaluate
    from wearstream.imputation_export import with_export
    from wearstream.imputation_table import markdown

    if export is not None and not export.is_dir():
        raise fail(f"--export: {export} is not a folder")
    plan = Plan(participants=participants, days=days, seed=seed, seeds=seeds, masks_per_bucket=masks)

    def progress(done: int, total: int) -> None:
        if done == total or done % 10 == 0:
            console.print(f"{done}/{total} participant-repetitions")

    evaluation = evaluate(plan, progress=progress)
    if export is not None:
        evaluation = with_export(evaluation, export)
    out.print(markdown(evaluation), markup=False, soft_wrap=True)
    if json_out is not None:
        json_out.write_bytes(msgspec.json.format(msgspec.json.encode(evaluation)))


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
    app.command("estimate")(estimate_command)
    app.add_typer(evaluate_app, name="evaluate")
