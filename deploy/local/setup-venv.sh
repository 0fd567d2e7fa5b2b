#!/usr/bin/env bash
# Creates or updates .venv/ at the repository root from uv.lock (exact pinned versions), installing the pinned
# uv itself first when it is missing. Safe to run again: it only changes what differs from the lock.
set -euo pipefail
UV_VERSION=0.13.8
cd "$(dirname "$0")/../.."
if ! command -v uv >/dev/null 2>&1 || [ "$(uv --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  echo "installing uv $UV_VERSION"
  python3 -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
uv sync --frozen --quiet --python "$(command -v python3)"
echo "ready: .venv/bin/wearstream"
