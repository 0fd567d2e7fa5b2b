"""Debian's Chromium for the browser tests of the built-in web pages (driven by Playwright, never downloaded by it).

`ensure_chromium(log)` installs the `chromium` package with apt when it is missing (root only) and returns the
path of the executable; `CHROMIUM_ARGS` are the flags a headless, offline, sandbox-less test run needs.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Final

from deploy.local.errors import StackError
from deploy.local.process import run

Log = Callable[[str], None]

CHROMIUM: Final = Path("/usr/bin/chromium")
CHROMIUM_ARGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_path() -> Path | None:
    if CHROMIUM.exists():
        return CHROMIUM
    found = shutil.which("chromium")
    return Path(found) if found else None


def ensure_chromium(log: Log) -> Path:
    """The Chromium executable, installed from Debian's `chromium` package first when missing.

    Raises StackError when it is missing and cannot be installed (not root, or apt fails): a browser test
    must fail, not skip, on a machine without a browser.
    """
    path = chromium_path()
    if path is not None:
        return path
    if os.geteuid() != 0:
        raise StackError("chromium not installed; run `sudo apt-get install --no-install-recommends chromium`")
    log("browser: installing chromium (Debian package)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"], env=env)
    path = chromium_path()
    if path is None:
        raise StackError("apt-get installed chromium but no chromium executable was found")
    return path
