"""Small process helpers shared by the local stack's components."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from deploy.local.errors import StackError


def service_user() -> str | None:
    """The user that owns and runs PostgreSQL: `postgres` when we are root (it refuses root), else ourselves."""
    return "postgres" if os.geteuid() == 0 else None


def chown_to(path: Path, user: str | None) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    as_user: str | None = None,
    cwd: Path | None = None,
    quiet: bool = True,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Runs a command to completion (`stdin` as its input: secrets never go on a command line); raises
    StackError with its output when it fails."""
    full = [str(a) for a in argv]
    if as_user is not None:
        full = ["runuser", "-u", as_user, "--", *full]
    result = subprocess.run(
        full,
        cwd=cwd,
        env=env,
        input=stdin,
        text=True,
        stdout=subprocess.PIPE if quiet else None,
        stderr=subprocess.STDOUT if quiet else None,
        check=False,
    )
    if result.returncode != 0:
        output = (result.stdout or "").strip()[-3000:]
        raise StackError(f"command failed ({result.returncode}): {' '.join(full)}\n{output}")
    return result


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) counts as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return True
    return state != "Z"


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def terminate(pid: int, *, timeout_s: float = 30.0) -> None:
    """SIGTERM, then SIGKILL after `timeout_s`; returns once the process is gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.2)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    while pid_alive(pid):
        time.sleep(0.1)
