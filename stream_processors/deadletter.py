"""Dead-lettering: what goes to the dead-letter topic, with which headers, and when to stop instead."""

from __future__ import annotations

from collections import deque
from typing import Final

import msgspec

from stream_processors.envelope import Envelope
from stream_processors.errors import DeadLetterLimitExceeded

HEADER_REASON: Final = "wearstream-dlq-reason"
HEADER_TOPIC: Final = "wearstream-dlq-topic"
HEADER_PARTITION: Final = "wearstream-dlq-partition"
HEADER_OFFSET: Final = "wearstream-dlq-offset"
HEADER_REJECTED: Final = "wearstream-dlq-rejected"
HEADER_KIND: Final = "wearstream-dlq-kind"


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """The original message bytes and why they (or some of their readings) were not stored."""

    envelope: Envelope
    reason: str
    partial: bool = False
    """True when the good readings of the message were stored and only `rejected` readings were not."""
    rejected: int = 0

    def without_payload(self) -> DeadLetter:
        """This letter without the message's payload (the broker refused it as too large): its reason says so
        and where the original is."""
        source = self.envelope
        reason = (
            f"{self.reason} (payload of {len(source.payload)} bytes too large for the dead-letter topic;"
            f" the original is at {source.topic}[{source.partition}]@{source.offset})"
        )
        return msgspec.structs.replace(self, envelope=msgspec.structs.replace(source, payload=b""), reason=reason)

    def headers(self) -> list[tuple[str, bytes]]:
        own = [
            (HEADER_REASON, self.reason.encode()[:4000]),
            (HEADER_KIND, b"partial" if self.partial else b"message"),
            (HEADER_TOPIC, self.envelope.topic.encode()),
            (HEADER_PARTITION, str(self.envelope.partition).encode()),
            (HEADER_OFFSET, str(self.envelope.offset).encode()),
            (HEADER_REJECTED, str(self.rejected).encode()),
        ]
        return [*own, *((k, v) for k, v in self.envelope.headers if not k.startswith("wearstream-dlq-"))]


class DeadLetterLimit:
    """Halts a topic when most of its recent input is bad: a bad deploy must halt, not drain the stream.
    One limit per topic (`fresh()` makes another with the same parameters).

    Trips when, among the last `window` messages (once at least `min_messages` were seen), the share of
    wholly invalid ones exceeds `max_ratio`, or after `max_consecutive` invalid messages in a row.
    """

    def __init__(
        self, *, max_ratio: float = 0.5, window: int = 1000, min_messages: int = 100, max_consecutive: int = 1000
    ) -> None:
        self.max_ratio = max_ratio
        self.window = window
        self.min_messages = min_messages
        self.max_consecutive = max_consecutive
        self._recent: deque[bool] = deque(maxlen=window)
        self._invalid_in_window = 0
        self._consecutive = 0

    def fresh(self) -> DeadLetterLimit:
        return DeadLetterLimit(
            max_ratio=self.max_ratio,
            window=self.window,
            min_messages=self.min_messages,
            max_consecutive=self.max_consecutive,
        )

    def record(self, *, invalid: bool) -> None:
        """Counts one message; raises DeadLetterLimitExceeded when the limit is reached."""
        if len(self._recent) == self._recent.maxlen and self._recent[0]:
            self._invalid_in_window -= 1
        self._recent.append(invalid)
        self._invalid_in_window += invalid
        self._consecutive = self._consecutive + 1 if invalid else 0
        if self._consecutive >= self.max_consecutive:
            raise DeadLetterLimitExceeded(f"{self._consecutive} invalid messages in a row")
        seen = len(self._recent)
        if seen >= self.min_messages and self._invalid_in_window / seen > self.max_ratio:
            raise DeadLetterLimitExceeded(
                f"{self._invalid_in_window} of the last {seen} messages were invalid (limit {self.max_ratio:.0%})"
            )
