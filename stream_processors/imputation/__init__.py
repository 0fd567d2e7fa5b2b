"""Post-study imputation: methods over 1-minute grids (pure), and the run that fills `not_worn` gaps from the
store into the imputation tables, with provenance (`job.py`, `store.py`)."""

from __future__ import annotations

from typing import Final

from stream_processors.imputation.bridge import BridgeMethod
from stream_processors.imputation.grid import MinuteSeries, local_minutes, minute_grid
from stream_processors.imputation.methods import Fill, Linear, Method, NeighbourMean, NeighbourMedian, Skipped
from stream_processors.imputation.profile import ProfileMethod

METHODS: dict[str, type[Method]] = {
    m.name: m for m in (NeighbourMean, NeighbourMedian, Linear, ProfileMethod, BridgeMethod)
}
"""Every method by name; each class builds with its documented defaults."""

DEFAULT_METHOD: Final = "bridge"
"""The method `wearstream impute` uses unless told otherwise: the one that scores best (see the README)."""


def method_named(name: str) -> Method:
    """The method called `name` with its defaults; ValueError naming the known ones otherwise."""
    if name not in METHODS:
        raise ValueError(f"unknown imputation method {name!r}; known: {', '.join(METHODS)}")
    return METHODS[name]()


__all__ = [
    "DEFAULT_METHOD",
    "METHODS",
    "BridgeMethod",
    "Fill",
    "Linear",
    "Method",
    "MinuteSeries",
    "NeighbourMean",
    "NeighbourMedian",
    "ProfileMethod",
    "Skipped",
    "local_minutes",
    "method_named",
    "minute_grid",
]
