"""The `wearstream` command: one entry point; each package contributes its own commands.

The root callback reads the settings from the environment once, into the Typer context, and sets tracing up
for the long-running commands; everything else is registered by the package that owns it
(`<package>/cli.py: register(app)`). The benchmarks are not a product command: `python -m bench`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated

import typer

from core.settings import load_settings

app = typer.Typer(
    name="wearstream",
    help="Event-streaming pipeline for wearable data in clinical studies (Kafka → faust → TimescaleDB → API).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# Commands whose process is traced when a Zipkin runs or OTEL_* configures an exporter: (component, instrumentations).
TRACED_COMMANDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "process": ("processor", ("asyncpg",)),
    "replay": ("replay", ("aiokafka",)),
    "import": ("import", ("aiokafka", "asyncpg")),
    "api": ("api", ("asyncpg",)),
}


@app.callback()
def main(
    ctx: typer.Context,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log at DEBUG (instead of WEARSTREAM_TELEMETRY_LOG_LEVEL).")
    ] = False,
) -> None:
    from core.logs import setup_logging

    settings = load_settings()
    if verbose:
        telemetry = settings.telemetry.model_copy(update={"log_level": "DEBUG"})
        settings = settings.model_copy(update={"telemetry": telemetry})
    ctx.obj = settings
    setup_logging(settings.telemetry)
    traced = TRACED_COMMANDS.get(ctx.invoked_subcommand or "")
    if traced is not None:
        from core.telemetry import setup_telemetry, zipkin_url_of

        component, instrumentations = traced
        setup_telemetry(
            settings.telemetry, component=component, instrument=instrumentations, zipkin_url=zipkin_url_of(settings)
        )


def _registrations() -> tuple[Callable[[typer.Typer], None], ...]:
    """Each package's `register`, in the order `wearstream --help` lists their commands."""
    import api.cli
    import core.cli
    import deploy.cli
    import producers.cli
    import producers.sources.cli
    import producers.sources.google_health.cli
    import producers.sources.google_health.enrolment
    import stream_processors.cli
    import stream_processors.imputation_cli
    import stream_processors.participants_cli
    import wearstream.client.cli
    import wearstream.commands

    return (
        deploy.cli.register,
        stream_processors.cli.register,
        core.cli.register,
        producers.cli.register,
        producers.sources.cli.register,
        producers.sources.google_health.cli.register,
        stream_processors.participants_cli.register,
        stream_processors.imputation_cli.register,
        wearstream.commands.register,
        functools.partial(
            api.cli.register, enrolments=producers.sources.google_health.enrolment.enrolments_from_environment
        ),
        wearstream.client.cli.register,
    )


for _register in _registrations():
    _register(app)
