"""`/v1/keys` (admin keys only): list, create and revoke API keys."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, Parameter
from litestar.status_codes import HTTP_201_CREATED

from api.auth.guards import admin_guard
from api.auth.keys import KEY_ID, parse_lifetime
from api.auth.schemas import CreatedKey, CreateKey
from api.auth.store import (
    KeyInfo,
    KeyStore,
    UnknownKeyError,
    UnknownParticipantError,
    create_key,
    list_keys,
    revoke_key,
)
from api.errors import invalid, not_found


class KeyController(Controller):
    path = "/v1/keys"
    tags = ("keys",)

    @get("/", guards=[admin_guard], summary="List API keys")
    async def list_keys(
        self, pool: NamedDependency[asyncpg.Pool], include_revoked: FromQuery[bool] = False
    ) -> list[KeyInfo]:
        """Every live key (and revoked ones with `include_revoked`): role, participant, label, creation,
        expiry, last use (updated at most once per key cache window) — never the secret or its hash."""
        return await list_keys(pool, include_revoked=include_revoked)

    @post("/", guards=[admin_guard], status_code=HTTP_201_CREATED, summary="Create an API key")
    async def create(self, pool: NamedDependency[asyncpg.Pool], data: JSONBody[CreateKey]) -> CreatedKey:
        """Creates a key; the answer holds the key itself, which is shown only this once."""
        lifetime = None
        if data.expires_in is not None:
            try:
                lifetime = parse_lifetime(data.expires_in)
            except ValueError as error:
                raise invalid("expires_in", str(error), source="body") from error
        try:
            key = await create_key(pool, data.role, data.participant_id, data.label, expires_in=lifetime)
        except UnknownParticipantError as error:
            raise invalid("participant_id", f"unknown participant {error}", source="body") from error
        except ValueError as error:
            raise invalid("participant_id", str(error), source="body") from error
        expires_at = await pool.fetchval("SELECT expires_at FROM api_keys WHERE key_id = $1", key.key_id)
        return CreatedKey(
            key_id=key.key_id,
            role=data.role,
            participant_id=data.participant_id,
            expires_at=expires_at,
            token=key.token,
        )

    @delete("/{key_id:str}", guards=[admin_guard], summary="Revoke an API key")
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        key_id: Annotated[str, Parameter(pattern=KEY_ID)],
    ) -> None:
        """Revokes at once in this process; other API processes refuse the key within `WEARSTREAM_API_KEY_CACHE_S`."""
        try:
            await revoke_key(pool, key_id)
        except UnknownKeyError as error:
            raise not_found("live API key", key_id) from error
        store: KeyStore = request.app.state.key_store
        store.forget(key_id)
