"""The monitoring commands from Debian's `prometheus` and `prometheus-alertmanager` packages: installing them
when missing, finding them, and reading their versions (the stack runs the servers, the tests `promtool`
and `amtool`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Final

from deploy.local.daemon import Log
from deploy.local.errors import StackError
from deploy.local.process import run

# Debian package → the commands it provides.
PACKAGES: Final = {
    "prometheus": ("prometheus", "promtool"),
    "prometheus-alertmanager": ("prometheus-alertmanager", "amtool"),
}


def install_monitoring_tools(log: Log) -> None:
    """Installs Debian's prometheus and prometheus-alertmanager when a command of theirs is missing (root).

    Debian would start their packaged services right away; a policy-rc.d (when none exists) prevents that,
    so nothing but our own processes listens on the ports.
    """
    missing = [package for package, commands in PACKAGES.items() if not all(shutil.which(c) for c in commands)]
    if not missing:
        return
    if os.geteuid() != 0:
        raise StackError(f"{' and '.join(missing)} not installed; run `sudo apt-get install {' '.join(missing)}`")
    log(f"monitoring: installing {' '.join(missing)} (Debian packages)")
    policy = Path("/usr/sbin/policy-rc.d")
    added_policy = not policy.exists()
    if added_policy:
        policy.write_text("#!/bin/sh\n# wearstream: no service starts while installing\nexit 101\n")
        policy.chmod(0o755)
    try:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run(["apt-get", "update", "-qq"], env=env)
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)
    finally:
        if added_policy:
            policy.unlink(missing_ok=True)


def tool(name: str) -> str:
    """The path of a monitoring command (promtool, amtool, prometheus, prometheus-alertmanager)."""
    path = shutil.which(name)
    if path is None:
        raise StackError(f"{name} not found; `wearstream stack up --with-monitoring` installs it")
    return path


def version_of(command: str) -> str:
    """`prometheus, version 2.42.0+ds (branch …)` → `2.42.0+ds`."""
    try:
        result = subprocess.run([command, "--version"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    words = (result.stdout or result.stderr).split()
    return words[words.index("version") + 1] if "version" in words[:-1] else "unknown"
