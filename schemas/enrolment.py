"""The contract between the API and a device source's enrolment (consent link → callback → stored grant).

The API knows no device cloud: it is handed `Enrolment`s by name (`create_app(settings, enrolments=…)`,
wired by the `wearstream` command) and serves `POST /v1/participants/{id}/enrolment` and
`GET /v1/sources/{source}/callback` through them.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, Protocol

import asyncpg
import msgspec

EnrolmentProblem = Literal["unknown_participant", "unknown_link", "used_link", "expired_link", "denied", "exchange"]


class EnrolmentLink(msgspec.Struct, frozen=True, kw_only=True):
    source: str
    participant_id: str
    url: str
    """The consent page to send the participant to (carries `state` and the PKCE challenge)."""
    expires_at: dt.datetime


class EnrolmentError(Exception):
    """An enrolment step that cannot be done; `problem` says which kind, `reason` says it for a person."""

    def __init__(self, problem: EnrolmentProblem, reason: str) -> None:
        super().__init__(reason)
        self.problem = problem
        self.reason = reason


class Enrolment(Protocol):
    source: str

    async def create_link(self, connection: asyncpg.Connection, participant_id: str, *, actor: str) -> EnrolmentLink:
        """A new single-use consent link; the PKCE verifier is kept server-side (sealed), keyed by the state."""
        ...

    async def complete(self, connection: asyncpg.Connection, *, state: str, code: str | None, error: str | None) -> str:
        """Completes the link whose `state` came back: exchanges `code`, stores the sealed grant and sets the
        participant `authorised`; returns the participant id. Raises EnrolmentError (the link is then used up)."""
        ...
