"""Cutting a source's batches to a window, without touching a value."""

from __future__ import annotations

from collections.abc import Iterable

from producers.sources.base import Window
from schemas.readings import ReadingBatch, make_batch


def within(batch: ReadingBatch, window: Window) -> ReadingBatch | None:
    """The batch's readings with timestamps in the window: the batch itself when all are, None when none is.

    A cut batch keeps the device, sync time, zone, origin and every value exactly (its values in the same
    dtype), so its id is that of the same readings cut the same way on any run."""
    timestamps = batch.timestamps_array()
    inside = (timestamps >= window.start_ms) & (timestamps < window.end_ms)
    if inside.all():
        return batch if len(batch) else None
    if not inside.any():
        return None
    return make_batch(
        participant_id=batch.participant_id,
        metric=batch.metric,
        device_id=batch.device_id,
        sync_time=batch.sync_time,
        timestamps=timestamps[inside],
        values=batch.values_array()[inside],
        extra={column: batch.extra_array(column)[inside] for column in batch.extra},
        timezone=batch.timezone,
        origin=batch.origin,
    )


def cut(batches: Iterable[ReadingBatch], window: Window, *, synced_by_ms: int | None = None) -> list[ReadingBatch]:
    """Each batch cut to the window; with `synced_by_ms`, only batches uploaded by then (a device API serves
    what has synced)."""
    result = []
    for batch in batches:
        if synced_by_ms is not None and batch.sync_time > synced_by_ms:
            continue
        part = within(batch, window)
        if part is not None:
            result.append(part)
    return result
