"""`wearstream import`: device exports → ReadingBatches → Kafka, with delta-load by content.

All files are parsed first (a malformed file publishes nothing). Per participant × metric, the watermarks
topic keeps, per UTC day, hashes of the content published; a day whose content this import has published
before is left out, any other day is published whole (the sink de-duplicates its unchanged batches by id,
and for each timestamp the latest upload's reading wins). So re-importing the same files publishes nothing,
files in any order or overlapping exports store the union, and a corrected export replaces what it corrects.

An import is not a device upload: its batches are marked `origin="import"`, stamped with the import time (or
the export's sync time, `sync_time`), and the import itself is recorded in the `imports` table. A missing
participant is created (enrolment: the first local date of the data, in `timezone`); an existing record is
never changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
import zoneinfo
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import asyncpg
import msgspec

from core.settings import KafkaSettings
from core.topics import ensure_topics
from producers.fitbit import ImportResult, Skipped, import_files
from producers.publisher import BatchPublisher
from producers.watermarks import load_watermarks
from schemas.device_daily import DeviceDaily
from schemas.participants import Participant
from schemas.readings import ReadingBatch
from schemas.watermarks import Watermark
from stream_processors import participant_records as participants

SOURCE: Final = "import"
MS_PER_DAY: Final = 86_400_000


class ImportReport(msgspec.Struct, kw_only=True):
    import_id: str
    files: int
    readings: dict[str, int]
    """Readings published per metric (new + corrected)."""
    new: dict[str, int]
    """Readings of days never imported before, per metric."""
    unchanged: dict[str, int]
    """Readings of days imported before with the same content (not published), per metric."""
    corrected: dict[str, int]
    """Readings of days imported before with other content (published; the latest import wins), per metric."""
    messages: int
    participant_created: bool
    skipped: tuple[Skipped, ...] = ()
    """Parts of the files with no home in wearstream, not imported (warnings for the user)."""
    device_daily: int = 0
    """Device-reported daily values published (step totals, resting HR, nightly summaries)."""


def day_hash(batches: Sequence[ReadingBatch]) -> str:
    """A short hash of one metric's readings of one UTC day (batch ids are hashes of their content)."""
    digest = hashlib.blake2b(digest_size=8)
    for batch_id in sorted(b.batch_id for b in batches):
        digest.update(bytes.fromhex(batch_id))
    return digest.hexdigest()


class Plan(msgspec.Struct, kw_only=True):
    """What to publish, what it means per metric, and the watermarks to record once it is published."""

    publish: list[ReadingBatch]
    new: dict[str, int]
    unchanged: dict[str, int]
    corrected: dict[str, int]
    marks: list[Watermark]


