"""OpenTelemetry end to end: the real `wearstream replay`, `process` and `api` commands export OTLP (set up from
the standard OTEL_* variables only) to a receiver this test runs on loopback.

One trace follows a batch from the producer through the Kafka `traceparent` header into the processor
(decode+validate, store, COPY and the other SQL); an API request's server span has the database calls under it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import asyncpg
import httpx
import msgspec
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.semconv._incubating.attributes import messaging_attributes as messaging
from opentelemetry.semconv.attributes import db_attributes as db

from api.auth.store import create_key
from core.settings import Settings
from core.topics import ensure_topics
from producers.simulator import CohortSimulator
from tests.integration.pipeline import ground_truth, isolated, start_processor, stop_processor, wait_for_readings

START = dt.date(2026, 9, 1)
SEED = 3


class Span(msgspec.Struct, frozen=True):
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, str | int | float | bool]


class Receiver:
    """An OTLP/HTTP (protobuf) trace receiver on 127.0.0.1."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver.add(request)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, request: ExportTraceServiceRequest) -> None:
        received = []
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {a.key: _value(a.value) for a in span.attributes}
                    received.append(
                        Span(
                            service=resource.get("service.name", ""),
                            name=span.name,
                            kind=span.kind,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            attributes=attributes,
                        )
                    )
        with self.lock:
            self.spans.extend(received)

    def snapshot(self) -> list[Span]:
        with self.lock:
            return list(self.spans)


def _value(value: object) -> str | int | float | bool:
    kind = value.WhichOneof("value")  # type: ignore[attr-defined]
    return getattr(value, kind) if kind else ""


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    otlp = Receiver()
    otlp.thread.start()
    yield otlp
    otlp.server.shutdown()


def traced_env(base: dict[str, str], receiver: Receiver) -> dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith("OTEL_")}
    return {
        **env,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
    }


def ancestors(span: Span, by_id: dict[str, Span]) -> list[Span]:
    chain = []
    while span.parent_id and span.parent_id in by_id:
        span = by_id[span.parent_id]
        chain.append(span)
    return chain


async def wait_for_spans(receiver: Receiver, predicate: object, timeout_s: float = 60) -> list[Span]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        spans = receiver.snapshot()
        if predicate(spans):  # type: ignore[operator]
            return spans
        await asyncio.sleep(0.3)
    raise AssertionError(f"spans not received in {timeout_s} s: {sorted({(s.service, s.name) for s in spans})}")


