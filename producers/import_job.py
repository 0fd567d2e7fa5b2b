"""`wearstream import`: device exports → ReadingBatches → Kafka, with delta-load by reading time.

All files are parsed first (a malformed file publishes nothing). Per participant × metric, a watermark in
Kafka records the latest reading time published; a later import publishes only readings after it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import msgspec
import numpy as np

from producers.fitbit import ImportResult, Skipped, import_files
from producers.publisher import BatchPublisher
from producers.watermarks import load_watermarks
from schemas.device_daily import DeviceDaily
from schemas.participants import Participant
from schemas.readings import ReadingBatch, make_batch
from schemas.watermarks import Watermark
from wearstream.settings import Settings
from wearstream.topics import ensure_topics

SOURCE: Final = "import"


class ImportReport(msgspec.Struct, kw_only=True):
    files: int
    readings: dict[str, int]
    already_published: dict[str, int]
    messages: int
    skipped: tuple[Skipped, ...] = ()
    """Parts of the files with no home in wearstream, not imported (warnings for the user)."""
    device_daily: int = 0
    """Device-reported daily values published (step totals, resting HR, nightly summaries)."""


def only_new(batch: ReadingBatch, until_ms: int) -> ReadingBatch | None:
    """The part of `batch` after the watermark (None when nothing is new)."""
    timestamps = batch.timestamps_array()
    keep = timestamps > until_ms
    if keep.all():
        return batch
    if not keep.any():
        return None
    return make_batch(
        participant_id=batch.participant_id,
        metric=batch.metric,
        device_id=batch.device_id,
        sync_time=batch.sync_time,
        timestamps=timestamps[keep],
        values=batch.values_array()[keep],
        extra={column: batch.extra_array(column)[keep] for column in batch.extra},
        timezone=batch.timezone,
    )


async def import_exports(
    settings: Settings,
    paths: Sequence[Path],
    *,
    participant_id: str,
    timezone: str = "UTC",
    device_id: str | None = None,
) -> ImportReport:
    result: ImportResult = import_files(
        [str(p) for p in paths],
        participant_id=participant_id,
        device_id=device_id or f"{participant_id}-import",
        timezone=timezone,
    )
    await ensure_topics(settings.kafka)
    marks = await load_watermarks(settings.kafka, SOURCE)
    publisher = BatchPublisher(settings.kafka, client_id="wearstream-import")
    readings: dict[str, int] = {}
    skipped: dict[str, int] = {}
    latest: dict[str, int] = {}
    await publisher.start()
    try:
        first_ms = min((int(b.timestamps_array()[0]) for b in result.batches if len(b)), default=None)
        if first_ms is not None:
            enrolled = dt.datetime.fromtimestamp(first_ms / 1000, tz=dt.UTC).date()
            await publisher.send_participant(
                Participant(
                    participant_id=participant_id,
                    enrolled_on=enrolled,
                    timezone=timezone,
                    device_id=device_id or "",
                    updated_at=int(time.time() * 1000),
                )
            )
        for path, values in result.device_daily.items():
            await publisher.send_device_daily(
                DeviceDaily(participant_id=participant_id, source=f"import:{Path(path).name}", values=list(values))
            )
        for batch in result.batches:
            mark = marks.get((participant_id, batch.metric))
            new = only_new(batch, mark.until_ms if mark else -1)
            skipped[batch.metric] = skipped.get(batch.metric, 0) + len(batch) - (len(new) if new else 0)
            if new is None:
                continue
            await publisher.send(new)
            readings[new.metric] = readings.get(new.metric, 0) + len(new)
            latest[new.metric] = max(latest.get(new.metric, -1), int(np.max(new.timestamps_array())))
        await publisher.commit_watermarks(
            [
                Watermark(source=SOURCE, participant_id=participant_id, metric=metric, until_ms=until)
                for metric, until in sorted(latest.items())
            ]
        )
    finally:
        await publisher.stop()
    return ImportReport(
        files=len(result.files),
        readings=readings,
        already_published=skipped,
        messages=publisher.messages,
        skipped=result.skipped,
        device_daily=sum(len(values) for values in result.device_daily.values()),
    )
