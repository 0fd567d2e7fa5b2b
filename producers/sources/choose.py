"""Building the source a command names (`--source simulator|files`) from its options."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import asyncpg

from core.settings import Settings
from producers.sources.base import Source

if TYPE_CHECKING:
    from producers.sources.google_health.settings import GoogleHealthSettings
    from producers.sources.google_health.tokens import Sealer

NAMES: Final = ("simulator", "files", "google_health")


@dataclass(frozen=True)
class PoolBound:
    """A source that needs the runner's database pool (and resources of its own) to exist: `open(pool)`
    yields it for the length of a sync or run."""

    name: str
    open: Callable[[asyncpg.Pool], AbstractAsyncContextManager[Source]]


def google_health(connector: GoogleHealthSettings | None = None, sealer: Sealer | None = None) -> PoolBound:
    """The Google Health connector, from `WEARSTREAM_GOOGLE_HEALTH_*` and the sealing key unless given."""
    import httpx

    from producers.sources.google_health.settings import GoogleHealthSettings
    from producers.sources.google_health.source import GoogleHealthSource
    from producers.sources.google_health.tokens import SOURCE, GrantStore, Sealer, SealError

    settings = connector or GoogleHealthSettings()
    if not settings.client_id:
        raise ChoiceError("--source google_health: set WEARSTREAM_GOOGLE_HEALTH_CLIENT_ID (see docs/sources.md)")
    try:
        keys = sealer or Sealer.from_config(settings.sources_key, settings.sources_key_file)
    except (ValueError, SealError) as error:
        raise ChoiceError(f"--source google_health: the sealing key: {error}") from error

    @asynccontextmanager
    async def opened(pool: asyncpg.Pool) -> AsyncIterator[Source]:
        async with httpx.AsyncClient(timeout=30) as http:
            yield GoogleHealthSource(settings, http, GrantStore(pool, keys))

    return PoolBound(SOURCE, opened)


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
) -> Source | PoolBound:
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
    if name == "google_health":
        return google_health()
    raise ChoiceError(f"--source: {name!r} is not one of {', '.join(NAMES)}")
