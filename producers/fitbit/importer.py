"""Fitbit JSON files → ReadingBatches, all or nothing.

A folder stands for the `*.json` files under it (sorted by path). Every file is read, decoded and parsed before
any batch is built; the first malformed file raises `ImportFileError` and nothing is returned, so a caller
that publishes the result never publishes part of an import. What is well-formed but has no home in
wearstream (a daily summary without intraday data, a Fitbit error body) is skipped and listed in
`ImportResult.skipped` with file, JSON path and reason; the rest imports.
Batches are cut deterministically from the data alone: re-importing the same files gives the same
batch ids, whatever the sync time or the moment of the import.
"""

from __future__ import annotations

import itertools
import os
import time
import zoneinfo
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import msgspec
import numpy as np

from producers.fitbit.decode import Layout, decode_document
from producers.fitbit.errors import ImportArgumentError, ImportFileError, NoHomeError, ShapeError
from producers.fitbit.localtime import MS_PER_DAY, zone_named
from producers.fitbit.parse import Readings, parse_responses
from producers.fitbit.shapes import DataType
from schemas.device_daily import DeviceDailyValue
from schemas.metrics import METRICS
from schemas.readings import ReadingBatch, make_batch

MS_PER_HOUR: Final = 3_600_000
CHUNK_MS: Final[dict[str, int]] = {name: MS_PER_HOUR if name == "heart_rate" else MS_PER_DAY for name in METRICS}
"""A batch holds one metric's readings of one UTC hour (heart rate, up to 3,600 at 1 Hz) or one UTC day (the
others: at most 2,880 readings), roughly one device upload's worth."""

KEY_COLUMNS: Final[dict[str, tuple[str, ...]]] = {"breathing_rate": ("stage",)}
"""Extra columns that, with the timestamp, identify a reading: a night has one breathing rate per stage."""


class FileSummary(msgspec.Struct, frozen=True, kw_only=True):
    """What one file was found to hold."""

    path: str
    layout: Layout
    data_type: DataType
    metric: str
    responses: int
    """Responses read (days, for the wearipedia layout); a wearipedia `heart_rate_day` wrapper counts its days."""
    readings: int
    """Readings parsed from this file, before duplicates across the import are dropped."""


class Skipped(msgspec.Struct, frozen=True, kw_only=True):
    """A part of a file that was not imported, and why."""

    path: str
    json_path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.json_path}: skipped: {self.reason}"


class ImportResult(msgspec.Struct, frozen=True, kw_only=True):
    """The batches of an import, in registry metric order then time order, with what went into them."""

    batches: tuple[ReadingBatch, ...]
    readings: dict[str, int]
    """Readings per metric in `batches` (after duplicates were dropped)."""
    duplicates: dict[str, int]
    """Readings dropped per metric because a later one had the same timestamp (and stage, for breathing rate)."""
    files: tuple[FileSummary, ...]
    skipped: tuple[Skipped, ...] = ()
    """Well-formed parts that have no home in wearstream (each also a warning for the user)."""
    device_daily: dict[str, tuple[DeviceDailyValue, ...]] = {}
    """Daily values the device reported, per file path (stored as such, never turned into readings)."""


