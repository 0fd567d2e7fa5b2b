"""Retrying what failed because the broker or the database was briefly away; anything else is raised."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import asyncpg
from aiokafka.errors import KafkaError, KafkaTimeoutError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from stream_processors import metric_defs as m
from stream_processors.errors import RecoverableError

log = logging.getLogger(__name__)
T = TypeVar("T")

RECOVERABLE_SQLSTATE_CLASSES: Final = ("08", "40", "53", "57")  # connection, rollback/deadlock, resources, admin
"""Errors after which the same transaction can simply be tried again."""


def is_recoverable(error: BaseException) -> bool:
    """Broker or database briefly away (or a RecoverableError): retry. Anything else is a bug or bad config."""
    if isinstance(error, RecoverableError | OSError | TimeoutError | asyncpg.InterfaceError | ConnectionError):
        return True
    if isinstance(error, KafkaError):
        return isinstance(error, KafkaTimeoutError) or bool(error.retriable)
    if isinstance(error, asyncpg.PostgresError):
        sqlstate = getattr(error, "sqlstate", "") or ""
        return sqlstate[:2] in RECOVERABLE_SQLSTATE_CLASSES
    return False


async def retrying(operation: Callable[[], Awaitable[T]], *, max_backoff_s: float) -> T:
    """Runs `operation` until it returns, retrying recoverable errors with capped, jittered backoff; raises
    anything else."""

    def before_sleep(state: RetryCallState) -> None:
        m.DB_RETRIES.inc()
        error = state.outcome.exception() if state.outcome else None
        log.warning("database unavailable (%s); retry %d", error, state.attempt_number)

    async for attempt in AsyncRetrying(
        retry=retry_if_exception(is_recoverable),
        wait=wait_exponential_jitter(initial=0.2, max=max_backoff_s),
        before_sleep=before_sleep,
        reraise=True,
    ):
        with attempt:
            return await operation()
    raise AssertionError("unreachable: AsyncRetrying either returns or raises")
