"""Test topics and databases are removed when the session ends, so the shared broker stays small."""

from __future__ import annotations

import re
from typing import Final

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

# Prefixes the tests and benchmarks give their isolated topics (uuid-based, never a real deployment's).
TEST_TOPIC: Final = re.compile(r"^(t[0-9a-f]{10}|bench[0-9a-f]{8}|test[0-9a-f]{8}|test-[0-9a-f]{12}|wearstream-smoke-)")
created_prefixes: set[str] = set()


async def delete_topics(bootstrap_servers: str, prefixes: set[str]) -> int:
    """Deletes every topic that starts with one of `prefixes`; returns how many."""
    if not prefixes:
        return 0
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if any(t.startswith(p) for p in prefixes)]
        for start in range(0, len(names), 200):
            await admin.delete_topics(names[start : start + 200])
        return len(names)
    finally:
        await admin.close()


async def leftover_test_topics(bootstrap_servers: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        return [t for t in await admin.list_topics() if TEST_TOPIC.match(t)]
    finally:
        await admin.close()


async def drop_databases(database_url: str, names: list[str]) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        for name in names:
            await connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await connection.close()
