"""Wire contract of the compacted `<prefix>.participants` topic: the latest metadata of each participant.

The Kafka key is the participant id; a later record replaces an earlier one (log compaction keeps the last).
"""

from __future__ import annotations

import datetime as dt
from typing import Final, Literal

import msgspec

from schemas.identifiers import identifier_problem, instant_problem, timezone_problem

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


EARLIEST_ENROLMENT: Final = dt.date(2000, 1, 1)
LATEST_ENROLMENT: Final = dt.date(2100, 1, 1)
EMAIL_MAX_LENGTH: Final = 320


class InvalidParticipant(ValueError):
    """A participant record that must not be stored; the message names the field and the problem."""


def check_participant(participant: Participant) -> Participant:
    """Returns the record when every field can be stored; raises InvalidParticipant naming the first that
    cannot (an unknown zone would break every later `AT TIME ZONE`, a NUL every insert)."""
    problems = [
        ("participant_id", identifier_problem(participant.participant_id)),
        ("device_id", identifier_problem(participant.device_id, allow_empty=True)),
        ("timezone", timezone_problem(participant.timezone)),
        ("updated_at", instant_problem(participant.updated_at) if participant.updated_at else None),
        ("enrolled_on", _enrolment_problem(participant.enrolled_on)),
        ("contact_email", _email_problem(participant.contact_email)),
    ]
    for field, problem in problems:
        if problem is not None:
            raise InvalidParticipant(f"{field} {problem}")
    return participant


def _enrolment_problem(enrolled_on: dt.date) -> str | None:
    if not EARLIEST_ENROLMENT <= enrolled_on < LATEST_ENROLMENT:
        return f"{enrolled_on.isoformat()} is outside {EARLIEST_ENROLMENT.year}–{LATEST_ENROLMENT.year - 1}"
    return None


def _email_problem(email: str | None) -> str | None:
    if email is None:
        return None
    if len(email) > EMAIL_MAX_LENGTH:
        return f"is {len(email)} characters long (at most {EMAIL_MAX_LENGTH})"
    if any(ord(c) < 32 or ord(c) == 127 for c in email):
        return "contains a control character"
    local, at, domain = email.rpartition("@")
    if not at or not local or "." not in domain or " " in email:
        return f"{email[:40]!r} is not an e-mail address"
    return None


_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(Participant)


def encode_participant(participant: Participant) -> bytes:
    return _encoder.encode(participant)


def decode_participant(payload: bytes) -> Participant:
    return _decoder.decode(payload)