async def test_one_trace_follows_a_batch_from_the_producer_into_the_processor_and_its_copy(
    settings: Settings, database: str, receiver: Receiver, tmp_path: Path
) -> None:
    env = isolated(settings, database, partitions=1)
    await ensure_topics(env.settings.kafka)
    traced = traced_env(env.env, receiver)
    worker = start_processor(traced, tmp_path / "worker.log")
    try:
        replay = await asyncio.to_thread(run_replay, traced)
        assert replay.returncode == 0, replay.stderr[-2000:]
        truth = ground_truth(CohortSimulator(seed=SEED, start=START), 1, 1)
        await wait_for_readings(database, truth.total, timeout_s=120, process=worker)

        def complete(spans: list[Span]) -> bool:
            # Each process exports its spans in batches as they end, a child before its parent: wait until every
            # COPY's ancestors up to the replay's publish span have arrived (or time out, and the checks say why).
            by_id = {s.span_id: s for s in spans}
            copies = [s for s in spans if s.name == "COPY raw_staging"]
            return bool(copies) and all(
                any(a.name.startswith("publish ") for a in ancestors(copy, by_id)) for copy in copies
            )

        spans = await wait_for_spans(receiver, complete)
    finally:
        stop_processor(worker)

    by_id = {s.span_id: s for s in spans}
    publishes = {s.span_id for s in spans if s.service == "wearstream-replay" and s.name.startswith("publish ")}
    assert publishes, "the replay's batch spans"
    producer_spans = [s for s in spans if s.service == "wearstream-replay" and s.kind == ProtoSpan.SPAN_KIND_PRODUCER]
    readings_sends = [s for s in producer_spans if ".readings." in str(s.attributes.get("messaging.destination.name"))]
    assert readings_sends, "the aiokafka instrumentation's send spans (they carry traceparent)"
    for send in readings_sends:
        assert send.parent_id in publishes, "each batch's send nests under the batch's span"
    sends = {s.span_id: s for s in readings_sends}

    # Every message the processor decoded continues the trace of the send that produced it.
    validations = [s for s in spans if s.service == "wearstream-processor" and s.name == "decode+validate"]
    assert validations
    for validation in validations:
        assert validation.parent_id in sends, validation
        assert validation.attributes[messaging.MESSAGING_SYSTEM] == "kafka"
        assert ".readings." in str(validation.attributes[messaging.MESSAGING_DESTINATION_NAME])
        assert validation.trace_id == sends[validation.parent_id].trace_id

    # A group's store, with the COPY, belongs to the trace of the group's first message, down from its publish.
    copies = [s for s in spans if s.name == "COPY raw_staging"]
    assert copies
    for copy in copies:
        assert copy.service == "wearstream-processor"
        assert copy.kind == ProtoSpan.SPAN_KIND_CLIENT
        assert copy.attributes[db.DB_OPERATION_NAME] == "COPY"
        assert copy.attributes[db.DB_SYSTEM_NAME] == "postgresql"
        assert copy.attributes[db.DB_COLLECTION_NAME] == "raw_staging"
        assert str(copy.attributes[db.DB_QUERY_TEXT]).startswith("COPY raw_staging (")
        assert int(copy.attributes[db.DB_OPERATION_BATCH_SIZE]) >= 1
        chain = ancestors(copy, by_id)
        names = [s.name for s in chain]
        assert names[0].startswith("store "), names
        process = chain[1]
        assert process.kind == ProtoSpan.SPAN_KIND_CONSUMER
        topic = str(process.attributes[messaging.MESSAGING_DESTINATION_NAME])
        assert ".readings." in topic
        assert process.name == f"process {topic}"
        assert process.attributes[messaging.MESSAGING_SYSTEM] == "kafka"
        assert process.attributes[messaging.MESSAGING_OPERATION_NAME] == "process"
        assert process.attributes[messaging.MESSAGING_OPERATION_TYPE] == "process"
        assert process.attributes[messaging.MESSAGING_CONSUMER_GROUP_NAME] == env.settings.processor.group_id
        assert int(process.attributes[messaging.MESSAGING_BATCH_MESSAGE_COUNT]) >= 1
        assert chain[2].span_id in sends, "process continues the producer's send span"
        assert names[3].startswith("publish "), names
        assert {s.trace_id for s in chain} == {copy.trace_id}
        assert {s.service for s in chain} == {"wearstream-processor", "wearstream-replay"}
        # The other SQL of the transaction (asyncpg instrumentation) is in the same trace, under store.
        store = chain[0]
        sql = [s for s in spans if s.parent_id == store.span_id and s.attributes.get("db.system") == "postgresql"]
        assert any("INSERT" in s.name or "INSERT" in str(s.attributes) for s in sql), [s.name for s in sql]


def run_replay(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = ["replay", "-n", "1", "-d", "1", "--start", START.isoformat(), "--seed", str(SEED), "--metrics-port", "0"]
    return subprocess.run(
        [sys.executable, "-m", "wearstream", *argv], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def start_api(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "wearstream", "api", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_api_requests_have_spans_with_the_database_calls_under_them(
    settings: Settings, database: str, receiver: Receiver, tmp_path: Path
) -> None:
    env = isolated(settings, database)
    port = free_port()
    traced = {**traced_env(env.env, receiver), "WEARSTREAM_API_LIVE_ENABLED": "false"}
    connection = await asyncpg.connect(database)
    try:
        token = (await create_key(connection, "researcher", None)).token
    finally:
        await connection.close()
    api = start_api(traced, port, tmp_path / "api.log")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            deadline = time.monotonic() + 60
            while True:
                assert api.poll() is None, (tmp_path / "api.log").read_text()[-3000:]
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the API did not start"
                await asyncio.sleep(0.3)
            response = await client.get("/v1/participants", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, response.text

        def served(spans: list[Span]) -> bool:
            return any(
                s.service == "wearstream-api" and s.kind == ProtoSpan.SPAN_KIND_SERVER and "participants" in s.name
                for s in spans
            ) and any(s.service == "wearstream-api" and s.attributes.get("db.system") == "postgresql" for s in spans)

        spans = await wait_for_spans(receiver, served)
    finally:
        api.terminate()
        api.wait(30)
    api_spans = [s for s in spans if s.service == "wearstream-api"]
    by_id = {s.span_id: s for s in api_spans}
    (server,) = [s for s in api_spans if s.kind == ProtoSpan.SPAN_KIND_SERVER and "participants" in s.name]
    queries = [s for s in api_spans if s.attributes.get("db.system") == "postgresql" and s.trace_id == server.trace_id]
    assert queries, "database spans in the request's trace"
    for query in queries:
        assert server in ancestors(query, by_id), f"{query.name} is not under the request's span"
    assert os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") is None, "the test process itself is not traced"
