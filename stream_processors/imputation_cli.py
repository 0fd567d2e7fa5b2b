"""`wearstream impute`: post-study imputation of `not_worn` gaps (and, where asked, the minutes missing inside
`not_synced` gaps) into the imputation tables, with provenance."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated

import typer

from core.cli import console, fail, out, settings_of

_METHOD_HELP = "bridge (the default), profile, neighbour_mean, neighbour_median or linear."


_Gaps = Annotated[
    str,
    typer.Option(
        "--gaps",
        help="Comma-separated gap kinds to fill: not_worn, and not_synced (the minutes without a reading inside a"
        " gap between uploads, outside not_worn gaps).",
    ),
]
_RunId = Annotated[
    str | None, typer.Option("--run-id", help="Names the run; the same id again resumes it (default: new id).")
]
_Participants = Annotated[
    str | None, typer.Option(help="Comma-separated participant ids (default: all with gaps of those kinds).")
]


def _instant(option: str, text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError as error:
        raise fail(
            f"{option}: {text!r} is not an ISO date or date-time (e.g. 2026-01-05 or 2026-01-05T06:00Z)"
        ) from error
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def impute_command(
    ctx: typer.Context,
    run_id: _RunId = None,
    participants: _Participants = None,
    metrics: Annotated[str, typer.Option(help="Comma-separated metrics to fill.")] = "heart_rate,steps,spo2,hrv_rmssd",
    start: Annotated[
        str | None, typer.Option(help="Only gaps starting at or after this (ISO; UTC if no zone).")
    ] = None,
    end: Annotated[str | None, typer.Option(help="Only gaps starting before this (ISO; UTC if no zone).")] = None,
    method: Annotated[str, typer.Option(help=_METHOD_HELP)] = "bridge",
    gaps: _Gaps = "not_worn",
    list_runs: Annotated[bool, typer.Option("--list", help="List the imputation runs and exit.")] = False,
    delete: Annotated[str | None, typer.Option("--delete", metavar="RUN", help="Delete a run and its rows.")] = None,
) -> None:
    """Fill not_worn gaps (with --gaps, also the minutes missing inside not_synced gaps) at 1-minute resolution
    from the stored data, into the imputation tables (never the raw data): every point with its run, method,
    version, parameters, uncertainty and gap. Gaps longer than the method's valid range are left empty and
    reported."""
    from stream_processors.imputation import method_named

    url = settings_of(ctx).database.url
    if list_runs or delete is not None:
        asyncio.run(_list_or_delete(url, delete))
        return
    from stream_processors.errors import ImputationError
    from stream_processors.imputation.job import Request, impute

    try:
        chosen = method_named(method)
    except ValueError as error:
        raise fail(f"--method: {error}") from error
    request = Request(
        run_id=run_id or f"{method}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}",
        participants=[p.strip() for p in participants.split(",") if p.strip()] if participants else None,
        metrics=[m.strip() for m in metrics.split(",") if m.strip()],
        start=_instant("--start", start),
        end=_instant("--end", end),
        gap_kinds=[k.strip() for k in gaps.split(",") if k.strip()],
    )
    if request.start and request.end and request.start >= request.end:
        raise fail("--start must be before --end")
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("impute "), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("impute", total=None)
        try:
            outcome = asyncio.run(
                impute(url, chosen, request, progress=lambda done, total: bar.update(task, completed=done, total=total))
            )
        except (ImputationError, ValueError, OSError) as error:
            raise fail(str(error)) from error
    out.print(
        f"run {request.run_id} ({chosen.name} {chosen.version}): {outcome.participants:,} participants"
        f" ({outcome.resumed:,} finished before), {outcome.points:,} points, {outcome.gaps_filled:,} gaps filled,"
        f" {outcome.gaps_skipped:,} left empty"
    )
    for reason, count in sorted(outcome.reasons.items()):
        out.print(f"  left empty ({count:,}): {reason}")


async def _list_or_delete(url: str, delete: str | None) -> None:
    import asyncpg

    from stream_processors.errors import ImputationError
    from stream_processors.imputation.store import delete_run, list_runs

    connection = await asyncpg.connect(url)
    try:
        if delete is not None:
            try:
                points = await delete_run(connection, delete)
            except ImputationError as error:
                raise fail(str(error)) from error
            out.print(f"deleted run {delete} ({points:,} points)")
            return
        runs = await list_runs(connection)
    finally:
        await connection.close()
    if not runs:
        out.print("no imputation runs")
    for run in runs:
        out.print(
            f"{run.run_id}  {run.method} {run.method_version}  {run.status}  {run.created_at:%Y-%m-%d %H:%M}"
            f"  {run.participants:,} participants  {run.points:,} points  {run.gaps_filled:,} gaps filled"
            f"  {run.gaps_skipped:,} left empty"
        )


def register(app: typer.Typer) -> None:
    app.command("impute")(impute_command)
