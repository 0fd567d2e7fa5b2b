"""Observed and imputed data in one answer, as pure functions over rows and points.

Rollup buckets (`count`, `sum`, `min`, `max`) of the observed readings and of the imputed minutes on the same
bucket merge exactly: counts and sums add, extremes are the extremes of both, and `imputed_minutes` says how
many of the merged `count` values are imputed minutes. Observed values are never changed, only joined.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from api.series.schemas import Point

Row = Mapping[str, Any]


def merge_buckets(observed: Sequence[Row], imputed: Sequence[Row]) -> list[dict[str, Any]]:
    """Both sides' rows (each sorted by `t`, one per bucket) as one row per bucket, sorted by `t`, each with
    `imputed_minutes` (0 where the bucket has no imputed minute)."""
    merged: dict[int, dict[str, Any]] = {}
    for row in observed:
        merged[row["t"]] = {**dict(row), "imputed_minutes": 0}
    for row in imputed:
        bucket = merged.get(row["t"])
        if bucket is None:
            merged[row["t"]] = {**dict(row), "imputed_minutes": row["count"]}
            continue
        bucket["count"] += row["count"]
        bucket["sum"] += row["sum"]
        bucket["min"] = min(bucket["min"], row["min"])
        bucket["max"] = max(bucket["max"], row["max"])
        bucket["imputed_minutes"] += row["count"]
    return [merged[t] for t in sorted(merged)]


def merge_pages(
    observed: Sequence[Row], observed_more: bool, imputed: Sequence[Row], imputed_more: bool, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """One keyset page of buckets from two keyset pages after the same position: the merged buckets up to the
    last one both sides are complete to, at most `limit`; and whether more follow."""
    merged = merge_buckets(observed, imputed)
    ends = [side[-1]["t"] for side, more in ((observed, observed_more), (imputed, imputed_more)) if more and side]
    more = bool(ends)
    if ends:
        boundary = min(ends)
        merged = [row for row in merged if row["t"] <= boundary]
    if len(merged) > limit:
        return merged[:limit], True
    return merged, more


def as_observed(point: Point, *, rollup: bool) -> Point:
    """An observed point of an answer that serves imputed data too: flagged `imputed: false`."""
    if rollup:
        return msgspec.structs.replace(point, imputed=False, imputed_minutes=point.imputed_minutes or 0)
    return msgspec.structs.replace(point, imputed=False)


def interleave(observed: Sequence[Point], imputed: Sequence[Point]) -> list[Point]:
    """Observed and imputed points in time order; at the same time the observed one first."""
    return sorted([*observed, *imputed], key=lambda p: (p.time, bool(p.imputed)))
