"""API keys: `wsk_<key_id>_<secret>`. The key id finds the row; only sha256(secret) is stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from typing import Final, Literal

import msgspec

Role = Literal["admin", "researcher", "participant"]
ROLES: Final[tuple[Role, ...]] = ("admin", "researcher", "participant")
_KEY: Final = re.compile(r"^wsk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
KEY_ID: Final = r"^[0-9a-f]{12}$"
_DURATION: Final = re.compile(r"^\s*(\d{1,6})\s*([mhdw])\s*$")
_UNITS: Final = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
MAX_LIFETIME: Final = dt.timedelta(days=3660)


class ApiKey(msgspec.Struct, frozen=True, kw_only=True):
    """The authenticated caller: `request.user` on every authenticated request."""

    key_id: str
    role: Role
    participant_id: str | None = None
    """The only participant a `participant` key may read."""

    @property
    def cohort(self) -> bool:
        """Whether the key reads the whole study (admin, researcher)."""
        return self.role in ("admin", "researcher")

    def may_read(self, participant_id: str) -> bool:
        return self.cohort or self.participant_id == participant_id


class NewKey(msgspec.Struct, frozen=True):
    key_id: str
    secret: str
    token: str


def new_key() -> NewKey:
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id, secret, f"wsk_{key_id}_{secret}")


def split_token(token: str) -> tuple[str, str] | None:
    """(key_id, secret) of a well-formed token, else None."""
    match = _KEY.match(token.strip())
    return (match.group(1), match.group(2)) if match else None


def secret_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def matches(secret: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(secret_hash(secret), stored_hash)


def parse_lifetime(text: str) -> dt.timedelta:
    """`90m`, `12h`, `30d`, `8w` → a timedelta (at most ten years); ValueError naming the problem otherwise."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r}: expected a whole number and a unit m, h, d or w (e.g. 30d)")
    lifetime = dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if not dt.timedelta(0) < lifetime <= MAX_LIFETIME:
        raise ValueError(f"{text!r}: must be more than 0 and at most {MAX_LIFETIME.days} days")
    return lifetime
