"""Every process's log: the format and level settings, JSON lines with the current span, keys masked; the
telemetry settings' checks and what turns tracing on."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest
from opentelemetry.sdk.trace import TracerProvider
from pydantic import ValidationError

from core.logs import REDACTED, JsonFormatter, TextFormatter, logging_config, redact, with_level
from core.settings import Settings, StackSettings, TelemetrySettings
from core.telemetry import tracing_wanted, zipkin_url_of

TOKEN = "wsk_0123456789ab_" + "S3cr3t-" * 6


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("stream_processors.pipeline", logging.INFO, __file__, 1, message, args, None)


def test_json_lines_carry_the_current_span_and_no_key() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("store heart_rate") as span:
        line = json.loads(JsonFormatter().format(record("stored %d batches for %s", 3, TOKEN)))
    context = span.get_span_context()
    assert line["trace_id"] == f"{context.trace_id:032x}"
    assert line["span_id"] == f"{context.span_id:016x}"
    assert line["level"] == "INFO"
    assert line["logger"] == "stream_processors.pipeline"
    assert line["message"] == f"stored 3 batches for {REDACTED}"
    assert line["time"].endswith("+00:00")
    outside = json.loads(JsonFormatter().format(record("no span here")))
    assert "trace_id" not in outside
    assert "span_id" not in outside


@pytest.mark.parametrize(
    "text",
    [
        f"GET /v1/live?token={TOKEN} 101",
        f"Authorization: Bearer {TOKEN}",
        "Authorization: bearer not-our-format-but-secret",
        f"key {TOKEN} created",
    ],
)
def test_keys_and_credentials_are_masked(text: str) -> None:
    masked = redact(text)
    assert "S3cr3t" not in masked
    assert "not-our-format-but-secret" not in masked
    assert REDACTED in masked
    assert "S3cr3t" not in TextFormatter().format(record(text))


def test_the_level_and_format_settings_configure_the_root_logger() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logging.config.dictConfig(logging_config(TelemetrySettings(log_level="warning", log_format="json")))
        assert root.level == logging.WARNING
        (handler,) = root.handlers
        assert isinstance(handler.formatter, JsonFormatter)
        stream = io.StringIO()
        handler.setStream(stream)  # type: ignore[attr-defined]
        logging.getLogger("wearstream.test").info("dropped")
        logging.getLogger("wearstream.test").warning("kept %s", TOKEN)
        (line,) = stream.getvalue().splitlines()
        assert json.loads(line)["message"] == f"kept {REDACTED}"
        assert logging.getLogger("uvicorn.access").handlers == []
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def test_bad_telemetry_settings_are_refused_clearly() -> None:
    with pytest.raises(ValidationError, match="unknown log level 'loud'"):
        TelemetrySettings(log_level="loud")
    with pytest.raises(ValidationError, match="log_format"):
        TelemetrySettings(log_format="xml")
    with pytest.raises(ValidationError, match="sampling_ratio"):
        TelemetrySettings(sampling_ratio=1.5)
    with pytest.raises(ValueError, match="unknown log level 'chatty'"):
        with_level(TelemetrySettings(), "chatty")
    assert with_level(TelemetrySettings(), "debug").log_level == "DEBUG"


def test_a_zipkin_turns_tracing_on_and_none_turns_it_off() -> None:
    assert not tracing_wanted({})
    assert tracing_wanted({}, zipkin_url="http://127.0.0.1:9411/api/v2/spans")
    assert not tracing_wanted({"OTEL_SDK_DISABLED": "true"}, zipkin_url="http://127.0.0.1:9411/api/v2/spans")
    assert not tracing_wanted({"OTEL_TRACES_EXPORTER": "none"}, zipkin_url="http://127.0.0.1:9411/api/v2/spans")


def test_the_zipkin_url_is_the_setting_or_a_running_local_zipkin() -> None:
    configured = Settings(telemetry=TelemetrySettings(zipkin_url="http://zipkin.example:9411/api/v2/spans"))
    assert zipkin_url_of(configured) == "http://zipkin.example:9411/api/v2/spans"
    # Port 9 (discard) answers nothing: no local Zipkin, no exporter.
    assert zipkin_url_of(Settings(stack=StackSettings(zipkin_port=9))) == ""
