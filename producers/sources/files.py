"""Device export files as a source: a folder per participant (`ROOT/P0001/*.json`, Fitbit Web API or wearipedia
JSON, read by the same parser as `wearstream import`), served one window per page.

Readings are exactly what `wearstream import` publishes for the same files (marked `origin="import"`), stamped
with the newest file's modification time as their sync time, so re-reading unchanged files sends batches the
processor already holds, and a corrected file wins over the earlier one. Not done here, unlike `wearstream
import`: device-reported daily values are not published, the `imports` table gets no row, and a participant
must already have a record (the runner pulls for enrolled participants only)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Final

from producers.fitbit import FitbitImportError, ImportResult, import_files
from producers.sources.base import Gone, MetricSpec, NotAuthorised, Page, SourceError, Window
from producers.sources.batches import cut
from schemas.metrics import METRICS

NAME: Final = "files"
DAY_MS: Final = 86_400_000
LOOKBACK_MS: Final = 30 * DAY_MS
"""A new export usually covers the last weeks again."""
MAX_WINDOW_MS: Final = 90 * DAY_MS


class FileSource:
    """`timezone_of(participant_id)` is the zone the files' local times are read in (the participant's)."""

    name = NAME

    def __init__(self, root: Path, *, timezone_of: Callable[[str], str] | Mapping[str, str] | None = None) -> None:
        self.root = root
        self._timezone_of = timezone_of
        self._parsed: dict[str, tuple[tuple[tuple[str, int], ...], ImportResult]] = {}

    def metrics(self) -> Sequence[MetricSpec]:
        return [
            MetricSpec(
                metric=name,
                resolution_ms=int(metric.resolution_s * 1000),
                lookback_ms=LOOKBACK_MS,
                max_window_ms=MAX_WINDOW_MS,
            )
            for name, metric in METRICS.items()
        ]

    def _folder(self, participant_id: str) -> Path:
        folder = self.root / participant_id
        if not folder.is_dir():
            raise NotAuthorised(participant_id, f"no export folder {folder}")
        return folder

    async def authorise(self, participant_id: str) -> None:
        self._folder(participant_id)

    def _timezone(self, participant_id: str) -> str:
        if self._timezone_of is None:
            return "UTC"
        if callable(self._timezone_of):
            return self._timezone_of(participant_id)
        return self._timezone_of.get(participant_id, "UTC")

    def _read(self, participant_id: str) -> ImportResult:
        """The participant's files parsed, again only when a file was added, removed or changed."""
        paths = sorted(str(p) for p in self._folder(participant_id).rglob("*.json") if p.is_file())
        if not paths:
            raise Gone(participant_id, f"no *.json export files in {self.root / participant_id}")
        stamp = tuple((path, Path(path).stat().st_mtime_ns) for path in paths)
        cached = self._parsed.get(participant_id)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            result = import_files(
                paths,
                participant_id=participant_id,
                device_id=f"{participant_id}-import",
                timezone=self._timezone(participant_id),
                sync_time=max(mtime for _, mtime in stamp) // 1_000_000,
            )
        except FitbitImportError as error:
            raise SourceError(participant_id, str(error)) from error
        self._parsed[participant_id] = (stamp, result)
        return result

    async def fetch(
        self, participant_id: str, metric: str, window: Window, page: str | None = None
    ) -> AsyncIterator[Page]:
        result = await asyncio.to_thread(self._read, participant_id)
        yield Page(batches=cut((b for b in result.batches if b.metric == metric), window), next_page=None)
