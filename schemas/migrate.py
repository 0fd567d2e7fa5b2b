"""Applies the ordered SQL files in `schemas/migrations/`, each once and in its own transaction.

Applied versions are recorded in `schema_migrations`; an advisory lock lets several processes call
`migrate()` at once safely. After the files, the metric registry is synced into the `metrics` table.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Final

import asyncpg
import msgspec

from schemas.metrics import METRIC_IDS, METRICS

MIGRATIONS_DIR: Final = Path(__file__).parent / "migrations"
_LOCK_KEY: Final = 0x5745415253  # "WEARS"
_NAME: Final = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class Migration(msgspec.Struct, frozen=True):
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(RuntimeError):
    """A migration file is malformed, failed, or was changed after it was applied."""


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_snake_case.sql")
        migrations.append(Migration(version=int(match.group(1)), name=path.name, sql=path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {directory}")
    return migrations


async def migrate(dsn: str, *, log: Callable[[str], None] = lambda _: None) -> list[str]:
    """Applies pending migrations; returns the names applied now (empty when up to date)."""
    connection = await asyncpg.connect(dsn)
    applied_now: list[str] = []
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"]: r for r in await connection.fetch("SELECT * FROM schema_migrations")}
        for migration in discover():
            previous = done.get(migration.version)
            if previous is not None:
                if previous["checksum"] != migration.checksum:
                    raise MigrationError(f"{migration.name} changed after it was applied")
                continue
            log(f"applying {migration.name}")
            try:
                async with connection.transaction():
                    await connection.execute(migration.sql)
                    await connection.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
            except asyncpg.PostgresError as error:
                raise MigrationError(f"{migration.name} failed: {error}") from error
            applied_now.append(migration.name)
        await _sync_metric_registry(connection)
        await connection.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await connection.close()
    return applied_now


async def _sync_metric_registry(connection: asyncpg.Connection) -> None:
    await connection.executemany(
        "INSERT INTO metrics (metric_id, name, unit, scale, aggregate, min_value, max_value, gap_threshold_s,"
        " extra_columns) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (metric_id) DO UPDATE SET name = EXCLUDED.name, unit = EXCLUDED.unit,"
        " scale = EXCLUDED.scale, aggregate = EXCLUDED.aggregate, min_value = EXCLUDED.min_value,"
        " max_value = EXCLUDED.max_value, gap_threshold_s = EXCLUDED.gap_threshold_s,"
        " extra_columns = EXCLUDED.extra_columns",
        [
            (
                METRIC_IDS[m.name],
                m.name,
                m.unit,
                m.scale,
                m.aggregate,
                m.min_value,
                m.max_value,
                m.gap_threshold_s,
                list(m.extra_columns),
            )
            for m in METRICS.values()
        ],
    )
