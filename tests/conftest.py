"""Shared fixtures. Integration tests start the real local stack once per session with the same code as
`wearstream stack up` (reusing it when it already runs) and isolate themselves with uuid-named topics and a
fresh database per test module."""

from __future__ import annotations

import pytest

from core.settings import Settings, load_settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()
