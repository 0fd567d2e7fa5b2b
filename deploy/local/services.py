"""wearstream's own long-running processes (processor worker, API) started in the background for the demo.

Each has a pid file and a log in `<state dir>/services/`; `wearstream stack down` stops them with the rest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from deploy.local.process import pid_alive, read_pid, terminate

Log = Callable[[str], None]


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
        process = subprocess.Popen(
            [sys.executable, "-m", "wearstream", *self.args],
            stdout=self.log_file.open("ab"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env or dict(os.environ),
        )
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
        BackgroundService(state_dir=state_dir, name="api", args=["api", "--log-level", "warning"]),
    ]
