"""Grants sealed at rest: the tokens of a participant's consent, encrypted with Fernet before they reach the
database, and the DB-backed store of grants and pending enrolments (`source_grants`, `source_enrolments`).

The key never enters the database: it comes from `WEARSTREAM_SOURCES_KEY` (or the file named by
`WEARSTREAM_SOURCES_KEY_FILE`), several keys comma- or line-separated to rotate (the first seals, all open).
A sealed value opened with the wrong key raises `SealError`; nothing is ever stored in plaintext.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import asyncpg
import msgspec
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

SOURCE = "google_health"


class SealError(RuntimeError):
    """No usable key, or a sealed value that this key cannot open (wrong key, or tampered with)."""


class Tokens(msgspec.Struct, frozen=True, kw_only=True):
    access_token: str
    refresh_token: str
    expires_at_ms: int
    """When the access token expires, epoch ms."""
    scopes: tuple[str, ...] = ()


class Sealer:
    """Encrypts and decrypts small secrets with Fernet (authenticated: a wrong key or a changed byte fails)."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise SealError("no key: set WEARSTREAM_SOURCES_KEY or WEARSTREAM_SOURCES_KEY_FILE")
        try:
            self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        except ValueError as error:
            raise SealError(f"a sealing key is not a Fernet key (32 url-safe base64 bytes): {error}") from None

    @staticmethod
    def from_config(key: str, key_file: Path | None) -> Sealer:
        if key.strip():
            return Sealer([part.strip() for part in key.split(",") if part.strip()])
        if key_file is not None:
            try:
                text = key_file.read_text()
            except OSError as error:
                raise SealError(f"cannot read the key file {key_file}: {error.strerror}") from None
            return Sealer([line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()])
        return Sealer([])

    @staticmethod
    def new_key() -> str:
        return Fernet.generate_key().decode()

    def seal(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def open(self, sealed: bytes) -> bytes:
        try:
            return self._fernet.decrypt(sealed)
        except InvalidToken:
            raise SealError("the sealed value does not open with this key (wrong key, or altered)") from None

    def seal_tokens(self, tokens: Tokens) -> bytes:
        return self.seal(msgspec.json.encode(tokens))

    def open_tokens(self, sealed: bytes) -> Tokens:
        return msgspec.json.decode(self.open(sealed), type=Tokens)


class Grant(msgspec.Struct, frozen=True, kw_only=True):
    participant_id: str
    tokens: Tokens
    status: str


class GrantStore:
    """The grants of one source in the database, sealed with `sealer`. Each call uses one pooled connection."""

    def __init__(self, pool: asyncpg.Pool, sealer: Sealer, source: str = SOURCE) -> None:
        self.pool = pool
        self.sealer = sealer
        self.source = source

    async def refreshed(self, participant_id: str, tokens: Tokens) -> None:
        async with self.pool.acquire() as connection:
            await connection.execute(
                "UPDATE source_grants SET sealed_tokens = $3, access_expires_at = $4, scopes = $5,"
                " refreshed_at = now() WHERE source = $1 AND participant_id = $2",
                self.source,
                participant_id,
                self.sealer.seal_tokens(tokens),
                _instant(tokens.expires_at_ms),
                list(tokens.scopes),
            )

    async def load(self, participant_id: str) -> Grant | None:
        async with self.pool.acquire() as connection:
            row = await connection.fetchrow(
                "SELECT sealed_tokens, status FROM source_grants WHERE source = $1 AND participant_id = $2",
                self.source,
                participant_id,
            )
        if row is None:
            return None
        return Grant(
            participant_id=participant_id, tokens=self.sealer.open_tokens(row["sealed_tokens"]), status=row["status"]
        )

    async def mark_revoked(self, participant_id: str) -> None:
        async with self.pool.acquire() as connection:
            await connection.execute(
                "UPDATE source_grants SET status = 'revoked', revoked_at = now()"
                " WHERE source = $1 AND participant_id = $2",
                self.source,
                participant_id,
            )


async def save_grant(
    connection: asyncpg.Connection, sealer: Sealer, participant_id: str, tokens: Tokens, *, source: str = SOURCE
) -> None:
    """Stores (or replaces) the participant's grant, sealed, as active: a new consent lifts a revocation."""
    await connection.execute(
        "INSERT INTO source_grants (source, participant_id, sealed_tokens, access_expires_at, scopes)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source, participant_id) DO UPDATE SET"
        " sealed_tokens = excluded.sealed_tokens, access_expires_at = excluded.access_expires_at,"
        " scopes = excluded.scopes, status = 'active', granted_at = now(), refreshed_at = NULL,"
        " revoked_at = NULL",
        source,
        participant_id,
        sealer.seal_tokens(tokens),
        _instant(tokens.expires_at_ms),
        list(tokens.scopes),
    )


def _instant(epoch_ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.UTC)
