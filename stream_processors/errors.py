"""Errors of the stream processors: bad input (dead-lettered), recoverable (retried) and fatal (stop loudly)."""

from __future__ import annotations


class ProcessorError(Exception):
    """Base of every stream-processor error."""


class RecoverableError(ProcessorError):
    """The broker or the database is briefly away: retry with backoff, never ack meanwhile."""


class FatalError(ProcessorError):
    """A bug or bad configuration: the worker stops without acknowledging what it holds."""


class InvalidMessage(ProcessorError):
    """A message that cannot be processed; routed to the dead-letter topic with these fields as headers."""

    def __init__(self, *, topic: str, partition: int, offset: int, reason: str) -> None:
        super().__init__(f"{topic}[{partition}]@{offset}: {reason}")
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.reason = reason


class DeadLetterLimitExceeded(FatalError):
    """Most recent input of a topic went to the dead-letter topic: a bad deploy must halt, not drain the stream.
    The processor pauses that topic (the others go on) until the worker restarts."""


class ImputationError(ProcessorError):
    """An imputation run cannot go on as asked (a run id reused with other settings, an unknown run)."""