def json_files(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """The files to import: each file as given, each folder as the `*.json` files under it, sorted."""
    files: list[str] = []
    for path in paths:
        if Path(path).is_dir():
            found = sorted(str(p) for p in Path(path).rglob("*.json") if p.is_file())
            if not found:
                raise ImportArgumentError(f"{os.fspath(path)}: the folder holds no .json file")
            files.extend(found)
        else:
            files.append(os.fspath(path))
    return files


def import_files(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    participant_id: str,
    device_id: str,
    timezone: str = "UTC",
    sync_time: int | None = None,
) -> ImportResult:
    """Imports Fitbit JSON files or folders of them (`json_files`) of one participant's device, timed in the
    IANA zone `timezone`.

    Readings are converted to UTC epoch ms (DST rules in `producers.fitbit.localtime`), merged per metric
    across all files, de-duplicated on equal timestamps (the last one, in file then entry order, is kept),
    sorted, and cut into one batch per metric and UTC hour or day (`CHUNK_MS`). Values are exactly as in the
    files (`make_batch` sends them in the registry's wire dtype when that is exact, else as float64); values
    outside the registry's range are kept for the validator to dead-letter.
    Every batch is marked `origin="import"` (never a device upload). `sync_time` (epoch ms) stamps every batch:
    the export's own sync time when the caller knows it, by default the time of this import (the latest
    import of a timestamp then wins over earlier ones); it never defaults to the data's own times.

    Raises `ImportFileError` for the first unreadable or malformed file, before any batch is built, and
    `ImportArgumentError` for an unknown time zone or an empty participant or device id.
    """
    if not participant_id or not device_id:
        raise ImportArgumentError("participant_id and device_id must be non-empty")
    zone = zone_named(timezone)
    stamp = int(time.time() * 1000) if sync_time is None else sync_time
    files = json_files([paths] if isinstance(paths, str | os.PathLike) else paths)
    read = [_read_file(path, zone) for path in files]
    parsed = [(summary, readings) for summary, readings, _ in read if summary is not None and readings is not None]
    skipped = tuple(skip for _, _, skips in read for skip in skips)

    per_metric: dict[str, list[Readings]] = {}
    for _, readings in parsed:
        if readings.metric:
            per_metric.setdefault(readings.metric, []).append(readings)
    device_daily = {summary.path: readings.daily for summary, readings in parsed if readings.daily}
    batches: list[ReadingBatch] = []
    counts: dict[str, int] = {}
    duplicates: dict[str, int] = {}
    for metric in (name for name in METRICS if name in per_metric):
        merged, dropped = _deduplicate(_concatenate(per_metric[metric]))
        counts[metric], duplicates[metric] = len(merged), dropped
        batches.extend(_cut(merged, participant_id, device_id, stamp, timezone))
    return ImportResult(
        batches=tuple(batches),
        readings=counts,
        duplicates=duplicates,
        files=tuple(summary for summary, _ in parsed),
        skipped=skipped,
        device_daily=device_daily,
    )


def _read_file(path: str, zone: zoneinfo.ZoneInfo) -> tuple[FileSummary | None, Readings | None, list[Skipped]]:
    try:
        content = Path(path).read_bytes()
    except OSError as error:
        raise ImportFileError(path, "$", f"cannot read the file: {error.strerror or error}") from None
    try:
        decoded = decode_document(content)
        readings = parse_responses(decoded.data_type, decoded.responses, zone)
    except NoHomeError as no_home:
        return None, None, [Skipped(path=path, json_path=no_home.json_path, reason=no_home.reason)]
    except ShapeError as error:
        raise ImportFileError(path, error.json_path, error.reason) from None
    skipped = [Skipped(path=path, json_path=s.json_path, reason=s.reason) for s in decoded.skipped]
    summary = FileSummary(
        path=path,
        layout=decoded.layout,
        data_type=decoded.data_type,
        metric=readings.metric,
        responses=len(decoded.responses),
        readings=len(readings),
    )
    return summary, readings, skipped


def _concatenate(parts: list[Readings]) -> Readings:
    return Readings(
        metric=parts[0].metric,
        timestamps=np.concatenate([part.timestamps for part in parts]),
        values=np.concatenate([part.values for part in parts]),
        extra={column: np.concatenate([part.extra[column] for part in parts]) for column in parts[0].extra},
    )


def _deduplicate(readings: Readings) -> tuple[Readings, int]:
    """Sorted by (timestamp, key columns), keeping the last of equal keys in input order; returns the drop count."""
    size = len(readings)
    keys = [readings.timestamps, *(readings.extra[column] for column in KEY_COLUMNS.get(readings.metric, ()))]
    # lexsort's last key is the primary one; the input position breaks ties so "last" means last in input.
    order = np.lexsort((np.arange(size), *reversed(keys)))
    keep = np.ones(size, dtype=bool)
    if size > 1:
        same_as_next = np.ones(size - 1, dtype=bool)
        for key in keys:
            ordered = key[order]
            same_as_next &= ordered[1:] == ordered[:-1]
        keep[:-1] = ~same_as_next
    chosen = order[keep]
    deduplicated = Readings(
        metric=readings.metric,
        timestamps=readings.timestamps[chosen],
        values=readings.values[chosen],
        extra={column: values[chosen] for column, values in readings.extra.items()},
    )
    return deduplicated, size - int(chosen.size)


def _cut(readings: Readings, participant_id: str, device_id: str, sync_time: int, timezone: str) -> list[ReadingBatch]:
    timestamps = readings.timestamps
    if timestamps.size == 0:
        return []
    values = readings.values
    chunks = timestamps // CHUNK_MS[readings.metric]
    edges = [0, *(np.flatnonzero(np.diff(chunks)) + 1).tolist(), int(timestamps.size)]
    return [
        make_batch(
            participant_id=participant_id,
            metric=readings.metric,
            device_id=device_id,
            sync_time=sync_time,
            timestamps=timestamps[start:end],
            values=values[start:end],
            extra={column: column_values[start:end] for column, column_values in readings.extra.items()},
            timezone=timezone,
            origin="import",
        )
        for start, end in itertools.pairwise(edges)
    ]
