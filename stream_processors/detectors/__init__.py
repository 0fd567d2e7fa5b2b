"""Illness detectors over nightly resting heart rate: one small interface, incremental per participant.

A detector is configured once per study; `detector.tracker()` gives the state of one participant, fed with
that participant's nights in ascending order (missing nights are simply not pushed). `Tracker.push` returns
the outcome of the pushed night and of every earlier night the push revised (NightSignal's one-night fill
revises the two nights before), so a caller storing outcomes only writes what changed. Pushing a participant's
nights one by one gives exactly the outcomes of the detector's batch function over the same nights.
"""

from __future__ import annotations

from stream_processors.detectors.base import Detector, Level, NightInput, NightOutcome, Tracker, run_incremental
from stream_processors.detectors.cusum import CusumConfig, CusumDetector
from stream_processors.detectors.nightsignal import NightSignalConfig, NightSignalDetector

__all__ = [
    "CusumConfig",
    "CusumDetector",
    "Detector",
    "Level",
    "NightInput",
    "NightOutcome",
    "NightSignalConfig",
    "NightSignalDetector",
    "Tracker",
    "run_incremental",
]
