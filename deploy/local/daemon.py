"""The daemon base of the local stack: a server started in the background with its pid file and log in
`<state_dir>/<name>`, waited for until ready, stopped by its pid, and reported by `stack status`.

Kafka and the monitoring servers (Prometheus, Alertmanager, Zipkin) are daemons; each says how it is configured,
launched and probed, the base owns the process's life cycle.
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from deploy.local.errors import StackError
from deploy.local.process import pid_alive, read_pid, terminate

Log = Callable[[str], None]


def http_ok(url: str, *, timeout_s: float = 2.0) -> bool:
    """True when a GET of `url` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class Daemon:
    """A background server of ours on 127.0.0.1:`port`; only a process whose pid file we wrote is ours."""

    name: str
    # Seconds between readiness probes while starting, and allowed for SIGTERM before SIGKILL when stopping.
    poll_interval_s: float = 0.2
    stop_timeout_s: float = 30.0

    def __init__(self, *, home: Path, port: int) -> None:
        self.home = home
        self.port = port

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.home / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        """Where the process's stdout and stderr go."""
        return self.home / f"{self.name}.log"

    def ready(self) -> bool:
        """True when the server answers on its port."""
        raise NotImplementedError

    def running_pid(self) -> int | None:
        pid = read_pid(self.pid_file)
        return pid if pid is not None and pid_alive(pid) else None

    def spawn(
        self, argv: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Starts `argv` in its own session (environment `env`, default this one's), output appended to the log,
        and records its pid."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        out = self.log_file.open("ab")
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=None if env is None else dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pid_file.write_text(f"{process.pid}\n")
        return process

    def exited_message(self, returncode: int) -> str:
        return f"{self.name} exited with {returncode}; see {self.log_file}"

    def not_ready_message(self, timeout_s: float) -> str:
        return f"{self.name} not ready on {self.address} in {timeout_s:.0f} s"

    def wait_ready(self, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> None:
        """Returns once `ready()`; raises StackError if `process` exits first or `timeout_s` passes."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise StackError(self.exited_message(process.returncode))
            if self.ready():
                return
            time.sleep(self.poll_interval_s)
        raise StackError(self.not_ready_message(timeout_s))

    def stop(self, log: Log) -> None:
        """Stops the process we started, if any; safe to call twice."""
        pid = self.running_pid()
        if pid is None:
            log(f"{self.name}: not running (nothing started by this stack)")
            return
        log(f"{self.name}: stopping pid {pid}")
        terminate(pid, timeout_s=self.stop_timeout_s)
        self.pid_file.unlink(missing_ok=True)
