"""Writing the export's files: a participant × metric series part in row groups, a per-day table, a JSON file.

Every file is written to a temporary name and renamed when complete, so an interrupted run leaves no
half-written file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any, Final, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from schemas.codebook import imputed_fields
from wearstream.client import frames

ROW_GROUP: Final = 262_144
PRIVATE_COLUMNS: Final = ("contact_email",)
"""Left out of the dataset: contact details are not research data."""

ExportResolution = Literal["raw", "1m", "1h", "1d"]
ExportFormat = Literal["parquet", "csv", "omh"]
"""`omh` writes the series as Open mHealth data points (JSON lines) and the tables as Parquet."""


def part_name(kind: ExportFormat) -> str:
    """The file name of a participant × metric series part."""
    return "part-0.jsonl" if kind == "omh" else f"part-0.{kind}"


def table_format(kind: ExportFormat) -> Literal["parquet", "csv"]:
    """The per-day tables' format: Parquet for an OMH export (OMH has no schema for them)."""
    return "csv" if kind == "csv" else "parquet"


def write_json(path: Path, value: Any) -> None:
    """Writes `value` as indented JSON, replacing `path` only once complete."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(temporary, path)


def _arrow(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)


def series_schema(resolution: ExportResolution, imputed: bool = False) -> pa.Schema:
    """One schema for every metric's files at a resolution (columns a metric lacks are null), so that readers
    see the whole `series/` folder as one dataset; with `imputed` the imputation columns at the end
    (`schemas.codebook.imputed_fields`)."""
    fields = [
        pa.field("time", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("local_time", pa.timestamp("ms"), nullable=False),
        pa.field("timezone", pa.string(), nullable=False),
    ]
    for name in frames.all_series_columns(resolution)[1:]:
        integral = name == "count" or name.endswith("_epochs")
        fields.append(pa.field(name, pa.int64() if integral else pa.float64()))
    for name in imputed_fields(resolution) if imputed else []:
        kinds = {"imputed_minutes": pa.int64(), "imputed": pa.bool_(), "imputation_run": pa.string()}
        fields.append(pa.field(name, kinds.get(name, pa.float64())))
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

    def __init__(self, path: Path, kind: Literal["parquet", "csv"], schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        self.kind = kind
        self.temporary = path.with_name(f".{path.name}.tmp")
        self.rows = 0
        self.first: dt.datetime | None = None
        self.last: dt.datetime | None = None
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._parquet: pq.ParquetWriter | None = None
        self._csv: pacsv.CSVWriter | None = None

    def add(self, frame: pd.DataFrame) -> None:
        """Appends a page of a series frame (rows in time order)."""
        if len(frame):
            self.add_table(_series_table(frame, self.schema))

    def add_table(self, table: pa.Table) -> None:
        """Appends rows already in the series schema (in time order)."""
        if not table.num_rows:
            return
        local = table.column("local_time")
        self.first = local[0].as_py() if self.first is None else self.first
        self.last = local[-1].as_py()
        self._pending.append(table)
        self._pending_rows += table.num_rows
        self.rows += table.num_rows
        if self._pending_rows >= ROW_GROUP:
            self._flush(whole_groups=True)

    def _flush(self, *, whole_groups: bool = False) -> None:
        """Writes the pending rows in row groups of exactly `ROW_GROUP` rows (the last one of a file may be
        shorter), whatever the pages' sizes: the same rows make the same file. With `whole_groups`, a
        remainder shorter than a row group stays pending."""
        if not self._pending:
            return
        table = pa.concat_tables(self._pending)
        keep = table.num_rows % ROW_GROUP if whole_groups else 0
        self._pending = [table.slice(table.num_rows - keep)] if keep else []
        self._pending_rows = keep
        table = table.slice(0, table.num_rows - keep)
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


def write_table(out: Path, name: str, frame: pd.DataFrame, export_format: ExportFormat) -> tuple[str, pa.Schema]:
    """Writes a per-day table as `<out>/<name>.<kind>` without private columns; returns its file name and schema."""
    kind = table_format(export_format)
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
