"""Keeps API keys out of logs: every log record's message is scrubbed of `wsk_…` tokens and `token=` values
(uvicorn's access log prints websocket URLs with their query) before any handler sees it; `core.logs`'s
formatters apply the same `redact` to every line of every process."""

from __future__ import annotations

import logging
from typing import Any

from core.logs import REDACTED, redact

__all__ = ["REDACTED", "install", "redact"]

_installed = False


def install() -> None:
    """Wraps the logging record factory once per process; safe to call again."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the handler's to report, as without us
            return record
        if "wsk_" in message or "token=" in message:
            record.msg, record.args = redact(message), None
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
