"""Consent edge cases against the contract server and the real database: PKCE is checked, codes and links are
single use, a denial or an expired link stores nothing, and a new consent lifts a revocation."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from producers.sources.base import NotAuthorised
from producers.sources.google_health import oauth
from producers.sources.google_health.enrolment import GoogleHealthEnrolment
from producers.sources.google_health.source import oauth_client
from schemas.enrolment import EnrolmentError
from tests.integration.google_health import Harness, harness


async def consent_redirect(h: Harness, link: str, account: str, decision: str = "allow") -> dict[str, str]:
    form = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    answer = await h.http.post(
        f"{h.base}/o/oauth2/v2/auth/decision", data={**form, "account": account, "decision": decision}
    )
    assert answer.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}


def enrolment_of(h: Harness) -> GoogleHealthEnrolment:
    return GoogleHealthEnrolment(h.settings, h.sealer, http=lambda: httpx.AsyncClient(timeout=30))


async def test_the_token_endpoint_checks_the_verifier_and_codes_are_single_use(database: str) -> None:
    async with harness(database) as h:
        await h.participant("P0021", "p0021@example.com", [])
        pkce = oauth.new_pkce()
        link = oauth.authorisation_url(
            oauth_client(h.settings), state="s", challenge=pkce.challenge, scopes=h.settings.scopes
        )
        code = (await consent_redirect(h, link, "p0021@example.com"))["code"]
        with pytest.raises(oauth.GrantRefused, match="verifier"):
            await oauth.exchange_code(h.http, oauth_client(h.settings), code=code, verifier=oauth.new_pkce().verifier)
        with pytest.raises(oauth.GrantRefused):  # used up by the failed try
            await oauth.exchange_code(h.http, oauth_client(h.settings), code=code, verifier=pkce.verifier)
        second = (await consent_redirect(h, link, "p0021@example.com"))["code"]
        tokens = await oauth.exchange_code(h.http, oauth_client(h.settings), code=second, verifier=pkce.verifier)
        assert tokens.refresh_token.startswith("1//")
        assert set(tokens.scopes) == set(h.settings.scopes)


async def test_a_denial_stores_nothing_and_a_link_works_once(database: str) -> None:
    async with harness(database) as h:
        await h.participant("P0022", "p0022@example.com", [])
        enrolment = enrolment_of(h)
        async with h.pool.acquire() as connection:
            link = await enrolment.create_link(connection, "P0022", actor="test")
        denied = await consent_redirect(h, link.url, "p0022@example.com", "deny")
        assert denied["error"] == "access_denied"
        async with h.pool.acquire() as connection:
            with pytest.raises(EnrolmentError, match="not granted") as refused:
                await enrolment.complete(connection, state=denied["state"], code=None, error=denied["error"])
            assert refused.value.problem == "denied"
            with pytest.raises(EnrolmentError) as reused:
                await enrolment.complete(connection, state=denied["state"], code="4/x", error=None)
            assert reused.value.problem == "used_link"
            with pytest.raises(EnrolmentError) as unknown:
                await enrolment.complete(connection, state="not-ours", code="4/x", error=None)
            assert unknown.value.problem == "unknown_link"
            with pytest.raises(EnrolmentError) as nobody:
                await enrolment.create_link(connection, "P9999", actor="test")
            assert nobody.value.problem == "unknown_participant"
        assert await h.pool.fetchval("SELECT count(*) FROM source_grants WHERE participant_id = 'P0022'") == 0
        assert await h.pool.fetchval("SELECT authorisation FROM participants WHERE participant_id = 'P0022'") == "never"


async def test_an_expired_link_is_refused(database: str) -> None:
    async with harness(database) as h:
        await h.participant("P0023", "p0023@example.com", [])
        enrolment = enrolment_of(h)
        async with h.pool.acquire() as connection:
            link = await enrolment.create_link(connection, "P0023", actor="test")
            await connection.execute(
                "UPDATE source_enrolments SET expires_at = $1 WHERE participant_id = 'P0023'",
                dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1),
            )
            callback = await consent_redirect(h, link.url, "p0023@example.com")
            with pytest.raises(EnrolmentError) as expired:
                await enrolment.complete(connection, state=callback["state"], code=callback["code"], error=None)
        assert expired.value.problem == "expired_link"
        assert await h.pool.fetchval("SELECT count(*) FROM source_grants WHERE participant_id = 'P0023'") == 0


async def test_consenting_again_lifts_a_revocation(database: str) -> None:
    async with harness(database) as h:
        await h.participant("P0024", "p0024@example.com", [])
        await h.consent("P0024", "p0024@example.com")
        h.state.revoke_account("p0024@example.com")
        source = h.source()
        with pytest.raises(NotAuthorised, match="revoked"):
            await source.access_token("P0024", force_refresh=True)
        assert (
            await h.pool.fetchval("SELECT authorisation FROM participants WHERE participant_id = 'P0024'") == "revoked"
        )
        await h.consent("P0024", "p0024@example.com")
        assert await source.access_token("P0024", force_refresh=True)
        row = await h.pool.fetchrow(
            "SELECT g.status, p.authorisation FROM source_grants g JOIN participants p USING (participant_id)"
            " WHERE participant_id = 'P0024'"
        )
    assert row["status"] == "active"
    assert row["authorisation"] == "authorised"
