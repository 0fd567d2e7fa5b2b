"""OpenTelemetry for every wearstream process, configured from the settings and the standard `OTEL_*` variables.

`setup_telemetry` is called once at a process's entry point (the `wearstream` command does it for `process`,
`replay`, `import` and `api`). Tracing is on when an exporter is configured: a Zipkin URL
(`WEARSTREAM_TELEMETRY_ZIPKIN_URL`, or the local stack's Zipkin while it runs: `zipkin_url_of`), which gets the
spans in Zipkin's JSON; `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (OTLP over
HTTP/protobuf); or `OTEL_TRACES_EXPORTER=console`. It is off with `OTEL_SDK_DISABLED=true` or
`OTEL_TRACES_EXPORTER=none`. When off, the OpenTelemetry API stays a no-op and nothing is instrumented. A root
span is sampled with `WEARSTREAM_TELEMETRY_SAMPLING_RATIO` (children follow their parent) unless
`OTEL_TRACES_SAMPLER` names a sampler. The SDK itself reads the rest: `OTEL_SERVICE_NAME`,
`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER(_ARG)`, `OTEL_BSP_*`,
`OTEL_EXPORTER_OTLP_(TRACES_)HEADERS|TIMEOUT|COMPRESSION`.

Library code only uses the API: `tracer()` and `context_from_headers()` (W3C trace context from Kafka headers).
"""

from __future__ import annotations

import atexit
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Final

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter

from core.settings import Settings, TelemetrySettings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.sampling import Sampler

log = logging.getLogger(__name__)

TRACER_NAME: Final = "wearstream"

# Default Prometheus /metrics ports of the producers (the processor's is WEARSTREAM_PROCESSOR_METRICS_PORT, the
# API serves /metrics on its own port); the local Prometheus scrapes them.
REPLAY_METRICS_PORT: Final = 9103
IMPORT_METRICS_PORT: Final = 9104
SOURCES_METRICS_PORT: Final = 9105
INSTRUMENTATIONS: Final = ("asyncpg", "aiokafka")

_state: dict[str, TracerProvider] = {}


def tracer() -> trace.Tracer:
    """The tracer for wearstream's own spans (a no-op until `setup_telemetry` configured the SDK)."""
    return trace.get_tracer(TRACER_NAME)


def zipkin_url_of(settings: Settings, *, timeout_s: float = 0.5) -> str:
    """`WEARSTREAM_TELEMETRY_ZIPKIN_URL`, else the local stack's Zipkin when it answers, else ""."""
    if settings.telemetry.zipkin_url:
        return settings.telemetry.zipkin_url
    base = f"http://127.0.0.1:{settings.stack.zipkin_port}"
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=timeout_s) as response:
            return f"{base}/api/v2/spans" if response.status == 200 else ""
    except (urllib.error.URLError, OSError):
        return ""


def tracing_wanted(environ: Mapping[str, str], *, zipkin_url: str = "") -> bool:
    """True when the environment or `zipkin_url` configures a trace exporter (see the module's docstring)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = _exporters(environ)
    if "none" in exporters:
        return False
    if "console" in exporters or zipkin_url:
        return True
    return bool(environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def _exporters(environ: Mapping[str, str]) -> set[str]:
    return {name.strip().lower() for name in environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",") if name.strip()}


def setup_telemetry(
    settings: TelemetrySettings,
    *,
    component: str,
    instrument: Sequence[str] = ("asyncpg",),
    environ: Mapping[str, str] | None = None,
    span_processor: SpanProcessor | None = None,
    zipkin_url: str = "",
) -> TracerProvider | None:
    """Installs the global tracer provider and the named instrumentations (`asyncpg`, `aiokafka`).

    Returns the provider, or None when tracing is off. The service name is `OTEL_SERVICE_NAME` if set, else
    `<WEARSTREAM_TELEMETRY_SERVICE_NAME>-<component>`. Spans go to `zipkin_url` when given, and to the exporters
    the environment names; `span_processor` replaces them all (tests). Safe to call twice: the second call
    returns the first provider.
    """
    if "provider" in _state:
        return _state["provider"]
    env = os.environ if environ is None else environ
    if span_processor is None and not tracing_wanted(env, zipkin_url=zipkin_url):
        return None
    unknown = set(instrument) - set(INSTRUMENTATIONS)
    if unknown:
        raise ValueError(f"unknown instrumentation(s) {sorted(unknown)}; known: {INSTRUMENTATIONS}")

    from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_NAMESPACE, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    attributes: dict[str, str] = {SERVICE_NAMESPACE: settings.service_name, "wearstream.component": component}
    if not env.get("OTEL_SERVICE_NAME"):
        attributes[SERVICE_NAME] = f"{settings.service_name}-{component}"
    provider = TracerProvider(resource=Resource.create(attributes), sampler=_sampler(settings, env))
    if span_processor is not None:
        provider.add_span_processor(span_processor)
    else:
        exporters = _exporters(env)
        if zipkin_url:
            from opentelemetry.exporter.zipkin.json import ZipkinExporter

            provider.add_span_processor(BatchSpanProcessor(ZipkinExporter(endpoint=zipkin_url)))
        if "console" in exporters:
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        if "otlp" in exporters and (
            env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        ):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            if protocol and protocol != "http/protobuf":
                log.warning("OTLP protocol %r is not installed; exporting with http/protobuf", protocol)
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _state["provider"] = provider
    atexit.register(provider.shutdown)

    _instrument(provider, instrument)
    log.info("tracing on: %s", provider.resource.attributes.get(SERVICE_NAME))
    return provider


def _sampler(settings: TelemetrySettings, environ: Mapping[str, str]) -> Sampler | None:
    """The ratio sampler of the settings, or None (the SDK's, from OTEL_TRACES_SAMPLER) when one is named."""
    if environ.get("OTEL_TRACES_SAMPLER"):
        return None
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    return ParentBased(TraceIdRatioBased(settings.sampling_ratio))


def _instrument(provider: TracerProvider, instrument: Sequence[str]) -> None:
    """Turns the named instrumentations on for `provider`."""
    if "asyncpg" in instrument:
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

        AsyncPGInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
    if "aiokafka" in instrument:
        # Wraps AIOKafkaProducer.send: a PRODUCER span per message and its `traceparent` header.
        from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor

        AIOKafkaInstrumentor().instrument(tracer_provider=provider)


class _KafkaHeaders(Getter[Iterable[tuple[str, bytes]]]):
    """Reads W3C trace context from Kafka headers ((str, bytes) pairs); the first of a repeated key wins."""

    def get(self, carrier: Iterable[tuple[str, bytes]], key: str) -> list[str] | None:
        for name, value in carrier:
            if name == key and value is not None:
                return [value.decode("utf-8", "replace")]
        return None

    def keys(self, carrier: Iterable[tuple[str, bytes]]) -> list[str]:
        return [name for name, _ in carrier]


_KAFKA_HEADERS: Final = _KafkaHeaders()


def context_from_headers(headers: Iterable[tuple[str, bytes]]) -> Context | None:
    """The producer's trace context carried in Kafka headers (`traceparent`), or None when there is none."""
    headers = tuple(headers)
    if not any(name == "traceparent" for name, _ in headers):
        return None
    context = propagate.extract(headers, getter=_KAFKA_HEADERS)
    return context if trace.get_current_span(context).get_span_context().is_valid else None
