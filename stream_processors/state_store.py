"""Uploads and participant × metric state, written with each group's data (the sink's transaction).

Imported batches are not device uploads: they leave `uploads` (and so `not_synced`) alone and are recorded as
the participant × metric's last import instead.
"""

from __future__ import annotations

from collections import defaultdict

import asyncpg
import msgspec

from stream_processors.validate import ValidBatch


async def store_uploads_and_state(
    connection: asyncpg.Connection, fresh: list[ValidBatch], superseded: dict[tuple[str, int], int]
) -> tuple[list[tuple[str, int, int]], list[str]]:
    """Records the batches' device uploads and each participant × metric's state (reading span, last upload and
    import, net readings); returns the windows of the new uploads and the participants touched (for the gaps)."""
    # Imported batches are not device uploads: they leave `uploads` (and so `not_synced`) alone and are
    # recorded as the participant × metric's last import instead.
    uploads = sorted({(b.batch.participant_id, b.batch.sync_time) for b in fresh if b.batch.origin == "device"})
    new_uploads = await connection.fetch(
        "INSERT INTO uploads (participant_id, sync_time)"
        " SELECT pid, ms_to_ts(t) FROM unnest($1::text[], $2::bigint[]) AS u (pid, t)"
        " ON CONFLICT DO NOTHING RETURNING participant_id, ts_to_ms(sync_time) AS t",
        [u[0] for u in uploads],
        [u[1] for u in uploads],
    )
    state: dict[tuple[str, int], _State] = {}
    for b in fresh:
        key = (b.batch.participant_id, b.metric_id)
        if key not in state:
            state[key] = _State(int(b.timestamps[0]), int(b.timestamps[-1]), readings=-superseded.get(key, 0))
        state[key].add(b)
    keys = sorted(state)
    await connection.execute(
        "INSERT INTO participant_metric_state AS s"
        " (participant_id, metric_id, first_reading, last_reading, last_upload, last_import, readings)"
        " SELECT pid, mid, ms_to_ts(f), ms_to_ts(l), ms_to_ts(u), ms_to_ts(i), n"
        " FROM unnest($1::text[], $2::int2[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])"
        " AS x (pid, mid, f, l, u, i, n)"
        " ON CONFLICT (participant_id, metric_id) DO UPDATE SET"
        " first_reading = least(s.first_reading, EXCLUDED.first_reading),"
        " last_reading = greatest(s.last_reading, EXCLUDED.last_reading),"
        " last_upload = greatest(s.last_upload, EXCLUDED.last_upload),"
        " last_import = greatest(s.last_import, EXCLUDED.last_import),"
        " readings = s.readings + EXCLUDED.readings",
        [k[0] for k in keys],
        [k[1] for k in keys],
        [state[k].first for k in keys],
        [state[k].last for k in keys],
        [state[k].upload for k in keys],
        [state[k].imported for k in keys],
        [state[k].readings for k in keys],
    )
    upload_windows: dict[str, list[int]] = defaultdict(list)
    for row in new_uploads:
        upload_windows[row["participant_id"]].append(row["t"])
    windows = [(pid, min(ts), max(ts)) for pid, ts in sorted(upload_windows.items())]
    return windows, sorted({pid for pid, _ in keys})


class _State(msgspec.Struct):
    """One participant × metric's share of a transaction: reading span, last upload and import, net readings."""

    first: int
    last: int
    upload: int | None = None
    imported: int | None = None
    readings: int = 0

    def add(self, b: ValidBatch) -> None:
        self.first, self.last = min(self.first, int(b.timestamps[0])), max(self.last, int(b.timestamps[-1]))
        if b.batch.origin == "device":
            self.upload = max(self.upload or b.batch.sync_time, b.batch.sync_time)
        else:
            self.imported = max(self.imported or b.batch.sync_time, b.batch.sync_time)
        self.readings += len(b.timestamps)