def plan(batches: Sequence[ReadingBatch], marks: dict[tuple[str, str], Watermark], participant_id: str) -> Plan:
    """Splits an import's batches into days already published with the same content (left out) and the rest."""
    days: dict[str, dict[int, list[ReadingBatch]]] = defaultdict(lambda: defaultdict(list))
    for batch in batches:
        days[batch.metric][int(batch.timestamps_array()[0]) // MS_PER_DAY].append(batch)
    result = Plan(publish=[], new={}, unchanged={}, corrected={}, marks=[])
    for metric, by_day in days.items():
        mark = marks.get((participant_id, metric))
        published = {day: list(hashes) for day, hashes in (mark.days if mark else {}).items()}
        for counter in (result.new, result.unchanged, result.corrected):
            counter[metric] = 0
        for day, own in sorted(by_day.items()):
            digest, size = day_hash(own), sum(len(b) for b in own)
            seen = published.get(day, [])
            if digest in seen:
                result.unchanged[metric] += size
                continue
            (result.corrected if seen else result.new)[metric] += size
            result.publish.extend(own)
            published[day] = [*seen, digest]
        if published != (mark.days if mark else {}):
            result.marks.append(Watermark(source=SOURCE, participant_id=participant_id, metric=metric, days=published))
    return result


def first_local_date(batches: Sequence[ReadingBatch], timezone: str) -> dt.date | None:
    first_ms = min((int(b.timestamps_array()[0]) for b in batches if len(b)), default=None)
    if first_ms is None:
        return None
    return dt.datetime.fromtimestamp(first_ms / 1000, tz=zoneinfo.ZoneInfo(timezone)).date()


async def import_exports(
    kafka: KafkaSettings,
    database_url: str,
    paths: Sequence[Path],
    *,
    participant_id: str,
    timezone: str = "UTC",
    device_id: str | None = None,
    sync_time: int | None = None,
) -> ImportReport:
    """Imports the files of one participant's device; see the module docstring. Needs Kafka and the database
    (`database_url`: where the participant record and the `imports` row are written)."""
    imported_at = int(time.time() * 1000)
    result: ImportResult = import_files(
        [str(p) for p in paths],
        participant_id=participant_id,
        device_id=device_id or f"{participant_id}-import",
        timezone=timezone,
        sync_time=imported_at if sync_time is None else sync_time,
    )
    import_id = uuid.uuid4()
    connection = await asyncpg.connect(database_url)
    try:
        created = await _enrol_if_new(connection, result, participant_id, timezone, device_id)
        await ensure_topics(kafka)
        todo = plan(result.batches, await load_watermarks(kafka, SOURCE), participant_id)
        messages = await _publish(kafka, result, todo, participant_id)
        published: dict[str, int] = defaultdict(int)
        for batch in todo.publish:
            published[batch.metric] += len(batch)
        await _record_import(connection, import_id, participant_id, imported_at, result, todo, published)
    finally:
        await connection.close()
    return ImportReport(
        import_id=str(import_id),
        files=len(result.files),
        readings=dict(published),
        new=todo.new,
        unchanged=todo.unchanged,
        corrected=todo.corrected,
        messages=messages,
        participant_created=created,
        skipped=result.skipped,
        device_daily=sum(len(values) for values in result.device_daily.values()),
    )


async def _enrol_if_new(
    connection: asyncpg.Connection, result: ImportResult, participant_id: str, timezone: str, device_id: str | None
) -> bool:
    """Creates the participant's record, enrolled on the first local date of the data, unless one exists (an
    import never rewrites a record); True when created. Nothing to date by (no readings) creates nothing."""
    enrolled = first_local_date(result.batches, timezone)
    if enrolled is None:
        return False
    return await participants.create(
        connection,
        Participant(participant_id=participant_id, enrolled_on=enrolled, timezone=timezone, device_id=device_id or ""),
        actor="import",
        if_missing=True,
    )


async def _publish(kafka: KafkaSettings, result: ImportResult, todo: Plan, participant_id: str) -> int:
    """Publishes the device's daily values, then the planned batches, then the new watermarks; returns the
    number of messages sent."""
    publisher = BatchPublisher(kafka, client_id="wearstream-import")
    await publisher.start()
    try:
        for path, values in result.device_daily.items():
            await publisher.send_device_daily(
                DeviceDaily(participant_id=participant_id, source=f"import:{Path(path).name}", values=list(values))
            )
        for batch in todo.publish:
            await publisher.send(batch)
        await publisher.commit_watermarks(todo.marks)
    finally:
        await publisher.stop()
    return publisher.messages


async def _record_import(
    connection: asyncpg.Connection,
    import_id: uuid.UUID,
    participant_id: str,
    imported_at: int,
    result: ImportResult,
    todo: Plan,
    published: dict[str, int],
) -> None:
    """The provenance row of this import: when, which files, and readings published / unchanged / corrected."""
    await connection.execute(
        "INSERT INTO imports (import_id, participant_id, imported_at, files, readings, unchanged, corrected)"
        " VALUES ($1, $2, ms_to_ts($3), $4, $5::jsonb, $6::jsonb, $7::jsonb)",
        import_id,
        participant_id,
        imported_at,
        [f.path for f in result.files],
        msgspec.json.encode(dict(published)).decode(),
        msgspec.json.encode(todo.unchanged).decode(),
        msgspec.json.encode(todo.corrected).decode(),
    )
