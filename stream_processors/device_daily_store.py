"""Stores device-reported daily values (`schemas.device_daily`) in `device_daily`; the latest message wins."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from schemas.device_daily import DeviceDaily


async def upsert_device_daily(pool: asyncpg.Pool, messages: Sequence[DeviceDaily]) -> int:
    """Writes every value of `messages` in one transaction, later messages replacing earlier ones for the same
    participant × date × field. Safe to call again with the same messages. Returns the values written."""
    latest: dict[tuple[str, object, str], tuple[float, str]] = {}
    for message in messages:
        for value in message.values:
            latest[(message.participant_id, value.date, value.field)] = (value.value, message.source)
    if not latest:
        return 0
    keys = sorted(latest, key=lambda k: (k[0], str(k[1]), k[2]))
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(
            "INSERT INTO device_daily AS d (participant_id, date, field, value, source)"
            " SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::float8[], $5::text[])"
            " ON CONFLICT (participant_id, date, field) DO UPDATE SET value = EXCLUDED.value,"
            " source = EXCLUDED.source, received_at = now()",
            [k[0] for k in keys],
            [k[1] for k in keys],
            [k[2] for k in keys],
            [latest[k][0] for k in keys],
            [latest[k][1] for k in keys],
        )
    return len(keys)
