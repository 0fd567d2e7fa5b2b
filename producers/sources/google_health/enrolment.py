"""Enrolment: the consent link (state + PKCE, verifier sealed in `source_enrolments`) and its completion
(code exchange, grant sealed in `source_grants`, participant `authorised`, audited) — `schemas.enrolment`'s
contract, used by `wearstream sources enrol` and by the API's enrolment and callback routes."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Final

import asyncpg
import httpx

from producers.sources.google_health import oauth
from producers.sources.google_health.settings import GoogleHealthSettings
from producers.sources.google_health.source import oauth_client
from producers.sources.google_health.tokens import SOURCE, Sealer, save_grant
from schemas.enrolment import Enrolment, EnrolmentError, EnrolmentLink
from stream_processors import participant_records as records

ACTOR: Final = "enrolment google_health"


def state_digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


class GoogleHealthEnrolment:
    source = SOURCE

    def __init__(
        self,
        settings: GoogleHealthSettings,
        sealer: Sealer,
        *,
        http: Callable[[], httpx.AsyncClient] = lambda: httpx.AsyncClient(timeout=30),
    ) -> None:
        self.settings = settings
        self.sealer = sealer
        self.http = http
        self.client = oauth_client(settings)

    async def create_link(self, connection: asyncpg.Connection, participant_id: str, *, actor: str) -> EnrolmentLink:
        if await records.get(connection, participant_id) is None:
            raise EnrolmentError("unknown_participant", f"no participant {participant_id!r}")
        pkce, state = oauth.new_pkce(), oauth.new_state()
        expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.settings.enrolment_ttl_s)
        await connection.execute(
            "INSERT INTO source_enrolments (state_digest, source, participant_id, sealed_verifier, created_by,"
            " expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            state_digest(state),
            self.source,
            participant_id,
            self.sealer.seal(pkce.verifier.encode()),
            actor,
            expires_at,
        )
        url = oauth.authorisation_url(self.client, state=state, challenge=pkce.challenge, scopes=self.settings.scopes)
        return EnrolmentLink(source=self.source, participant_id=participant_id, url=url, expires_at=expires_at)

    async def complete(self, connection: asyncpg.Connection, *, state: str, code: str | None, error: str | None) -> str:
        async with connection.transaction():
            row = await connection.fetchrow(
                "SELECT participant_id, sealed_verifier, expires_at, completed_at FROM source_enrolments"
                " WHERE state_digest = $1 AND source = $2 FOR UPDATE",
                state_digest(state),
                self.source,
            )
            if row is None:
                raise EnrolmentError("unknown_link", "this enrolment link is not one of ours")
            if row["completed_at"] is not None:
                raise EnrolmentError("used_link", "this enrolment link was used already: ask for a new one")
            await connection.execute(
                "UPDATE source_enrolments SET completed_at = now() WHERE state_digest = $1", state_digest(state)
            )
        participant_id: str = row["participant_id"]
        if row["expires_at"] < dt.datetime.now(dt.UTC):
            raise EnrolmentError("expired_link", "this enrolment link has expired: ask for a new one")
        if error is not None or not code:
            raise EnrolmentError("denied", f"access was not granted ({error or 'no code'}); nothing was stored")
        verifier = self.sealer.open(row["sealed_verifier"]).decode()
        try:
            async with self.http() as http:
                tokens = await oauth.exchange_code(http, self.client, code=code, verifier=verifier)
        except (oauth.GrantRefused, oauth.TokenEndpointError) as failure:
            raise EnrolmentError("exchange", f"the consent could not be completed: {failure}") from None
        async with connection.transaction():
            await save_grant(connection, self.sealer, participant_id, tokens, source=self.source)
            change = records.ParticipantChange(authorisation="authorised")
            await records.update(connection, participant_id, change, actor=ACTOR)
        return participant_id


def enrolments_from_environment() -> dict[str, Enrolment]:
    """The configured sources' enrolments (none when `WEARSTREAM_GOOGLE_HEALTH_CLIENT_ID` is unset)."""
    settings = GoogleHealthSettings()
    if not settings.client_id:
        return {}
    return {
        SOURCE: GoogleHealthEnrolment(settings, Sealer.from_config(settings.sources_key, settings.sources_key_file))
    }
