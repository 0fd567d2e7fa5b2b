"""Observed and imputed buckets merge exactly, and two keyset pages merge into one exact page (hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from api.series.merge import merge_buckets, merge_pages


def bucket(t: int, values: list[float]) -> dict[str, Any]:
    return {"t": t, "count": len(values), "sum": sum(values), "min": min(values), "max": max(values)}


def test_a_shared_bucket_adds_counts_and_sums_and_keeps_both_extremes() -> None:
    observed = [bucket(0, [60.0, 70.0]), bucket(60, [80.0])]
    imputed = [bucket(60, [50.0]), bucket(120, [55.0, 56.0])]
    merged = merge_buckets(observed, imputed)
    assert merged == [
        {**bucket(0, [60.0, 70.0]), "imputed_minutes": 0},
        {**bucket(60, [80.0, 50.0]), "imputed_minutes": 1},
        {**bucket(120, [55.0, 56.0]), "imputed_minutes": 2},
    ]
    assert observed[1] == bucket(60, [80.0]), "the observed rows are not changed"


times = st.lists(st.integers(0, 60), unique=True).map(sorted)


@given(times, times, st.integers(1, 8))
def test_keyset_pages_of_both_sides_give_every_bucket_once(obs: list[int], imp: list[int], limit: int) -> None:
    observed = [bucket(t, [1.0]) for t in obs]
    imputed = [bucket(t, [2.0]) for t in imp]
    expected = merge_buckets(observed, imputed)
    got: list[dict[str, Any]] = []
    after = -1
    for _ in range(200):
        left = [r for r in observed if r["t"] > after]
        right = [r for r in imputed if r["t"] > after]
        page, more = merge_pages(left[:limit], len(left) > limit, right[:limit], len(right) > limit, limit)
        assert len(page) <= limit
        got.extend(page)
        if not more:
            break
        after = page[-1]["t"]
    assert got == expected
