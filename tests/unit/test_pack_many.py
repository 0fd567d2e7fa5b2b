"""`pack_many` gives exactly the segments `pack` gives batch by batch: whole-number groups (its one-pass path)
and every group it must hand back to `pack` — fractional values, extra columns, int32 overflow between
batches, mixed scales, empty batches — with hour crossings and batches of several participants."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from stream_processors import segments
from stream_processors.segments import Readings, pack, pack_many

T0 = 1_774_742_400_000 - 1_800_000  # half an hour before a clock hour


def _batch(rng: np.random.Generator, k: int, values: np.ndarray, *, scale: int = 1, extra: int = 0) -> Readings:
    timestamps = T0 + k * 3_000_000 + np.cumsum(rng.integers(1, 8, len(values))) * 1000
    return Readings(
        participant_id=f"p-{k % 3}",
        metric_id=1,
        batch_id=uuid.UUID(int=k).hex,
        scale=scale,
        timestamps=timestamps.astype(np.int64),
        values=values,
        extra=[rng.normal(size=len(values)).astype(np.float32) for _ in range(extra)],
    )


def _groups() -> dict[str, list[Readings]]:
    rng = np.random.default_rng(5)

    def whole(n: int) -> np.ndarray:
        return rng.integers(30, 220, n).astype(np.float64)

    return {
        "whole": [_batch(rng, k, whole(int(rng.integers(1, 2000)))) for k in range(12)],
        "whole, registry scale 10": [_batch(rng, k, whole(500), scale=10) for k in range(4)],
        "fractional": [_batch(rng, 0, whole(300)), _batch(rng, 1, whole(300) + 0.25)],
        "extra columns": [_batch(rng, k, whole(400), extra=2) for k in range(3)],
        "int32 step between batches": [_batch(rng, 0, np.full(5, -2e9)), _batch(rng, 1, np.full(5, 2e9))],
        "mixed scales": [_batch(rng, 0, whole(50)), _batch(rng, 1, whole(50), scale=10)],
        "negative zero": [_batch(rng, 0, whole(50)), _batch(rng, 1, np.array([-0.0, 1.0]))],
    }


@pytest.mark.parametrize("name", list(_groups()))
def test_pack_many_equals_pack_batch_by_batch(name: str) -> None:
    group = _groups()[name]
    expected = [s for b in group for s in pack(**b._asdict())]
    assert pack_many(group) == expected
    assert len(expected) > len(group) or name != "whole"  # hour crossings inside batches


def test_pack_many_of_nothing() -> None:
    assert pack_many([]) == []


def test_whole_number_groups_take_the_one_pass_path(monkeypatch: pytest.MonkeyPatch) -> None:
    groups = _groups()
    expected = {name: [s for b in groups[name] for s in pack(**b._asdict())] for name in groups}

    def refuse(**_: object) -> None:
        raise AssertionError("handed back to pack")

    monkeypatch.setattr(segments, "pack", refuse)
    for name in ("whole", "whole, registry scale 10"):
        assert pack_many(groups[name]) == expected[name]
    with pytest.raises(AssertionError, match="handed back"):
        pack_many(groups["fractional"])
