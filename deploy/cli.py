"""The local stack's commands: `wearstream stack up|down|status|smoke`."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

from core.cli import console, fail, out, settings_of
from core.settings import Settings
from deploy.local.errors import StackError

if TYPE_CHECKING:
    from deploy.local.stack import LocalStack

WithMonitoring = Annotated[
    bool,
    typer.Option(
        "--with-monitoring",
        help="Also Prometheus and Alertmanager (Debian packages), scraping the local processes' /metrics, and "
        "Zipkin (Maven Central), receiving their traces.",
    ),
]


def local_stack(settings: Settings, *, with_monitoring: bool, if_running: bool = False) -> LocalStack:
    """The stack `settings` describe; with monitoring when asked (or, with `if_running`, when it runs)."""
    from deploy.local.monitoring import LocalMonitoring
    from deploy.local.stack import LocalStack

    monitoring = LocalMonitoring.from_settings(settings)
    wanted = with_monitoring or (if_running and monitoring.running())
    return LocalStack(settings.stack, monitoring=monitoring if wanted else None)


def stack_up(ctx: typer.Context, with_monitoring: WithMonitoring = False) -> None:
    """Install what is missing, then start Kafka and TimescaleDB (harmless when already running)."""
    settings = settings_of(ctx)
    try:
        local_stack(settings, with_monitoring=with_monitoring).up(console.print)
    except StackError as error:
        raise fail(str(error)) from error
    for status in local_stack(settings, with_monitoring=with_monitoring).status():
        out.print(status.line())


def stack_down(ctx: typer.Context, with_monitoring: WithMonitoring = False) -> None:
    """Stop the components this stack started (others are left alone; monitoring too when it runs)."""
    try:
        local_stack(settings_of(ctx), with_monitoring=with_monitoring, if_running=True).down(console.print)
    except StackError as error:
        raise fail(str(error)) from error


def stack_status(ctx: typer.Context, with_monitoring: WithMonitoring = False) -> None:
    """One line per component: name, address, version. Exits non-zero if any component is down."""
    statuses = local_stack(settings_of(ctx), with_monitoring=with_monitoring).status()
    for status in statuses:
        out.print(status.line())
    if not all(s.up for s in statuses):
        raise typer.Exit(code=1)


def stack_smoke(ctx: typer.Context) -> None:
    """Check the running stack end to end: a Kafka round trip through a consumer group and a hypertable."""
    from deploy.local.smoke import smoke

    try:
        lines = asyncio.run(smoke(settings_of(ctx)))
    except Exception as error:
        raise fail(f"smoke check failed: {error}") from error
    for line in lines:
        out.print(line)


def register(app: typer.Typer) -> None:
    stack_app = typer.Typer(help="The local stack without Docker: Apache Kafka (KRaft) and PostgreSQL + TimescaleDB.")
    for name, command in (("up", stack_up), ("down", stack_down), ("status", stack_status), ("smoke", stack_smoke)):
        stack_app.command(name)(command)
    app.add_typer(stack_app, name="stack")
