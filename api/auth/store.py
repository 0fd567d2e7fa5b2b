"""Reads and writes the `api_keys` table. Verified keys are cached for `cache_s`; tokens that failed are
refused from memory for `negative_cache_s`, so repeating a bad token never reaches the database."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections import OrderedDict
from typing import Final

import asyncpg
import msgspec

from api.auth.keys import ApiKey, NewKey, Role, new_key, secret_hash, split_token

_CACHE_SIZE: Final = 10_000
_NEGATIVE_CACHE_SIZE: Final = 100_000


class UnknownParticipantError(ValueError):
    """A participant key was asked for a participant the database does not know."""


class UnknownKeyError(LookupError):
    """No key with this id (or it is already revoked)."""


class KeyInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A stored key as listed to admins: everything but the secret's hash."""

    key_id: str
    role: Role
    participant_id: str | None
    label: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


async def create_key(
    pool: asyncpg.Pool | asyncpg.Connection,
    role: Role,
    participant_id: str | None,
    label: str = "",
    *,
    expires_in: dt.timedelta | None = None,
) -> NewKey:
    """Stores a new key (hashed) and returns it: the token is shown once, never stored."""
    if (role == "participant") != (participant_id is not None):
        raise ValueError("a participant key needs --participant, and only a participant key takes one")
    if expires_in is not None and expires_in <= dt.timedelta(0):
        raise ValueError("the expiry must be in the future")
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
        "INSERT INTO api_keys (key_id, secret_sha256, role, participant_id, label, expires_at)"
        " VALUES ($1, $2, $3, $4, $5, now() + $6::interval)",
        key.key_id,
        secret_hash(key.secret),
        role,
        participant_id,
        label,
        expires_in,
    )
    return key


async def list_keys(pool: asyncpg.Pool | asyncpg.Connection, *, include_revoked: bool = False) -> list[KeyInfo]:
    rows = await pool.fetch(
        "SELECT key_id, role, participant_id, label, created_at, expires_at, last_used_at, revoked_at"
        " FROM api_keys WHERE $1 OR revoked_at IS NULL ORDER BY created_at, key_id",
        include_revoked,
    )
    return [KeyInfo(**dict(row)) for row in rows]


async def revoke_key(pool: asyncpg.Pool | asyncpg.Connection, key_id: str) -> None:
    """Revokes a live key; raises `UnknownKeyError` when there is none with this id."""
    done = await pool.fetchval(
        "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL RETURNING key_id", key_id
    )
    if done is None:
        raise UnknownKeyError(key_id)


async def rotate_key(connection: asyncpg.Connection, key_id: str, *, expires_in: dt.timedelta | None = None) -> NewKey:
    """Revokes a live key and creates one with the same role, participant and label, in one transaction."""
    async with connection.transaction():
        row = await connection.fetchrow(
            "SELECT role, participant_id, label FROM api_keys WHERE key_id = $1 AND revoked_at IS NULL FOR UPDATE",
            key_id,
        )
        if row is None:
            raise UnknownKeyError(key_id)
        await revoke_key(connection, key_id)
        return await create_key(connection, row["role"], row["participant_id"], row["label"], expires_in=expires_in)


def _fingerprint(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class KeyStore:
    """Verifies tokens against the database (one query per cache miss, which also sets `last_used_at`)."""

    def __init__(self, pool: asyncpg.Pool, *, cache_s: float, negative_cache_s: float = 0.0) -> None:
        self.pool = pool
        self.cache_s = cache_s
        self.negative_cache_s = negative_cache_s
        self._cache: dict[bytes, tuple[float, ApiKey]] = {}
        self._refused: OrderedDict[bytes, float] = OrderedDict()

    def cached(self, token: str) -> ApiKey | None:
        """The key of a token verified within the cache window, without a database query."""
        entry = self._cache.get(_fingerprint(token))
        if entry is not None and time.monotonic() < entry[0]:
            return entry[1]
        return None

    def refused(self, token: str) -> bool:
        """Whether this token failed within the negative cache window."""
        until = self._refused.get(_fingerprint(token))
        return until is not None and time.monotonic() < until

    async def verify(self, token: str) -> ApiKey | None:
        key = self.cached(token)
        if key is not None:
            return key
        parts = split_token(token)
        if parts is None or self.refused(token):
            return None
        fingerprint = _fingerprint(token)
        key_id, secret = parts
        row = await self.pool.fetchrow(
            "UPDATE api_keys SET last_used_at = now()"
            " WHERE key_id = $1 AND secret_sha256 = $2 AND revoked_at IS NULL"
            " AND (expires_at IS NULL OR expires_at > now())"
            " RETURNING role, participant_id, extract(epoch FROM expires_at - now())::float8 AS expires_in_s",
            key_id,
            secret_hash(secret),
        )
        now = time.monotonic()
        if row is None:
            self._cache.pop(fingerprint, None)
            if self.negative_cache_s > 0:
                self._refused[fingerprint] = now + self.negative_cache_s
                self._refused.move_to_end(fingerprint)
                while len(self._refused) > _NEGATIVE_CACHE_SIZE:
                    self._refused.popitem(last=False)
            return None
        key = ApiKey(key_id=key_id, role=row["role"], participant_id=row["participant_id"])
        lifetime = self.cache_s if row["expires_in_s"] is None else min(self.cache_s, row["expires_in_s"])
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()
        self._cache[fingerprint] = (now + lifetime, key)
        self._refused.pop(fingerprint, None)
        return key

    def forget(self, key_id: str) -> None:
        """Drops a key from this process's cache (after revoking it here); other processes keep theirs for at
        most `cache_s`."""
        self._cache = {f: entry for f, entry in self._cache.items() if entry[1].key_id != key_id}
