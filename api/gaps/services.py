"""Gap queries, keyset-paged by (start, participant, kind)."""

from __future__ import annotations

import datetime as dt
from typing import Final

import asyncpg

from api.gaps.schemas import Gap, GapKind, GapState

_GAPS: Final = """
SELECT participant_id, kind, start_time, end_time, detected_at, closed_at FROM gaps
WHERE ($1::text IS NULL OR participant_id = $1)
  AND ($2::text IS NULL OR kind = $2)
  AND ($3::text = 'all' OR ($3::text = 'open') = (end_time IS NULL))
  AND ($4::timestamptz IS NULL OR end_time IS NULL OR end_time > $4)
  AND ($5::timestamptz IS NULL OR start_time < $5)
  AND ($6::timestamptz IS NULL OR (start_time, participant_id, kind) > ($6, $7::text, $8::text))
ORDER BY start_time, participant_id, kind
LIMIT $9
"""


async def gaps(
    pool: asyncpg.Pool,
    *,
    participant_id: str | None,
    kind: GapKind | None,
    state: GapState,
    start: dt.datetime | None,
    end: dt.datetime | None,
    after: tuple[dt.datetime, str, str] | None,
    limit: int,
) -> tuple[list[Gap], tuple[dt.datetime, str, str] | None]:
    """Gaps overlapping [start, end) (either bound optional), and the position after them if more follow."""
    rows = await pool.fetch(
        _GAPS,
        participant_id,
        kind,
        state,
        start,
        end,
        after[0] if after else None,
        after[1] if after else None,
        after[2] if after else None,
        limit + 1,
    )
    now = dt.datetime.now(dt.UTC)
    items = [
        Gap(
            participant_id=row["participant_id"],
            kind=row["kind"],
            start=row["start_time"],
            end=row["end_time"],
            open=row["end_time"] is None,
            duration_s=((row["end_time"] or now) - row["start_time"]).total_seconds(),
            detected_at=row["detected_at"],
            closed_at=row["closed_at"],
        )
        for row in rows[:limit]
    ]
    last = items[-1] if len(rows) > limit else None
    return items, (last.start, last.participant_id, last.kind) if last else None
