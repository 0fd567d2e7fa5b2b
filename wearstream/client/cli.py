"""`wearstream export`: a study-level dataset through the API (registered on the `wearstream` command)."""

from __future__ import annotations

import enum
import os
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console(stderr=True, highlight=False)
DEFAULT_API: str = "http://127.0.0.1:8000"


class Resolution(enum.StrEnum):
    raw = "raw"
    m1 = "1m"
    h1 = "1h"
    d1 = "1d"


class Format(enum.StrEnum):
    parquet = "parquet"
    csv = "csv"


def _names(raw: list[str] | None) -> tuple[str, ...] | None:
    if not raw:
        return None
    return tuple(dict.fromkeys(p.strip() for item in raw for p in item.split(",") if p.strip()))


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export(
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
        format: Annotated[Format, typer.Option("--format", help="File format.")] = Format.parquet,
        api: Annotated[str, typer.Option("--api", envvar="WEARSTREAM_CLIENT_URL", help="API base URL.")] = DEFAULT_API,
        key: Annotated[
            str | None, typer.Option("--key", envvar="WEARSTREAM_CLIENT_KEY", help="API key (researcher or admin).")
        ] = None,
        fresh: Annotated[bool, typer.Option(help="Rewrite every file instead of resuming a previous run.")] = False,
    ) -> None:
        """Export series (Hive-partitioned metric=…/participant=…, zstd Parquet or CSV), the daily, sleep,
        adherence, gaps and alerts tables, codebook.json and README.md; resumes an interrupted run."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from schemas.metrics import METRICS
        from wearstream.client import Client, ClientError
        from wearstream.client.export import ExportSpec, Reporter, run_export

        if not key:
            console.print("[red]error:[/red] --key (or WEARSTREAM_CLIENT_KEY) is required")
            raise typer.Exit(code=2)
        chosen = _names(metrics) or tuple(METRICS)
        unknown = [m for m in chosen if m not in METRICS]
        if unknown:
            console.print(f"[red]error:[/red] --metrics: unknown {', '.join(unknown)} (known: {', '.join(METRICS)})")
            raise typer.Exit(code=2)
        spec = ExportSpec(
            participants=_names(participants),
            metrics=chosen,
            start=start,
            end=end,
            resolution=resolution.value,
            format=format.value,
        )
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

        try:
            with Client(api, key) as client, progress:
                result = run_export(client, out, spec, fresh=fresh, report=Bar())
        except ClientError as error:
            console.print(f"[red]error:[/red] {error}")
            raise typer.Exit(code=1) from error
        console.print(
            f"exported {result.readings:,} rows in {result.parts_written} new and {result.parts_kept} kept files, "
            f"tables {', '.join(f'{k} ({v})' for k, v in result.tables.items())} in {result.seconds:.1f} s → {out}"
        )
        for table, reason in result.missing.items():
            console.print(f"[yellow]not exported:[/yellow] {table}: {reason}")
