"""Keyed random streams: every draw of the simulator comes from a generator keyed by what it describes.

A key is (seed, participant k, stream, index) where the index is the UTC day, the participant's local night
or local day the draw belongs to. So participant k's data never depends on how many participants, or which
other days, are simulated, and anything spanning midnight (a night, a walk, an outage) is drawn once from its
own key and merely clipped to whichever day is being simulated.
"""

from __future__ import annotations

import enum
from typing import Final

import numpy as np

_INDEX_OFFSET: Final = 1 << 32
"""Shifts day and night indexes, which may be negative, into the non-negative range SeedSequence accepts."""


class Stream(enum.IntEnum):
    """What a generator is for; values are part of the key and must never be renumbered."""

    TRAITS = 1
    NIGHT_TIMING = 2
    NIGHT_DETAIL = 3
    ILLNESS = 4
    WEAR = 5
    ACTIVITY = 6
    BACKGROUND_STEPS = 7
    HEART_RATE = 8
    SYNC_SLOTS = 9
    OUTAGES = 10
    EPISODES = 11
    NIGHT_VARIATION = 12


def rng_for(seed: int, k: int, stream: Stream, index: int = 0) -> np.random.Generator:
    """The generator of one (participant, stream, day-or-night index); the same key always gives the same draws."""
    return np.random.default_rng([seed, k, int(stream), index + _INDEX_OFFSET])
