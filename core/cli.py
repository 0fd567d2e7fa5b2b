"""What every package's commands share: the settings read once at the entry point, the consoles, errors.

Each package contributes its own commands to the `wearstream` command (`<package>/cli.py: register(app)`);
`wearstream/cli.py` only composes them. The root callback reads the settings once into the Typer context;
commands take them from there with `settings_of`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console

from core.settings import Settings, load_settings

console = Console(stderr=True, highlight=False)  # progress, warnings and errors
out = Console(highlight=False)  # results

MetricsHost = Annotated[str, typer.Option(help="Address the /metrics server listens on (0.0.0.0 in containers).")]


def settings_of(ctx: typer.Context) -> Settings:
    """The settings the root callback read (read here when a command runs without it, as in tests)."""
    if not isinstance(ctx.obj, Settings):
        ctx.obj = load_settings()
    return ctx.obj


def fail(message: str) -> typer.Exit:
    """Prints `error: message`; raise the returned exit (code 1)."""
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)


def serve_metrics(port: int, host: str, *, start: Callable[[int, str], object] | None = None) -> None:
    """Serves Prometheus /metrics in a background thread (or what `start` serves, e.g. a worker's /healthz too);
    a busy port is reported, not fatal."""
    if not port:
        return
    from prometheus_client import start_http_server

    try:
        if start is None:
            start_http_server(port, addr=host)
        else:
            start(port, host)
    except OSError as error:
        console.print(f"[yellow]warning:[/yellow] no /metrics on {host}:{port}: {error}")
        return
    console.print(f"metrics on http://{host}:{port}/metrics")


def register(app: typer.Typer) -> None:
    """`wearstream topics create`."""
    topics_app = typer.Typer(help="Kafka topics.")
    app.add_typer(topics_app, name="topics")

    @topics_app.command("create")
    def topics_create(ctx: typer.Context) -> None:
        """Create the readings, participants, gaps, alerts, live and dead-letter topics that are missing."""
        import asyncio

        from core.topics import ensure_topics

        settings = settings_of(ctx)
        created = asyncio.run(ensure_topics(settings.kafka))
        out.print(f"topics up to date ({len(created)} created now, prefix {settings.kafka.topic_prefix!r})")
