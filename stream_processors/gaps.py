"""Gaps, as pure functions over sorted instants.

- `not_worn`: a hole of at least the metric's threshold between consecutive heart-rate readings, inside data
  that the device did upload (the readings on both sides prove it synced). Computed from 1-minute buckets
  (first and last reading time), which is exact because no hole of a minute or more fits inside a bucket.
  A trailing hole is open while the latest upload (of any metric) lies past the threshold after the last HR.
- `not_synced`: a hole of at least N hours between consecutive uploads; the trailing one is open while the
  clock is N hours past the last upload, and closes when an upload arrives.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec
import numpy as np
import numpy.typing as npt

GapKind = Literal["not_worn", "not_synced"]
NOT_WORN: Final = "not_worn"
NOT_SYNCED: Final = "not_synced"


class Hole(msgspec.Struct, frozen=True, order=True):
    start_ms: int
    end_ms: int | None
    """None while open."""


def holes_between(firsts: npt.NDArray[np.int64], lasts: npt.NDArray[np.int64], threshold_ms: int) -> list[Hole]:
    """Holes ≥ threshold between consecutive occupied spans [first, last], spans sorted and disjoint."""
    if len(firsts) < 2:
        return []
    widths = firsts[1:] - lasts[:-1]
    found = np.flatnonzero(widths >= threshold_ms)
    return [Hole(int(lasts[i]), int(firsts[i + 1])) for i in found]


def holes_between_instants(instants: npt.NDArray[np.int64], threshold_ms: int) -> list[Hole]:
    return holes_between(instants, instants, threshold_ms)


def trailing_hole(last_ms: int | None, reference_ms: int, threshold_ms: int) -> Hole | None:
    """The open hole after `last_ms` when `reference_ms` (an upload or the clock) is ≥ threshold past it."""
    if last_ms is None or reference_ms - last_ms < threshold_ms:
        return None
    return Hole(last_ms, None)
