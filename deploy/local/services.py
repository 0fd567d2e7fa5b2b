"""wearstream's own processes: the one way to start and stop `wearstream process` workers and the API.

`spawn` starts `wearstream <args>` with its output appended to a log; `stop` ends started processes (SIGTERM,
then SIGKILL after 30 s). The demo's background services (processor worker, API) are spawned detached, each
with a pid file and a log in `<state dir>/services/`, and `wearstream stack down` stops them with the rest;
benchmarks and tests spawn workers as their own children with `start_workers` / `stop`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from deploy.local.process import pid_alive, read_pid, terminate

Log = Callable[[str], None]
WORKER_ARGS = ("process",)


def spawn(
    args: Sequence[str], log_file: Path, *, env: dict[str, str], detached: bool = False
) -> subprocess.Popen[bytes]:
    """Starts `wearstream <args>` (this Python's), output appended to `log_file`; `detached`: in its own session,
    so it outlives its starter."""
    return subprocess.Popen(
        [sys.executable, "-m", "wearstream", *args],
        stdout=log_file.open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=detached,
        env=env,
    )


def start_workers(env: dict[str, str], count: int, log_dir: Path) -> list[subprocess.Popen[bytes]]:
    """`count` processor workers with `env`, each logging to `log_dir/worker-<i>.log`."""
    log_dir.mkdir(parents=True, exist_ok=True)
    return [spawn(WORKER_ARGS, log_dir / f"worker-{i}.log", env=env) for i in range(count)]


def stop(processes: Sequence[subprocess.Popen[bytes]], *, timeout_s: float = 30.0) -> None:
    """SIGTERM to each running process, SIGKILL to those still there after `timeout_s`."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class BackgroundService:
    def __init__(self, *, state_dir: Path, name: str, args: list[str]) -> None:
        self.home = state_dir / "services"
        self.name = name
        self.args = args

    @property
    def pid_file(self) -> Path:
        return self.home / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.home / f"{self.name}.log"

    def running_pid(self) -> int | None:
        pid = read_pid(self.pid_file)
        return pid if pid is not None and pid_alive(pid) else None

    def start(self, log: Log, env: dict[str, str] | None = None) -> int:
        """Starts `wearstream <args>` unless it already runs; returns its pid."""
        pid = self.running_pid()
        if pid is not None:
            log(f"{self.name}: already running (pid {pid})")
            return pid
        self.home.mkdir(parents=True, exist_ok=True)
        process = spawn(self.args, self.log_file, env=env or dict(os.environ), detached=True)
        self.pid_file.write_text(f"{process.pid}\n")
        log(f"{self.name}: started (pid {process.pid}, log {self.log_file})")
        return process.pid

    def stop(self, log: Log) -> None:
        pid = self.running_pid()
        if pid is None:
            return
        log(f"{self.name}: stopping pid {pid}")
        terminate(pid, timeout_s=30)
        self.pid_file.unlink(missing_ok=True)


def services(state_dir: Path) -> list[BackgroundService]:
    return [
        BackgroundService(state_dir=state_dir, name="processor", args=["process"]),
        BackgroundService(state_dir=state_dir, name="api", args=["api"]),
    ]
