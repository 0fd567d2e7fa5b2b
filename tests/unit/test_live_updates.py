"""Live updates built from a stored group's minute rows: participants with nothing from `since_ms` on get none."""

from __future__ import annotations

from typing import Any

import numpy as np

from schemas.metrics import HEART_RATE, STEPS
from stream_processors.live import live_updates

MINUTE = 60_000


def rows(pid: str, minutes: list[int]) -> list[dict[str, Any]]:
    return [
        {"participant_id": pid, "bucket_ms": m * MINUTE, "count": 2, "sum": 140.0 + m, "min": 60.0, "max": 90.0}
        for m in minutes
    ]


def test_only_participants_with_recent_minutes_get_updates_and_those_are_unchanged() -> None:
    upserted = rows("OLD", [3, 1, 2]) + rows("NEW", [9, 7]) + rows("EDGE", [4, 5])
    readings = {
        pid: (np.array([m * MINUTE, m * MINUTE + 500, m * MINUTE + 1000]), np.array([60.0, 61.0, 62.0]))
        for pid, m in (("OLD", 3), ("NEW", 9), ("EDGE", 5))
    }
    everyone = {u.participant_id: u for u in live_updates(HEART_RATE, upserted, readings)}
    recent = {u.participant_id: u for u in live_updates(HEART_RATE, upserted, readings, since_ms=5 * MINUTE)}
    assert set(everyone) == {"OLD", "NEW", "EDGE"}
    assert set(recent) == {"NEW", "EDGE"}  # EDGE's latest minute starts exactly at since_ms
    for pid, update in recent.items():
        assert update.minutes == everyone[pid].minutes
        assert update.timestamps == everyone[pid].timestamps
    assert [p.bucket_ms for p in recent["NEW"].minutes] == [7 * MINUTE, 9 * MINUTE]
    assert recent["NEW"].minutes[-1].mean == (140.0 + 9) / 2
    # Two readings in the same second are thinned to the later one.
    assert recent["NEW"].timestamps == [9 * MINUTE + 500, 9 * MINUTE + 1000]
    assert live_updates(STEPS, upserted, readings, since_ms=10 * MINUTE) == []
