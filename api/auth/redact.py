"""Keeps API keys out of logs: every log record's message is scrubbed of `wsk_…` tokens and `token=` values
(uvicorn's access log prints websocket URLs with their query) before any handler sees it."""

from __future__ import annotations

import logging
import re
from typing import Any, Final

_TOKEN: Final = re.compile(r"wsk_[0-9A-Za-z_-]+|((?:^|[?&;\s\"'])token=)[^&\s\"']*")
REDACTED: Final = "[redacted]"
_installed = False


def redact(text: str) -> str:
    return _TOKEN.sub(lambda m: f"{m.group(1)}{REDACTED}" if m.group(1) else REDACTED, text)


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
