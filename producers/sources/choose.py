"""Building the source a command names (`--source simulator|files`) from its options."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Final

from core.settings import Settings
from producers.sources.base import Source

NAMES: Final = ("simulator", "files")


class ChoiceError(ValueError):
    """The options do not make a source; the message says which option to give."""


def simulator_start(settings: Settings, seed: int) -> dt.date:
    """The first day a replay of `seed` recorded in the watermarks topic (so the source serves the same cohort)."""
    from producers.replay import SOURCE
    from producers.watermarks import load_watermarks

    marks = asyncio.run(load_watermarks(settings.kafka, SOURCE))
    starts = {m.start for m in marks.values() if m.seed == seed and m.start is not None}
    if len(starts) != 1:
        found = ", ".join(sorted(str(s) for s in starts)) or "none"
        raise ChoiceError(f"--start: give the simulator's first day (replays of seed {seed} recorded: {found})")
    return starts.pop()


def build_source(
    settings: Settings,
    name: str,
    *,
    seed: int = 1,
    start: str | None = None,
    files_root: Path | None = None,
    timezones: dict[str, str] | None = None,
) -> Source:
    if name == "simulator":
        from producers.sources.simulator import SimulatorSource

        try:
            first = dt.date.fromisoformat(start) if start else simulator_start(settings, seed)
        except ValueError as error:
            raise ChoiceError(str(error) if isinstance(error, ChoiceError) else f"--start: {error}") from error
        return SimulatorSource(seed=seed, start=first)
    if name == "files":
        from producers.sources.files import FileSource

        if files_root is None or not files_root.is_dir():
            raise ChoiceError("--files-root: give the folder of export folders, one per participant (ROOT/P0001/)")
        return FileSource(files_root, timezone_of=timezones or {})
    raise ChoiceError(f"--source: {name!r} is not one of {', '.join(NAMES)}")
