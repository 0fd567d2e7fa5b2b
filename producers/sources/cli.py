"""`wearstream sources …`: the device sources' commands (enrolment, the runner, status), one Typer group."""

from __future__ import annotations

import typer

sources_app = typer.Typer(
    name="sources",
    help="Device sources (the Google Health API connector, the simulator, export files): enrol, sync, status.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(sources_app)
