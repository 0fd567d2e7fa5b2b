"""A study-level dataset: Hive-partitioned series, the per-day tables, a codebook and a README.

The tables come through a `Client` (over HTTP, or the API's endpoints in this process for the database
export, `wearstream.local_api`); the series from a `SeriesSource` (default: the API's pages;
`wearstream.raw_export.RawSeries` reads the stored segments).

Layout under the output folder:
    series/metric=<m>/participant=<p>/part-0.parquet   (or .csv, or .jsonl for OMH) — one per participant × metric
    participants, daily, sleep, adherence, adherence_summary, gaps[, alerts] .parquet (or .csv)
    codebook.json, README.md, manifest.json
Series are written a page at a time into row groups of `ROW_GROUP` rows, to a temporary name renamed when
complete, so memory stays bounded and an interrupted run leaves no half-written file. `manifest.json` records
the parameters and each finished part: running the same export again resumes (finished parts are kept,
the rest written); `fresh=True` rewrites everything. A different set of parameters in the same folder is refused.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import pandas as pd

from wearstream.client import codebook, frames, series_plan
from wearstream.client.errors import EndpointUnavailableError
from wearstream.client.manifest import (
    Done,
    ExportError,
    Spans,
    date_window,
    resume_state,
    rows_by_metric,
    spans,
)
from wearstream.client.omh import series_writer
from wearstream.client.partitions import (
    PRIVATE_COLUMNS,
    ROW_GROUP,
    ExportFormat,
    ExportResolution,
    PartWriter,
    part_name,
    series_schema,
    write_json,
    write_table,
)
from wearstream.client.plans import Imputed
from wearstream.client.progress import Progress
from wearstream.client.sync import Client

__all__ = [
    "PRIVATE_COLUMNS",
    "ROW_GROUP",
    "ExportError",
    "ExportFormat",
    "ExportResolution",
    "ExportResult",
    "ExportSpec",
    "PartWriter",
    "Reporter",
    "run_export",
    "series_schema",
]

PARTITION_COLUMNS: Final = ("participant_id", "metric")


@dataclass(frozen=True)
class ExportSpec:
    participants: tuple[str, ...] | None
    """None: every participant the key may read."""
    metrics: tuple[str, ...]
    start: str | None
    end: str | None
    resolution: ExportResolution = "raw"
    format: ExportFormat = "parquet"
    imputed: Imputed = "exclude"
    """`include`: the series' imputed minutes too (the API's latest complete run per participant × metric),
    with the provenance columns; `only`: the imputed minutes alone."""


@dataclass
class ExportResult:
    parts_written: int = 0
    parts_kept: int = 0
    readings: int = 0
    seconds: float = 0.0
    tables: dict[str, int] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)


class Reporter:
    """What an export tells its caller as it goes; the CLI shows it as a rich progress bar."""

    def start(self, parts: int) -> None: ...
    def readings(self, count: int) -> None: ...
    def part_done(self, name: str) -> None: ...
    def table(self, name: str) -> None: ...


def _cohort(client: Client, spec: ExportSpec) -> tuple[pd.DataFrame, list[str]]:
    """The participants table and the ids to export; refuses ids the key cannot read."""
    # At the range's end (when given) the cohort view is the same on every run; else it is as of now.
    cohort = client.participants(as_of=spec.end)
    known = list(cohort["participant_id"]) if len(cohort) else []
    client.zones.update(zip(known, cohort["timezone"] if len(cohort) else [], strict=True))
    ids = list(spec.participants) if spec.participants is not None else known
    unknown = sorted(set(ids) - set(known))
    if unknown:
        raise ExportError(f"participants: unknown or not readable with this key: {', '.join(unknown[:10])}")
    return cohort, ids


SeriesSource = Callable[[ExportSpec, str, str, "PartWriter", Reporter], None]
"""Writes one participant × metric series of `spec` into the writer, in time order, reporting its rows."""


def api_series(client: Client) -> SeriesSource:
    """Series read through the API, a page at a time (`GET /v1/participants/{id}/series/{metric}`)."""

    def write(spec: ExportSpec, metric: str, participant_id: str, writer: PartWriter, report: Reporter) -> None:
        def page(frame: pd.DataFrame) -> None:
            writer.add(frame)
            report.readings(len(frame))

        plan = series_plan.series(
            [participant_id],
            metric,
            spec.start,
            spec.end,
            spec.resolution,
            zones=client.zones,
            page_size=client.page_size,
            max_points=client.page_size,
            progress=Progress(False, 1, ""),
            on_page=page,
            imputed=spec.imputed,
        )
        client.run(plan)

    return write


def _fetch_part(
    source: SeriesSource, spec: ExportSpec, metric: str, participant_id: str, path: Path, report: Reporter
) -> dict[str, Any]:
    """Writes one participant × metric series; returns its manifest entry."""
    writer = series_writer(path, spec.format, spec.resolution, metric, participant_id, spec.imputed != "exclude")
    source(spec, metric, participant_id, writer, report)
    rows = writer.finish()
    return {
        "rows": rows,
        "first_local_date": writer.first.date().isoformat() if writer.first is not None else None,
        "last_local_date": writer.last.date().isoformat() if writer.last is not None else None,
    }


def _export_series(
    source: SeriesSource,
    out: Path,
    spec: ExportSpec,
    ids: list[str],
    resume: tuple[Path, dict[str, Any], Done],
    result: ExportResult,
    report: Reporter,
) -> None:
    """Every participant × metric part not finished yet, recording each in the manifest as it completes."""
    manifest_path, wanted, done = resume
    report.start(len(ids) * len(spec.metrics))
    for metric in spec.metrics:
        for participant_id in ids:
            name = f"{metric}/{participant_id}"
            path = out / "series" / f"metric={metric}" / f"participant={participant_id}" / part_name(spec.format)
            if name in done and (done[name]["rows"] == 0 or path.exists()):
                result.parts_kept += 1
                report.part_done(name)
                continue
            done[name] = _fetch_part(source, spec, metric, participant_id, path, report)
            write_json(manifest_path, {"spec": wanted, "done": done})
            result.parts_written += 1
            result.readings += done[name]["rows"]
            report.part_done(name)


class _Tables:
    """Writes the per-day tables and keeps their codebook entries."""

    def __init__(self, out: Path, spec: ExportSpec, result: ExportResult, report: Reporter) -> None:
        self.out, self.spec, self.result, self.report = out, spec, result, report
        self.entries: dict[str, Any] = {}

    def keep(self, name: str, frame: pd.DataFrame, note: str = "") -> None:
        path, schema = write_table(self.out, name, frame, self.spec.format)
        units = frame.attrs.get("units", {})
        self.entries[name] = {"path": path, "rows": len(frame), "columns": codebook.columns(name, schema, units)}
        if note:
            self.entries[name]["note"] = note
        self.result.tables[name] = len(frame)
        self.report.table(name)


def _export_tables(
    client: Client, spec: ExportSpec, cohort: pd.DataFrame, ids: list[str], spans: Spans, tables: _Tables
) -> None:
    """participants, daily, sleep, adherence(_summary), gaps and alerts over the exported participants."""
    tables.keep("participants", cohort[cohort["participant_id"].isin(ids)] if len(cohort) else cohort)
    per_day: dict[str, list[pd.DataFrame]] = {"daily": [], "sleep": []}
    for participant_id in ids:
        start, end = date_window(spec.start, spec.end, *spans.get(participant_id, (None, None)))
        if start is None and end is None and spec.start is None:
            continue  # no data exported for this participant: no days to summarise
        per_day["daily"].append(client.daily(participant_id, start, end, imputed=spec.imputed))
        per_day["sleep"].append(client.sleep(participant_id, start, end))
    for name, parts in per_day.items():
        tables.keep(
            name, frames.concat(parts, parts[0].iloc[0:0] if parts else pd.DataFrame(columns=["participant_id"]))
        )

    firsts = [s[0] for s in spans.values() if s[0]]
    lasts = [s[1] for s in spans.values() if s[1]]
    start, end = date_window(spec.start, spec.end, min(firsts, default=None), max(lasts, default=None))
    if start is not None or end is not None:
        summary = client.adherence(start, end)
        daily = client.adherence(start, end, per_day=True)
        tables.keep("adherence_summary", summary[summary["participant_id"].isin(ids)] if len(summary) else summary)
        tables.keep("adherence", daily[daily["participant_id"].isin(ids)] if len(daily) else daily)
    tables.keep("gaps", client.gaps(ids, spec.start, spec.end, status="all"))
    try:
        tables.keep("alerts", client.alerts(ids, spec.start, spec.end))
    except EndpointUnavailableError as error:
        tables.result.missing["alerts"] = f"the API does not serve alerts yet ({error.detail})"


def _write_codebook(client: Client, out: Path, spec: ExportSpec, ids: list[str], done: Done, tables: _Tables) -> None:
    """codebook.json and the README.md rendered from it."""
    book = {
        "export": {
            **asdict(spec),
            "participants": ids,
            "api": client.base_url,
            "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
        "metrics": {metric: codebook.metric_entry(metric) for metric in spec.metrics},
        "tables": {
            **codebook.series_entries(
                spec.metrics, spec.resolution, part_name(spec.format), rows_by_metric(done), spec.imputed
            ),
            **tables.entries,
        },
        "missing": tables.result.missing,
    }
    write_json(out / "codebook.json", book)
    (out / "README.md").write_text(codebook.readme(book))


def manifest_spec(spec: ExportSpec) -> dict[str, Any]:
    """The parameters a manifest records; `imputed` only when not `exclude`, as manifests written before it."""
    wanted = asdict(spec)
    if wanted["imputed"] == "exclude":
        del wanted["imputed"]
    return wanted


def run_export(
    client: Client,
    out: Path,
    spec: ExportSpec,
    *,
    fresh: bool = False,
    report: Reporter | None = None,
    series: SeriesSource | None = None,
) -> ExportResult:
    """Writes the dataset of `spec` under `out`; resumes a previous run of the same spec unless `fresh`. The
    series come from `series` (default: through the API, as the tables always do)."""
    report = report or Reporter()
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    wanted = manifest_spec(spec)
    done = resume_state(manifest_path, wanted, fresh)
    result = ExportResult()
    cohort, ids = _cohort(client, spec)
    _export_series(series or api_series(client), out, spec, ids, (manifest_path, wanted, done), result, report)
    tables = _Tables(out, spec, result, report)
    _export_tables(client, spec, cohort, ids, spans(done), tables)
    _write_codebook(client, out, spec, ids, done, tables)
    result.readings = sum(part["rows"] for part in done.values())
    result.seconds = time.perf_counter() - started
    return result
