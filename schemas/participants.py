"""Wire contract of the compacted `<prefix>.participants` topic: the latest metadata of each participant.

The Kafka key is the participant id; a later record replaces an earlier one (log compaction keeps the last).
"""

from __future__ import annotations

import datetime as dt
from typing import Final, Literal

import msgspec

Authorisation = Literal["authorised", "expired", "revoked", "never"]


class Participant(msgspec.Struct, frozen=True, kw_only=True):
    participant_id: str
    """A study code, e.g. `P0001`."""
    enrolled_on: dt.date
    timezone: str = "UTC"
    """IANA time zone of the wearer; device-local times are interpreted in it."""
    authorisation: Authorisation = "authorised"
    """Status of the participant's device-cloud authorisation (token), as a study tracks it."""
    device_id: str = ""
    contact_email: str | None = None
    updated_at: int = 0
    """Epoch milliseconds of this record."""


_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(Participant)


def encode_participant(participant: Participant) -> bytes:
    return _encoder.encode(participant)


def decode_participant(payload: bytes) -> Participant:
    return _decoder.decode(payload)
