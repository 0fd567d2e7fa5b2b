"""PKCE and the consent link, and grants sealed at rest (Fernet): round trip, wrong key, tampering, key sources."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from producers.sources.google_health import oauth
from producers.sources.google_health.tokens import Sealer, SealError, Tokens

CLIENT = oauth.OAuthClient(
    client_id="study-client",
    client_secret="s3cret",
    redirect_uri="https://study.example/v1/sources/google_health/callback",
    auth_url="https://accounts.example/o/oauth2/v2/auth",
    token_url="https://oauth2.example/token",
    revoke_url="https://oauth2.example/revoke",
)
TOKENS = Tokens(
    access_token="ya29.access-Ω", refresh_token="1//refresh", expires_at_ms=1_790_000_000_123, scopes=("a", "b")
)


def test_the_challenge_is_rfc_7636s_s256_example() -> None:
    # RFC 7636, appendix B.
    assert (
        oauth.challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_new_verifiers_are_long_random_and_unreserved() -> None:
    pairs = [oauth.new_pkce() for _ in range(50)]
    assert len({p.verifier for p in pairs}) == 50
    for verifier, challenge in pairs:
        assert 43 <= len(verifier) <= 128
        assert re.fullmatch(r"[A-Za-z0-9._~-]+", verifier)
        assert challenge == oauth.challenge_of(verifier)
        assert "=" not in challenge


def test_the_consent_link_carries_state_challenge_and_offline_access() -> None:
    url = oauth.authorisation_url(CLIENT, state="st-1", challenge="ch-1", scopes=["s1", "s2"])
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == CLIENT.auth_url
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["state"] == "st-1"
    assert query["code_challenge"] == "ch-1"
    assert query["code_challenge_method"] == "S256"
    assert query["response_type"] == "code"
    assert query["access_type"] == "offline"
    assert query["scope"] == "s1 s2"
    assert query["redirect_uri"] == CLIENT.redirect_uri
    assert "client_secret" not in query


def test_sealed_tokens_round_trip_and_hold_no_plaintext() -> None:
    sealer = Sealer([Sealer.new_key()])
    sealed = sealer.seal_tokens(TOKENS)
    assert sealer.open_tokens(sealed) == TOKENS
    for secret in (TOKENS.access_token, TOKENS.refresh_token):
        assert secret.encode() not in sealed
    assert sealer.seal_tokens(TOKENS) != sealed  # a fresh IV each time


def test_the_wrong_key_and_a_changed_byte_fail_loudly() -> None:
    sealed = Sealer([Sealer.new_key()]).seal_tokens(TOKENS)
    with pytest.raises(SealError, match="wrong key"):
        Sealer([Sealer.new_key()]).open_tokens(sealed)
    key = Sealer.new_key()
    tampered = bytearray(Sealer([key]).seal(b"secret"))
    tampered[-5] ^= 1
    with pytest.raises(SealError):
        Sealer([key]).open(bytes(tampered))


def test_keys_rotate_the_first_seals_and_every_one_opens() -> None:
    old, new = Sealer.new_key(), Sealer.new_key()
    sealed_with_old = Sealer([old]).seal(b"grant")
    rotated = Sealer.from_config(f"{new},{old}", None)
    assert rotated.open(sealed_with_old) == b"grant"
    assert Sealer([new]).open(rotated.seal(b"next")) == b"next"


def test_the_key_comes_from_the_environment_or_a_file(tmp_path: Path) -> None:
    key = Sealer.new_key()
    key_file = tmp_path / "sources.key"
    key_file.write_text(f"{key}\n")
    sealed = Sealer.from_config("", key_file).seal(b"x")
    assert Sealer.from_config(key, None).open(sealed) == b"x"
    with pytest.raises(SealError, match="no key"):
        Sealer.from_config("", None)
    with pytest.raises(SealError, match="cannot read"):
        Sealer.from_config("", tmp_path / "missing.key")
    with pytest.raises(SealError, match="not a Fernet key"):
        Sealer.from_config("not-a-key", None)
