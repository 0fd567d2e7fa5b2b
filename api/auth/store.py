"""Reads and writes the `api_keys` table; verified keys are cached for a short while."""

from __future__ import annotations

import time

import asyncpg

from api.auth.keys import ApiKey, NewKey, Role, matches, new_key, secret_hash, split_token


class UnknownParticipantError(ValueError):
    """A participant key was asked for a participant the database does not know."""


async def create_key(
    pool: asyncpg.Pool | asyncpg.Connection, role: Role, participant_id: str | None, label: str = ""
) -> NewKey:
    """Stores a new key (hashed) and returns it: the token is shown once, never stored."""
    if (role == "participant") != (participant_id is not None):
        raise ValueError("a participant key needs --participant, and only a participant key takes one")
    if participant_id is not None:
        known = await pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM participants WHERE participant_id = $1)"
            " OR EXISTS (SELECT 1 FROM participant_metric_state WHERE participant_id = $1)",
            participant_id,
        )
        if not known:
            raise UnknownParticipantError(participant_id)
    key = new_key()
    await pool.execute(
        "INSERT INTO api_keys (key_id, secret_sha256, role, participant_id, label) VALUES ($1, $2, $3, $4, $5)",
        key.key_id,
        secret_hash(key.secret),
        role,
        participant_id,
        label,
    )
    return key


class KeyStore:
    """Verifies tokens against the database, caching each verified key for `cache_s` seconds."""

    def __init__(self, pool: asyncpg.Pool, *, cache_s: float) -> None:
        self.pool = pool
        self.cache_s = cache_s
        self._cache: dict[str, tuple[float, ApiKey]] = {}

    async def verify(self, token: str) -> ApiKey | None:
        parts = split_token(token)
        if parts is None:
            return None
        cached = self._cache.get(token)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.cache_s:
            return cached[1]
        key_id, secret = parts
        row = await self.pool.fetchrow(
            "SELECT secret_sha256, role, participant_id FROM api_keys WHERE key_id = $1 AND revoked_at IS NULL",
            key_id,
        )
        if row is None or not matches(secret, row["secret_sha256"]):
            self._cache.pop(token, None)
            return None
        key = ApiKey(key_id=key_id, role=row["role"], participant_id=row["participant_id"])
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[token] = (now, key)
        return key
