"""The API pool's release: no reset query, but an open transaction is still rolled back."""

from __future__ import annotations

import asyncpg

from api.app import keep_session


async def test_released_connection_rolls_back_and_keeps_session(database: str) -> None:
    pool = await asyncpg.create_pool(database, min_size=1, max_size=1, reset=keep_session)
    assert pool is not None
    try:
        async with pool.acquire() as connection:
            await connection.execute("SET work_mem = '7MB'")
            await connection.execute("BEGIN")
            await connection.execute("CREATE TEMP TABLE left_open (x int)")
        async with pool.acquire() as connection:
            assert not connection.is_in_transaction()
            assert await connection.fetchval("SELECT to_regclass('pg_temp.left_open')") is None
            # Session settings survive a release: the API must leave none behind.
            assert await connection.fetchval("SHOW work_mem") == "7MB"
    finally:
        await pool.close()
