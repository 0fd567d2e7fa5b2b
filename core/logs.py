"""Every process's log: one format (`WEARSTREAM_TELEMETRY_LOG_FORMAT`, text or JSON lines) and one level
(`WEARSTREAM_TELEMETRY_LOG_LEVEL`), with API keys masked in every line.

`logging_config` is a `logging.config.dictConfig` dictionary: the `wearstream` command applies it
(`setup_logging`), and the processor's faust worker and the API's uvicorn get the same dictionary, so their own
loggers write through the same handler. A JSON line carries `trace_id` and `span_id` of the span that was current
when it was logged (W3C hex, as Zipkin and Jaeger show them).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import logging.config
import re
from typing import Any, Final

from opentelemetry import trace

from core.settings import LOG_LEVELS, TelemetrySettings

TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# An API key (`wsk_<key id>_<secret>`), a `token=` value (websocket URLs in access logs) and a bearer credential.
_TOKEN: Final = re.compile(r"wsk_[0-9A-Za-z_-]+|((?:^|[?&;\s\"'])token=)[^&\s\"']*")
_BEARER: Final = re.compile(r"(?i)\b(bearer\s+)[^\s\"',]+")
REDACTED: Final = "[redacted]"


def redact(text: str) -> str:
    """`text` with API keys, `token=` values and bearer credentials replaced by REDACTED."""
    text = _TOKEN.sub(lambda m: f"{m.group(1)}{REDACTED}" if m.group(1) else REDACTED, text)
    return _BEARER.sub(rf"\g<1>{REDACTED}", text)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message`, masked."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the current span's trace_id and
    span_id (when one is recording), and the exception's traceback; masked."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            line["trace_id"] = trace.format_trace_id(span_context.trace_id)
            line["span_id"] = trace.format_span_id(span_context.span_id)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(line, ensure_ascii=False, default=str))


FORMATTERS: Final = {"text": TextFormatter, "json": JsonFormatter}


def logging_config(settings: TelemetrySettings) -> dict[str, Any]:
    """The dictConfig of a wearstream process: one stderr handler with the configured format, the root at the
    configured level, and uvicorn's loggers passing their records to it (their own handlers removed)."""
    handler = {"class": "logging.StreamHandler", "formatter": settings.log_format, "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {name: {"()": formatter} for name, formatter in FORMATTERS.items()},
        "handlers": {"default": handler},
        "root": {"level": settings.log_level, "handlers": ["default"]},
        "loggers": {
            name: {"handlers": [], "propagate": True} for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def setup_logging(settings: TelemetrySettings) -> None:
    """Applies `logging_config(settings)` to this process."""
    logging.config.dictConfig(logging_config(settings))


def with_level(settings: TelemetrySettings, level: str | None) -> TelemetrySettings:
    """`settings` with the log level a command's `--log-level` names (None: unchanged); ValueError if unknown."""
    if level is None:
        return settings
    if level.strip().upper() not in LOG_LEVELS:
        raise ValueError(f"unknown log level {level!r}; one of {', '.join(LOG_LEVELS)}")
    return settings.model_copy(update={"log_level": level.strip().upper()})
