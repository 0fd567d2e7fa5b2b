"""`wearstream impute` refuses bad options with a clear message before touching the database."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from wearstream.cli import app


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "kalman"], "unknown imputation method 'kalman'; known: neighbour_mean"),
        (["--start", "yesterday"], "--start: 'yesterday' is not an ISO date"),
        (["--start", "2026-01-05", "--end", "2026-01-04"], "--start must be before --end"),
        (["--metrics", "heart_rate,pulse"], "unknown metric(s) pulse"),
    ],
)
def test_bad_options_are_named(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["impute", *args])
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())


def test_help_names_the_methods_and_the_run_commands() -> None:
    result = CliRunner().invoke(app, ["impute", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for word in ("--run-id", "--list", "--delete", "bridge (the default)", "profile", "neighbour_median"):
        assert word in text
