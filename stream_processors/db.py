"""The processor's asyncpg pool: small, and each connection prepared with the raw staging table."""

from __future__ import annotations

import asyncpg

from stream_processors.rollup_store import CREATE_STAGING


async def _prepare(connection: asyncpg.Connection) -> None:
    await connection.execute(CREATE_STAGING)


async def create_pool(dsn: str, *, size: int) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=size, init=_prepare, command_timeout=120)
    assert pool is not None
    return pool
