"""The local Zipkin's command line and environment: loopback only, in-memory storage bounded by the span limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.local.errors import StackError
from deploy.local.zipkin import ZIPKIN_VERSION, ZipkinServer


def test_zipkin_listens_on_loopback_with_bounded_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    server = ZipkinServer(state_dir=tmp_path, cache_dir=tmp_path / "cache", port=19411, max_spans=1234, heap="200m")
    argv = server.argv()
    assert argv[:3] == ["java", "-Xms200m", "-Xmx200m"]
    assert str(server.jar) in argv
    assert server.jar.name == f"zipkin-server-{ZIPKIN_VERSION}-exec.jar"
    assert "--armeria.ports[0].port=19411" in argv
    assert "--armeria.ports[0].ip=127.0.0.1" in argv
    env = server.environment()
    assert env["STORAGE_TYPE"] == "mem"
    assert env["MEM_MAX_SPANS"] == "1234"
    assert "KAFKA_BOOTSTRAP_SERVERS" not in env, "no Kafka collector"
    assert server.trace_url("ab12") == "http://127.0.0.1:19411/zipkin/traces/ab12"
    assert server.status().line() == "zipkin 127.0.0.1:19411 unknown DOWN"


def test_a_span_limit_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="span limit must be positive"):
        ZipkinServer(state_dir=tmp_path, cache_dir=tmp_path, port=19411, max_spans=0, heap="200m")
