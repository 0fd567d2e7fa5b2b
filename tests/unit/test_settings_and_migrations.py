from __future__ import annotations

from pathlib import Path

import pytest

from schemas.migrate import MigrationError, discover
from wearstream.settings import load_settings


def test_addresses_follow_the_stack_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEARSTREAM_KAFKA_PORT", "19092")
    monkeypatch.setenv("WEARSTREAM_PG_PORT", "15433")
    settings = load_settings()
    assert settings.kafka.bootstrap_servers == "127.0.0.1:19092"
    assert settings.database.url == "postgresql://wearstream@127.0.0.1:15433/wearstream"


def test_explicit_addresses_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEARSTREAM_KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("WEARSTREAM_DATABASE_URL", "postgresql://u@db/x")
    monkeypatch.setenv("WEARSTREAM_KAFKA_PARTITIONS", "12")
    settings = load_settings()
    assert settings.kafka.bootstrap_servers == "kafka:9092"
    assert settings.database.url == "postgresql://u@db/x"
    assert settings.kafka.partitions == 12


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.kafka.partitions = 3  # type: ignore[misc]


def test_migrations_are_ordered_and_well_named(tmp_path: Path) -> None:
    names = [m.name for m in discover()]
    assert names == sorted(names)
    assert names[0].startswith("0001_")
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0001_b.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="duplicate"):
        discover(tmp_path)
    (tmp_path / "bad name.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="named"):
        discover(tmp_path)
