"""OAuth 2.0 authorisation code flow with PKCE (RFC 7636, S256) against Google's endpoints.

`new_pkce()` makes a verifier and its challenge; `authorisation_url` is the consent link (offline access, so
the exchange returns a refresh token; `prompt=consent`, so a participant who consented before still sees
what is asked); `exchange_code` and `refresh` talk to the token endpoint. A refresh the server refuses
(`invalid_grant`: revoked, or expired) raises `GrantRefused`; any other failure raises `TokenEndpointError`.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Sequence
from typing import NamedTuple
from urllib.parse import urlencode

import httpx
import msgspec

from producers.sources.google_health.tokens import Tokens


class Pkce(NamedTuple):
    verifier: str
    challenge: str


class OAuthClient(NamedTuple):
    client_id: str
    client_secret: str
    redirect_uri: str
    auth_url: str
    token_url: str
    revoke_url: str


class GrantRefused(RuntimeError):
    """The token endpoint refused the grant (`invalid_grant`): the participant revoked it, or it expired."""


class TokenEndpointError(RuntimeError):
    """The token endpoint failed otherwise (5xx, a malformed answer, a refused client)."""


class _TokenAnswer(msgspec.Struct, frozen=True):
    access_token: str
    expires_in: int
    refresh_token: str | None = None
    scope: str = ""
    token_type: str = "Bearer"


def challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_pkce() -> Pkce:
    """A 64-character verifier (RFC 7636 allows 43–128 of [A-Za-z0-9-._~]) and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    return Pkce(verifier, challenge_of(verifier))


def new_state() -> str:
    return secrets.token_urlsafe(32)


def authorisation_url(client: OAuthClient, *, state: str, challenge: str, scopes: Sequence[str]) -> str:
    query = {
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "response_type": "code",
        "scope": " ".join(scopes),
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
    }
    return f"{client.auth_url}?{urlencode(query)}"


async def exchange_code(
    http: httpx.AsyncClient, client: OAuthClient, *, code: str, verifier: str, now_ms: int | None = None
) -> Tokens:
    """Trades the callback's code (and the verifier kept since the link was made) for tokens."""
    answer = await _token_request(
        http,
        client,
        {
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": client.redirect_uri,
        },
    )
    if answer.refresh_token is None:
        raise TokenEndpointError("the token endpoint gave no refresh token (was access_type=offline asked?)")
    return _tokens(answer, answer.refresh_token, now_ms)


async def refresh(http: httpx.AsyncClient, client: OAuthClient, tokens: Tokens, *, now_ms: int | None = None) -> Tokens:
    """A new access token; the refresh token is kept unless the server rotates it."""
    answer = await _token_request(http, client, {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token})
    refreshed = _tokens(answer, answer.refresh_token or tokens.refresh_token, now_ms)
    return refreshed if refreshed.scopes else msgspec.structs.replace(refreshed, scopes=tokens.scopes)


async def revoke(http: httpx.AsyncClient, client: OAuthClient, token: str) -> None:
    response = await http.post(client.revoke_url, data={"token": token})
    if response.status_code not in (200, 400):  # 400: already invalid, which is what we wanted
        raise TokenEndpointError(f"revoke answered HTTP {response.status_code}")


def _tokens(answer: _TokenAnswer, refresh_token: str, now_ms: int | None) -> Tokens:
    now = int(time.time() * 1000) if now_ms is None else now_ms
    return Tokens(
        access_token=answer.access_token,
        refresh_token=refresh_token,
        expires_at_ms=now + answer.expires_in * 1000,
        scopes=tuple(answer.scope.split()),
    )


async def _token_request(http: httpx.AsyncClient, client: OAuthClient, form: dict[str, str]) -> _TokenAnswer:
    body = {**form, "client_id": client.client_id, "client_secret": client.client_secret}
    try:
        response = await http.post(client.token_url, data=body)
    except httpx.HTTPError as error:
        raise TokenEndpointError(f"the token endpoint could not be reached: {error!r}") from None
    if response.status_code == 400 and _error_code(response) == "invalid_grant":
        raise GrantRefused(_error_text(response))
    if response.status_code != 200:
        raise TokenEndpointError(f"the token endpoint answered HTTP {response.status_code}: {_error_text(response)}")
    try:
        return msgspec.json.decode(response.content, type=_TokenAnswer)
    except msgspec.DecodeError as error:
        raise TokenEndpointError(f"the token endpoint's answer is not a token response: {error}") from None


def _error_code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return f"{body.get('error', '')}: {body.get('error_description', '')}".strip(": ")
    return response.text[:200]
