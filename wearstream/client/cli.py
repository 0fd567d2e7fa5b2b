"""`wearstream export`: a study-level dataset from the database, or through the API with `--api` (registered on
the `wearstream` command)."""

from __future__ import annotations

import enum
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from rich.progress import Progress

    from wearstream.client.export import ExportResult, ExportSpec, Reporter

console = Console(stderr=True, highlight=False)


class Resolution(enum.StrEnum):
    raw = "raw"
    m1 = "1m"
    h1 = "1h"
    d1 = "1d"


class Format(enum.StrEnum):
    parquet = "parquet"
    csv = "csv"
    omh = "omh"


class Imputed(enum.StrEnum):
    exclude = "exclude"
    include = "include"
    only = "only"


IMPUTED_HELP = (
    "include: add each series' imputed minutes (the latest complete imputation run) with the columns imputed, "
    "imputation_run, standard_error, lower, upper (and imputed_minutes for rollups); only: the imputed minutes alone."
)


def _names(raw: list[str] | None) -> tuple[str, ...] | None:
    if not raw:
        return None
    return tuple(dict.fromkeys(p.strip() for item in raw for p in item.split(",") if p.strip()))


def register(app: typer.Typer) -> None:
    """Adds `wearstream export` to `app`."""
    app.command("export")(export)


def export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Folder to write the dataset into (created if missing).")],
    participants: Annotated[
        list[str] | None, typer.Option(help="Participant ids (repeat or comma-separate; default: all).")
    ] = None,
    metrics: Annotated[
        list[str] | None, typer.Option(help="Metrics (repeat or comma-separate; default: every metric).")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="Date (participant-local midnight) or RFC 3339; default: all stored.")
    ] = None,
    end: Annotated[str | None, typer.Option(help="Exclusive; date or RFC 3339.")] = None,
    resolution: Annotated[Resolution, typer.Option(help="raw readings or stored rollups.")] = Resolution.raw,
    format: Annotated[
        Format,
        typer.Option(
            "--format",
            help="parquet or csv; omh: Open mHealth data points (JSON lines; heart_rate, steps, spo2, sleep_stage; "
            "raw only) with the tables in Parquet.",
        ),
    ] = Format.parquet,
    api: Annotated[
        str | None,
        typer.Option(
            "--api",
            envvar="WEARSTREAM_CLIENT_URL",
            help="Export through the API at this base URL (e.g. http://127.0.0.1:8000) with --key; "
            "default: straight from the database (WEARSTREAM_DATABASE_READONLY_URL, else the settings' database).",
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option("--key", envvar="WEARSTREAM_CLIENT_KEY", help="API key (researcher or admin) for --api."),
    ] = None,
    fresh: Annotated[bool, typer.Option(help="Rewrite every file instead of resuming a previous run.")] = False,
    imputed: Annotated[Imputed, typer.Option(help=IMPUTED_HELP)] = Imputed.exclude,
) -> None:
    """Export series (Hive-partitioned metric=…/participant=…, zstd Parquet, CSV or Open mHealth JSON lines),
    the participants, daily, sleep, adherence, gaps and alerts tables, codebook.json and README.md, from the
    database (default) or through the API (--api, --key); resumes an interrupted run."""
    from wearstream.client.export import ExportSpec

    if api and not key:
        console.print("[red]error:[/red] --api needs --key (or WEARSTREAM_CLIENT_KEY)")
        raise typer.Exit(code=2)
    _check_format(format, resolution, imputed)
    spec = ExportSpec(
        participants=_names(participants),
        metrics=_chosen_metrics(metrics, omh=format == Format.omh),
        start=start,
        end=end,
        resolution=resolution.value,
        format=format.value,
        imputed=imputed.value,
    )
    _run(ctx, api, key, out, spec, fresh)


def _check_format(format: Format, resolution: Resolution, imputed: Imputed) -> None:
    if format == Format.omh and resolution != Resolution.raw:
        console.print("[red]error:[/red] --format omh: Open mHealth data points are raw readings (--resolution raw)")
        raise typer.Exit(code=2)
    if format == Format.omh and imputed != Imputed.exclude:
        console.print("[red]error:[/red] --imputed: Open mHealth data points are observed readings (--format parquet)")
        raise typer.Exit(code=2)


def _chosen_metrics(metrics: list[str] | None, *, omh: bool) -> tuple[str, ...]:
    """The metrics asked for (default: every metric, or every one OMH has a schema for); exits with code 2 on
    an unknown one."""
    from schemas.metrics import METRICS
    from wearstream.client.omh import SCHEMAS

    known = tuple(m for m in METRICS if m in SCHEMAS) if omh else tuple(METRICS)
    chosen = _names(metrics) or known
    unknown = [m for m in chosen if m not in known]
    if unknown:
        what = "without an Open mHealth schema" if omh else "unknown"
        console.print(f"[red]error:[/red] --metrics: {what} {', '.join(unknown)} (known: {', '.join(known)})")
        raise typer.Exit(code=2)
    return chosen


def _progress_bar() -> tuple[Progress, Reporter]:
    """A rich progress bar on stderr (shown on a terminal, or with WEARSTREAM_PROGRESS) and the export's
    reporter that drives it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from wearstream.client.export import Reporter

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[readings]:,} rows, {task.fields[rate]:,.0f}/s"),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal and not os.environ.get("WEARSTREAM_PROGRESS"),
    )

    class Bar(Reporter):
        def __init__(self) -> None:
            self.task = progress.add_task("series", total=None, readings=0, rate=0.0)
            self.rows = 0
            self.began = time.perf_counter()

        def start(self, parts: int) -> None:
            progress.update(self.task, total=parts)

        def readings(self, count: int) -> None:
            self.rows += count
            rate = self.rows / max(1e-9, time.perf_counter() - self.began)
            progress.update(self.task, readings=self.rows, rate=rate)

        def part_done(self, name: str) -> None:
            progress.update(self.task, advance=1, description=f"series {name}")

        def table(self, name: str) -> None:
            progress.update(self.task, description=f"table {name}")

    return progress, Bar()


def _run(ctx: typer.Context, api: str | None, key: str | None, out: Path, spec: ExportSpec, fresh: bool) -> None:
    """Runs the export with a progress bar and prints what it wrote; a client error exits with code 1."""
    from wearstream.client import Client, ClientError
    from wearstream.client.export import run_export

    progress, bar = _progress_bar()
    try:
        if api:
            with Client(api, key or "") as client, progress:
                result = run_export(client, out, spec, fresh=fresh, report=bar)
        else:
            result = _from_database(ctx, out, spec, fresh, progress, bar)
    except ClientError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(code=1) from error
    console.print(
        f"exported {result.readings:,} rows in {result.parts_written} new and {result.parts_kept} kept files, "
        f"tables {', '.join(f'{k} ({v})' for k, v in result.tables.items())} in {result.seconds:.1f} s → {out}"
    )
    for table, reason in result.missing.items():
        console.print(f"[yellow]not exported:[/yellow] {table}: {reason}")


def _from_database(
    ctx: typer.Context, out: Path, spec: ExportSpec, fresh: bool, progress: Progress, bar: Reporter
) -> ExportResult:
    """The export straight from the database; an unreachable database exits with code 1."""
    import asyncpg

    from core.cli import fail, settings_of
    from wearstream.raw_export import run_database_export

    try:
        with progress:
            return run_database_export(settings_of(ctx), out, spec, fresh=fresh, report=bar)
    except (OSError, asyncpg.PostgresError) as error:
        raise fail(f"cannot read the database: {error}") from error
