"""An export's manifest: the parameters and the finished parts, which make a second run resume the first."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from wearstream.client.errors import ClientError

Done = dict[str, dict[str, Any]]
"""Finished parts by "<metric>/<participant>": their rows and first and last local dates."""
Spans = dict[str, tuple[str | None, str | None]]
"""Per participant, the first and last local dates of its exported series."""


class ExportError(ClientError):
    """The export cannot go on as asked (a folder holding another export, a bad parameter)."""


def date_window(
    start: str | None, end: str | None, first: str | None, last: str | None
) -> tuple[str | None, str | None]:
    """The per-day tables' window: the export's range (`start`, `end`), else the local dates the exported
    series span (`first`, `last`)."""
    if start is not None or end is not None:
        return start, end
    if first is None or last is None:
        return None, None
    return first, (dt.date.fromisoformat(last) + dt.timedelta(days=1)).isoformat()


def resume_state(manifest_path: Path, wanted: dict[str, Any], fresh: bool) -> Done:
    """The parts a previous run of the same spec finished; refuses a folder holding another export."""
    if not manifest_path.exists() or fresh:
        return {}
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("spec") != json.loads(json.dumps(wanted)):
        raise ExportError(
            f"{manifest_path.parent} holds an export with other parameters ({manifest.get('spec')}); "
            "use another folder or --fresh"
        )
    done: Done = manifest.get("done", {})
    return done


def spans(done: Done) -> Spans:
    found: Spans = {}
    for name, part in done.items():
        participant_id = name.split("/", 1)[1]
        low, high = found.get(participant_id, (None, None))
        first, last = part.get("first_local_date"), part.get("last_local_date")
        found[participant_id] = (
            min(filter(None, (low, first)), default=None),
            max(filter(None, (high, last)), default=None),
        )
    return found


def rows_by_metric(done: Done) -> dict[str, int]:
    rows: dict[str, int] = {}
    for name, part in done.items():
        metric = name.split("/", 1)[0]
        rows[metric] = rows.get(metric, 0) + part["rows"]
    return rows
