"""The processor's asyncpg pool (small, each connection prepared with the raw staging table), and dropping a
database that other roles' connections may still hold."""

from __future__ import annotations

import asyncio

import asyncpg

from stream_processors.rollup_store import CREATE_STAGING


async def _prepare(connection: asyncpg.Connection) -> None:
    await connection.execute(CREATE_STAGING)


async def create_pool(dsn: str, *, size: int) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, min_size=size, max_size=size, init=_prepare, command_timeout=120)
    assert pool is not None
    return pool


async def drop_database(admin_url: str, name: str, *, attempts: int = 20) -> None:
    """Drops database `name` (connecting with `admin_url`), ending its sessions. On a cluster whose owner is no
    superuser, a session of another role (a closing API or worker process) cannot be ended: retried every
    0.5 s until it has gone."""
    admin = await asyncpg.connect(admin_url)
    try:
        for attempt in range(attempts):
            try:
                await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                return
            except (asyncpg.InsufficientPrivilegeError, asyncpg.ObjectInUseError):
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(0.5)
    finally:
        await admin.close()
