"""The series plan: each participant's points of one metric, every page, as one long frame."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

import pandas as pd

from schemas.metrics import METRICS
from wearstream.client import frames
from wearstream.client.http import Call
from wearstream.client.plans import Imputed, Moment, PageSink, Plan, Resolution, _params, _path, moment, timezone_of
from wearstream.client.progress import Progress


def series(
    participant_ids: Sequence[str],
    metric: str,
    start: Moment,
    end: Moment,
    resolution: Resolution,
    *,
    zones: dict[str, str],
    page_size: int,
    max_points: int,
    progress: Progress,
    on_page: PageSink | None = None,
    imputed: Imputed = "exclude",
    imputation_run: str | None = None,
) -> Plan:
    """Points of each participant, all pages (stored resolutions) or one reduced answer (`auto`). With
    `on_page`, each page's frame is handed over as it arrives and the plan returns an empty frame. `imputed`
    and `imputation_run` are the API's; the run each participant's answer used is in `attrs["resolution"]`."""
    if metric not in METRICS:
        raise ValueError(f"metric: unknown {metric!r} (known: {', '.join(METRICS)})")
    if imputed not in ("exclude", "include", "only"):
        raise ValueError(f"imputed: expected exclude, include or only, got {imputed!r}")
    with_imputed = imputed != "exclude"
    collected: list[pd.DataFrame] = []
    used: dict[str, dict[str, Any]] = {}
    for participant_id in participant_ids:
        timezone = yield from timezone_of(participant_id, zones)
        params = _params(
            start=moment("start", start),
            end=moment("end", end),
            resolution=resolution,
            max_points=max_points if resolution == "auto" else page_size,
            imputed=imputed if with_imputed else None,
            imputation_run=imputation_run,
        )
        call = Call(_path("v1", "participants", participant_id, "series", metric), params, arrow=True)
        pages, rows = yield from _pages(call, participant_id, metric, timezone, used, on_page)
        level = used[participant_id]["resolution"]
        if on_page is None:
            none = frames.series_frame(participant_id, metric, timezone, level, [], with_imputed)
            collected.append(frames.concat(pages, none))
        progress.advance(rows)
    progress.close()
    levels = {u["resolution"] for u in used.values()} or {"raw" if resolution == "auto" else resolution}
    level = levels.pop() if len(levels) == 1 else "raw"
    empty = frames.series_frame("", metric, "UTC", level, [], with_imputed).iloc[0:0]
    empty.attrs.update({"metric": metric, "unit": METRICS[metric].unit, "resolution": used})
    if on_page is not None:
        return empty
    return frames.concat(collected, empty)


def _pages(
    call: Call,
    participant_id: str,
    metric: str,
    timezone: str,
    used: dict[str, dict[str, Any]],
    on_page: PageSink | None,
) -> Generator[Call, Any, tuple[list[pd.DataFrame], int]]:
    """Every page of one participant's series: their frames (or each handed to `on_page`) and rows; what the
    answers used (resolution, bucket width, and the imputation run) recorded in `used`."""
    pages: list[pd.DataFrame] = []
    rows = 0
    while True:
        page = yield call
        used[participant_id] = {"resolution": page["resolution"], "bucket_seconds": page["bucket_seconds"]}
        if page.get("imputed", "exclude") != "exclude":
            used[participant_id]["imputation_run"] = page.get("imputation_run")
        frame = frames.page_frame(participant_id, metric, timezone, page)
        rows += len(frame)
        if on_page is not None:
            on_page(frame)
        else:
            pages.append(frame)
        if not page.get("next_cursor"):
            return pages, rows
        call = Call(call.path, {**call.params, "cursor": page["next_cursor"]}, arrow=True)
