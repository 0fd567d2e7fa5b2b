"""Each input topic's dead-letter limit, and the topics it paused (until the worker restarts)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from stream_processors import metric_defs as m
from stream_processors.deadletter import DeadLetterLimit
from stream_processors.errors import DeadLetterLimitExceeded

log = logging.getLogger(__name__)


class TopicLimits:
    """One `DeadLetterLimit` per topic, made from `limit`'s parameters; `on_pause(topic, reason)` is told once
    when a topic's limit trips."""

    def __init__(self, limit: DeadLetterLimit, on_pause: Callable[[str, str], None] | None = None) -> None:
        self.limit = limit
        self.on_pause = on_pause
        self.paused: dict[str, str] = {}
        """Topics paused by their dead-letter limit, with the reason."""
        self._limits: dict[str, DeadLetterLimit] = {}

    def record(self, topic: str, *, invalid: bool) -> None:
        """Counts one message of `topic`; pauses the topic when its limit trips (never raises)."""
        limit = self._limits.get(topic)
        if limit is None:
            limit = self._limits[topic] = self.limit.fresh()
        try:
            limit.record(invalid=invalid)
        except DeadLetterLimitExceeded as error:
            if topic not in self.paused:
                self.paused[topic] = str(error)
                m.TOPIC_PAUSED.labels(topic).set(1)
                if self.on_pause is not None:
                    self.on_pause(topic, str(error))
                log.error("pausing %s until the worker restarts: %s", topic, error)
