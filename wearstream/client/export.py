"""A study-level dataset from the API: Hive-partitioned series, the per-day tables, a codebook and a README.

Layout under the output folder:
    series/metric=<m>/participant=<p>/part-0.parquet   (or .csv) — one file per participant × metric
    participants, daily, sleep, adherence, adherence_summary, gaps[, alerts] .parquet (or .csv)
    codebook.json, README.md, manifest.json
Series are written a page at a time into row groups of `ROW_GROUP` rows, to a temporary name renamed when
complete, so memory stays bounded and an interrupted run leaves no half-written file. `manifest.json` records
the parameters and each finished part: running the same export again resumes (finished parts are kept,
the rest written); `fresh=True` rewrites everything. A different set of parameters in the same folder is refused.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from wearstream.client import codebook, frames, plans
from wearstream.client.errors import ClientError, EndpointUnavailableError
from wearstream.client.sync import Client

ROW_GROUP: Final = 262_144
PARTITION_COLUMNS: Final = ("participant_id", "metric")
PRIVATE_COLUMNS: Final = ("contact_email",)
"""Left out of the dataset: contact details are not research data."""

ExportResolution = Literal["raw", "1m", "1h", "1d"]
ExportFormat = Literal["parquet", "csv"]


class ExportError(ClientError):
    """The export cannot go on as asked (a folder holding another export, a bad parameter)."""


@dataclass(frozen=True)
class ExportSpec:
    participants: tuple[str, ...] | None
    """None: every participant the key may read."""
    metrics: tuple[str, ...]
    start: str | None
    end: str | None
    resolution: ExportResolution = "raw"
    format: ExportFormat = "parquet"


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


def _write_json(path: Path, value: Any) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(temporary, path)


def _arrow(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)


def series_schema(resolution: ExportResolution) -> pa.Schema:
    """One schema for every metric's files at a resolution (columns a metric lacks are null), so that readers
    see the whole `series/` folder as one dataset."""
    fields = [
        pa.field("time", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("local_time", pa.timestamp("ms"), nullable=False),
        pa.field("timezone", pa.string(), nullable=False),
    ]
    for name in frames.all_series_columns(resolution)[1:]:
        integral = name == "count" or name.endswith("_epochs")
        fields.append(pa.field(name, pa.int64() if integral else pa.float64()))
    return pa.schema(fields)


def _series_table(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    columns: dict[str, pa.Array] = {}
    for column in schema:
        if column.name in frame.columns:
            columns[column.name] = pa.array(frame[column.name], type=column.type, from_pandas=True)
        else:
            columns[column.name] = pa.nulls(len(frame), type=column.type)
    return pa.Table.from_pydict(columns, schema=schema)


class PartWriter:
    """One participant × metric file, written in row groups to a temporary name and renamed by `finish`."""

    def __init__(self, path: Path, kind: ExportFormat, schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        self.kind = kind
        self.temporary = path.with_name(f".{path.name}.tmp")
        self.rows = 0
        self.first: pd.Timestamp | None = None
        self.last: pd.Timestamp | None = None
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._parquet: pq.ParquetWriter | None = None
        self._csv: pacsv.CSVWriter | None = None

    def add(self, frame: pd.DataFrame) -> None:
        if not len(frame):
            return
        self.first = frame["local_time"].iloc[0] if self.first is None else self.first
        self.last = frame["local_time"].iloc[-1]
        table = _series_table(frame, self.schema)
        self._pending.append(table)
        self._pending_rows += len(frame)
        self.rows += len(frame)
        if self._pending_rows >= ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        table = pa.concat_tables(self._pending)
        self._pending.clear()
        self._pending_rows = 0
        if self._parquet is None and self._csv is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.kind == "parquet":
                self._parquet = pq.ParquetWriter(self.temporary, table.schema, compression="zstd")
            else:
                self._csv = pacsv.CSVWriter(self.temporary, table.schema)
        if self._parquet is not None:
            self._parquet.write_table(table, row_group_size=ROW_GROUP)
        elif self._csv is not None:
            self._csv.write_table(table)

    def finish(self) -> int:
        self._flush()
        for writer in (self._parquet, self._csv):
            if writer is not None:
                writer.close()
        if self.rows:
            os.replace(self.temporary, self.path)
        else:
            self.path.unlink(missing_ok=True)
        return self.rows


def _write_table(out: Path, name: str, frame: pd.DataFrame, kind: ExportFormat) -> tuple[str, pa.Schema]:
    frame = frame.drop(columns=[c for c in PRIVATE_COLUMNS if c in frame.columns])
    if kind == "csv":
        frame = frame.copy()
        for column in frame.columns:
            if frame[column].dtype == object:
                frame[column] = frame[column].map(lambda v: ";".join(map(str, v)) if isinstance(v, list) else v)
    table = _arrow(frame)
    path = out / f"{name}.{kind}"
    temporary = path.with_name(f".{path.name}.tmp")
    if kind == "parquet":
        pq.write_table(table, temporary, compression="zstd")
    else:
        pacsv.write_csv(table, temporary)
    os.replace(temporary, path)
    return path.name, table.schema


def _date_window(spec: ExportSpec, first: str | None, last: str | None) -> tuple[str | None, str | None]:
    """The per-day tables' window: the export's range, else the local dates the exported series span."""
    if spec.start is not None or spec.end is not None:
        return spec.start, spec.end
    if first is None or last is None:
        return None, None
    return first, (dt.date.fromisoformat(last) + dt.timedelta(days=1)).isoformat()


def run_export(
    client: Client, out: Path, spec: ExportSpec, *, fresh: bool = False, report: Reporter | None = None
) -> ExportResult:
    """Writes the dataset of `spec` under `out`; resumes a previous run of the same spec unless `fresh`."""
    report = report or Reporter()
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    wanted = asdict(spec)
    done: dict[str, dict[str, Any]] = {}
    if manifest_path.exists() and not fresh:
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("spec") != json.loads(json.dumps(wanted)):
            raise ExportError(
                f"{out} holds an export with other parameters ({manifest.get('spec')}); use another folder or --fresh"
            )
        done = manifest.get("done", {})
    result = ExportResult()

    # At the range's end (when given) the cohort view is the same on every run; else it is as of now.
    cohort = client.participants(as_of=spec.end)
    known = list(cohort["participant_id"]) if len(cohort) else []
    client.zones.update(zip(known, cohort["timezone"] if len(cohort) else [], strict=True))
    ids = list(spec.participants) if spec.participants is not None else known
    unknown = sorted(set(ids) - set(known))
    if unknown:
        raise ExportError(f"participants: unknown or not readable with this key: {', '.join(unknown[:10])}")

    report.start(len(ids) * len(spec.metrics))
    for metric in spec.metrics:
        for participant_id in ids:
            name = f"{metric}/{participant_id}"
            path = out / "series" / f"metric={metric}" / f"participant={participant_id}" / f"part-0.{spec.format}"
            if name in done and (done[name]["rows"] == 0 or path.exists()):
                result.parts_kept += 1
                report.part_done(name)
                continue
            writer = PartWriter(path, spec.format, series_schema(spec.resolution))

            def page(frame: pd.DataFrame, writer: PartWriter = writer) -> None:
                writer.add(frame)
                report.readings(len(frame))

            plan = plans.series(
                [participant_id],
                metric,
                spec.start,
                spec.end,
                spec.resolution,
                zones=client.zones,
                page_size=client.page_size,
                max_points=client.page_size,
                progress=plans.Progress(False, 1, ""),
                on_page=page,
            )
            client.run(plan)
            rows = writer.finish()
            done[name] = {
                "rows": rows,
                "first_local_date": writer.first.date().isoformat() if writer.first is not None else None,
                "last_local_date": writer.last.date().isoformat() if writer.last is not None else None,
            }
            _write_json(manifest_path, {"spec": wanted, "done": done})
            result.parts_written += 1
            result.readings += rows
            report.part_done(name)

    tables: dict[str, Any] = {}

    def keep(name: str, frame: pd.DataFrame, note: str = "") -> None:
        path, schema = _write_table(out, name, frame, spec.format)
        units = frame.attrs.get("units", {})
        tables[name] = {"path": path, "rows": len(frame), "columns": codebook.columns(name, schema, units)}
        if note:
            tables[name]["note"] = note
        result.tables[name] = len(frame)
        report.table(name)

    keep("participants", cohort[cohort["participant_id"].isin(ids)] if len(cohort) else cohort)
    spans: dict[str, tuple[str | None, str | None]] = {}
    for name, part in done.items():
        participant_id = name.split("/", 1)[1]
        low, high = spans.get(participant_id, (None, None))
        first, last = part.get("first_local_date"), part.get("last_local_date")
        spans[participant_id] = (
            min(filter(None, (low, first)), default=None),
            max(filter(None, (high, last)), default=None),
        )
    per_day: dict[str, list[pd.DataFrame]] = {"daily": [], "sleep": []}
    for participant_id in ids:
        start, end = _date_window(spec, *spans.get(participant_id, (None, None)))
        if start is None and end is None and spec.start is None:
            continue  # no data exported for this participant: no days to summarise
        per_day["daily"].append(client.daily(participant_id, start, end))
        per_day["sleep"].append(client.sleep(participant_id, start, end))
    for name, parts in per_day.items():
        keep(name, frames.concat(parts, parts[0].iloc[0:0] if parts else pd.DataFrame(columns=["participant_id"])))

    firsts = [s[0] for s in spans.values() if s[0]]
    lasts = [s[1] for s in spans.values() if s[1]]
    start, end = _date_window(spec, min(firsts, default=None), max(lasts, default=None))
    if start is not None or end is not None:
        summary = client.adherence(start, end)
        daily = client.adherence(start, end, per_day=True)
        keep("adherence_summary", summary[summary["participant_id"].isin(ids)] if len(summary) else summary)
        keep("adherence", daily[daily["participant_id"].isin(ids)] if len(daily) else daily)
    keep("gaps", client.gaps(ids, spec.start, spec.end, status="all"))
    try:
        keep("alerts", client.alerts(ids, spec.start, spec.end))
    except EndpointUnavailableError as error:
        result.missing["alerts"] = f"the API does not serve alerts yet ({error.detail})"

    series: dict[str, Any] = {}
    for metric in spec.metrics:
        applies = set(frames.series_columns(metric, spec.resolution))
        schema = pa.schema(
            [f for f in series_schema(spec.resolution) if f.name in applies or f.name in ("local_time", "timezone")]
        ).append(pa.field("participant", pa.string()))
        rows = sum(part["rows"] for name, part in done.items() if name.startswith(f"{metric}/"))
        series[f"series {metric}"] = {
            "path": f"series/metric={metric}/participant=*/part-0.{spec.format}",
            "rows": rows,
            "columns": codebook.columns("series", schema, frames.series_units(metric, spec.resolution)),
            "note": f"{metric} at resolution {spec.resolution}; partition key `metric` = {metric}. Every series "
            f"file has the columns {', '.join(f.name for f in series_schema(spec.resolution))}; those not listed "
            "here are null for this metric.",
        }
    book = {
        "export": {
            **wanted,
            "participants": ids,
            "api": client.base_url,
            "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
        "metrics": {metric: codebook.metric_entry(metric) for metric in spec.metrics},
        "tables": {**series, **tables},
        "missing": result.missing,
    }
    _write_json(out / "codebook.json", book)
    (out / "README.md").write_text(codebook.readme(book))
    result.readings = sum(part["rows"] for part in done.values())
    result.seconds = time.perf_counter() - started
    return result
