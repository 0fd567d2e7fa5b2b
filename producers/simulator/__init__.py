"""Deterministic, vectorised simulator of a cohort of Fitbit-class wearers, with exact ground truth.

Entry point: `CohortSimulator`; see `cohort.py`.
"""

from producers.simulator.cohort import CohortSimulator
from producers.simulator.model import DayTruth, Interval, MetricReadings, ParticipantDay
from producers.simulator.physiology import azm_thresholds_bpm
from producers.simulator.traits import ParticipantTraits

__all__ = [
    "CohortSimulator",
    "DayTruth",
    "Interval",
    "MetricReadings",
    "ParticipantDay",
    "ParticipantTraits",
    "azm_thresholds_bpm",
]
