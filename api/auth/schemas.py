"""Request and response shapes of `/v1/keys`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec

from api.auth.keys import Role


class CreateKey(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    role: Role
    participant_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    """The participant a `participant` key may read (required for that role, refused for the others)."""
    label: Annotated[str, msgspec.Meta(max_length=200)] = ""
    expires_in: Annotated[str, msgspec.Meta(max_length=20)] | None = None
    """Lifetime such as `90m`, `12h`, `30d`, `8w` (default: no expiry)."""


class CreatedKey(msgspec.Struct, frozen=True, kw_only=True):
    key_id: str
    role: Role
    participant_id: str | None
    expires_at: dt.datetime | None
    token: str
    """The key itself: shown once, never stored (only its hash is)."""
