"""Zipkin for the local stack (`wearstream stack up --with-monitoring`): the trace store and UI that every
wearstream process exports its spans to while it runs.

The server is Zipkin's executable jar (`io.zipkin:zipkin-server`, the pinned ZIPKIN_VERSION), fetched once from
Maven Central into the cache with Maven — as the Kafka broker is — and run with the machine's Java on
127.0.0.1:`WEARSTREAM_ZIPKIN_PORT`, keeping at most `WEARSTREAM_ZIPKIN_MAX_SPANS` spans in memory.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Final

from deploy.local.daemon import Daemon, Log, http_ok
from deploy.local.errors import StackError
from deploy.local.process import run
from deploy.local.status import ComponentStatus

ZIPKIN_VERSION: Final = "3.5.1"
# Variables that would switch on another storage or collector of the server (it reads them from its environment).
_FOREIGN_CONFIGURATION: Final = ("KAFKA_BOOTSTRAP_SERVERS", "RABBIT_ADDRESSES", "RABBIT_URI", "SCRIBE_ENABLED")


class ZipkinServer(Daemon):
    """One Zipkin server with in-memory storage; its state (log, pid) lives in `<state_dir>/zipkin`."""

    name = "zipkin"
    poll_interval_s = 0.5

    def __init__(self, *, state_dir: Path, cache_dir: Path, port: int, max_spans: int, heap: str) -> None:
        if max_spans <= 0:
            raise StackError(f"zipkin: the span limit must be positive, not {max_spans}")
        super().__init__(home=state_dir / "zipkin", port=port)
        self.jar = cache_dir / f"zipkin-{ZIPKIN_VERSION}" / f"zipkin-server-{ZIPKIN_VERSION}-exec.jar"
        self.max_spans = max_spans
        self.heap = heap

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def trace_url(self, trace_id: str) -> str:
        """The UI page of one trace."""
        return f"{self.url}/zipkin/traces/{trace_id}"

    def traces(self, *, service: str, span_name: str = "", limit: int = 10) -> list[list[dict[str, Any]]]:
        """The newest traces (each a list of Zipkin v2 spans) with a span of `service` (named `span_name`)."""
        query = {"serviceName": service, "limit": str(limit), "lookback": str(24 * 3600 * 1000)}
        if span_name:
            query["spanName"] = span_name.lower()  # Zipkin keeps names in lower case
        url = f"{self.url}/api/v2/traces?{urllib.parse.urlencode(query)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                found = json.loads(response.read())
        except (urllib.error.URLError, OSError) as error:
            raise StackError(f"zipkin: {url}: {error}") from error
        return found if isinstance(found, list) else []

    def install(self, log: Log) -> None:
        """Fetches the executable jar once into the cache (Maven resolves it from Maven Central)."""
        if self.jar.exists():
            return
        missing = [p for t, p in (("java", "openjdk-17-jre-headless"), ("mvn", "maven")) if not shutil.which(t)]
        if missing:
            log(f"zipkin: installing {' '.join(missing)}")
            run(["apt-get", "update", "-qq"])
            run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing])
        log(f"zipkin: fetching Zipkin {ZIPKIN_VERSION} with Maven")
        self.jar.parent.mkdir(parents=True, exist_ok=True)
        run(
            [
                "mvn",
                "-q",
                "-B",
                "dependency:copy",
                f"-Dartifact=io.zipkin:zipkin-server:{ZIPKIN_VERSION}:jar:exec",
                f"-DoutputDirectory={self.jar.parent}",
            ],
            cwd=self.jar.parent,
        )
        if not self.jar.exists():
            raise StackError(f"zipkin: Maven did not leave {self.jar}")

    def argv(self) -> list[str]:
        # The server's listener is a list in its configuration; overriding one field replaces the whole entry.
        return [
            "java",
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-XX:+UseSerialGC",
            "-jar",
            str(self.jar),
            f"--armeria.ports[0].port={self.port}",
            "--armeria.ports[0].ip=127.0.0.1",
            "--armeria.ports[0].protocols[0]=http",
        ]

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _FOREIGN_CONFIGURATION}
        return {**env, "STORAGE_TYPE": "mem", "MEM_MAX_SPANS": str(self.max_spans), "SELF_TRACING_ENABLED": "false"}

    def ready(self) -> bool:
        return http_ok(f"{self.url}/health")

    def start(self, log: Log, *, timeout_s: float = 120.0) -> None:
        """Starts the server unless ours runs; returns once its /health answers."""
        self.home.mkdir(parents=True, exist_ok=True)
        if self.running_pid() is not None:
            log(f"zipkin: already running on {self.address}")
            self.wait_ready(timeout_s)
            return
        if self.ready():
            raise StackError(
                f"zipkin: port {self.port} already serves one that this stack did not start; "
                "stop it or set WEARSTREAM_ZIPKIN_PORT"
            )
        log(f"zipkin: starting Zipkin {ZIPKIN_VERSION} on {self.address} (at most {self.max_spans:,} spans)")
        process = self.spawn(self.argv(), cwd=self.home, env=self.environment())
        (self.home / "version").write_text(ZIPKIN_VERSION)
        self.wait_ready(timeout_s, process=process)

    def status(self) -> ComponentStatus:
        pid = self.running_pid()
        version_file = self.home / "version"
        version = version_file.read_text().strip() if pid is not None and version_file.exists() else "unknown"
        return ComponentStatus(
            name=self.name, address=self.address, version=version, up=self.ready(), managed=pid is not None
        )
