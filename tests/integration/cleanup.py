"""The uuid topic prefixes (and consumer groups) this test session created: the `stack` fixture deletes their
topics when the session ends, so the shared broker stays small and restarts quickly."""

from __future__ import annotations

created_prefixes: set[str] = set()
