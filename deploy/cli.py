"""The local stack's commands: `wearstream stack up|down|status|smoke`."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

from core.cli import console, fail, out, settings_of
from core.settings import Settings
from core.stack_settings import BROKER_COUNTS
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


Brokers = Annotated[
    int | None,
    typer.Option(
        "--brokers",
        help="Kafka nodes: 1 (on WEARSTREAM_KAFKA_PORT) or 3, a KRaft cluster (each node broker and controller, "
        "topics replicated ×3, min.insync.replicas=2) on WEARSTREAM_KAFKA_CLUSTER_PORT and the next two, in "
        "its own directory. Default: WEARSTREAM_KAFKA_BROKERS (1). Other commands reach the cluster with "
        "WEARSTREAM_KAFKA_BROKERS=3 (or WEARSTREAM_KAFKA_BOOTSTRAP_SERVERS).",
    ),
]


def local_stack(
    settings: Settings, *, with_monitoring: bool, if_running: bool = False, brokers: int | None = None
) -> LocalStack:
    """The stack `settings` describe (with `brokers` Kafka nodes when given); with monitoring when asked (or,
    with `if_running`, when it runs)."""
    from deploy.local.monitoring import LocalMonitoring
    from deploy.local.stack import LocalStack

    monitoring = LocalMonitoring.from_settings(settings)
    wanted = with_monitoring or (if_running and monitoring.running())
    stack = settings.stack
    if brokers is not None:
        if brokers not in BROKER_COUNTS:
            raise typer.BadParameter(f"{brokers}: the local stack runs 1 or 3 Kafka brokers", param_hint="--brokers")
        stack = stack.model_copy(update={"kafka_brokers": brokers})
    return LocalStack(stack, monitoring=monitoring if wanted else None)


def stack_up(ctx: typer.Context, with_monitoring: WithMonitoring = False, brokers: Brokers = None) -> None:
    """Install what is missing, then start Kafka (one node, or with --brokers 3 a cluster) and TimescaleDB
    (harmless when already running)."""
    settings = settings_of(ctx)
    stack = local_stack(settings, with_monitoring=with_monitoring, brokers=brokers)
    try:
        stack.up(console.print)
    except StackError as error:
        raise fail(str(error)) from error
    for status in stack.status():
        out.print(status.line())
    if stack.brokers > 1:
        console.print(f"kafka cluster: bootstrap servers {stack.kafka_bootstrap} (WEARSTREAM_KAFKA_BROKERS=3)")


def stack_down(ctx: typer.Context, with_monitoring: WithMonitoring = False) -> None:
    """Stop the components this stack started, the single broker or the 3-broker cluster (others are left alone;
    monitoring too when it runs)."""
    try:
        local_stack(settings_of(ctx), with_monitoring=with_monitoring, if_running=True).down(console.print)
    except StackError as error:
        raise fail(str(error)) from error


def stack_status(ctx: typer.Context, with_monitoring: WithMonitoring = False, brokers: Brokers = None) -> None:
    """One line per component (each cluster node its own): name, address, version. Exits non-zero if any
    component is down. A running 3-broker cluster is shown without --brokers 3."""
    statuses = local_stack(settings_of(ctx), with_monitoring=with_monitoring, brokers=brokers).status()
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
