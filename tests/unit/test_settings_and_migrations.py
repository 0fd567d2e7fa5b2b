from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import load_settings
from schemas.migrate import MigrationError, discover


def test_addresses_follow_the_stack_ports(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WEARSTREAM_STATE_DIR", str(tmp_path))  # a stack made without generated passwords
    monkeypatch.setenv("WEARSTREAM_KAFKA_PORT", "19092")
    monkeypatch.setenv("WEARSTREAM_PG_PORT", "15433")
    settings = load_settings()
    assert settings.kafka.bootstrap_servers == "127.0.0.1:19092"
    assert settings.database.url == "postgresql://wearstream@127.0.0.1:15433/wearstream"


def test_a_new_clusters_passwords_go_into_its_addresses(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    for role in ("wearstream", "wearstream_processor", "wearstream_api"):
        (tmp_path / "secrets" / f"{role}.password").write_text(f"pw-{role}\n")
    monkeypatch.setenv("WEARSTREAM_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("WEARSTREAM_PG_PORT", "15433")
    settings = load_settings()
    assert settings.database.url == "postgresql://wearstream:pw-wearstream@127.0.0.1:15433/wearstream"
    assert settings.database.processor_dsn == (
        "postgresql://wearstream_processor:pw-wearstream_processor@127.0.0.1:15433/wearstream"
    )
    assert settings.database.api_dsn == "postgresql://wearstream_api:pw-wearstream_api@127.0.0.1:15433/wearstream"


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
