"""Kafka topic names, all derived from one configurable prefix (default `wearables`)."""

from __future__ import annotations

from schemas.metrics import METRICS


def readings_topic(prefix: str, metric: str) -> str:
    return f"{prefix}.readings.{metric}"


def readings_topics(prefix: str) -> list[str]:
    return [readings_topic(prefix, name) for name in METRICS]


def participants_topic(prefix: str) -> str:
    return f"{prefix}.participants"


def gaps_topic(prefix: str) -> str:
    return f"{prefix}.gaps"


def alerts_topic(prefix: str) -> str:
    """Illness-alert state changes (`stream_processors.nightly.AlertChange`), key = participant id."""
    return f"{prefix}.alerts"


def live_topic(prefix: str) -> str:
    return f"{prefix}.live"


def deadletter_topic(prefix: str) -> str:
    return f"{prefix}.deadletter"


def watermarks_topic(prefix: str) -> str:
    """Compacted: what the replay driver and the importer have published (delta-load)."""
    return f"{prefix}.watermarks"


def device_daily_topic(prefix: str) -> str:
    """Daily values as the device reported them (`schemas.device_daily`)."""
    return f"{prefix}.device_daily"
