"""Default reminder texts per adherence flag (string.Template placeholders, `$name`)."""

from __future__ import annotations

from string import Template
from typing import Final

from api.adherence.schemas import Flag, ParticipantAdherence

SUBJECTS: Final[dict[Flag, str]] = {
    "low_wear": "Study reminder: please wear your device",
    "no_recent_upload": "Study reminder: please sync your device",
    "low_sleep_data": "Study reminder: please wear your device at night",
    "not_authorised": "Study reminder: please connect your device account",
}
BODIES: Final[dict[Flag, str]] = {
    "low_wear": (
        "Hello $participant_id,\n\nover the last $days days your device recorded $wear_pct % of the time. "
        "Wearing it as much as you can, day and night, makes your data count for the study.\n\nThank you!\n"
    ),
    "no_recent_upload": (
        "Hello $participant_id,\n\nwe have not received data from your device for $hours_since_last_upload hours. "
        "Please open the companion app on your phone so the device can sync.\n\nThank you!\n"
    ),
    "low_sleep_data": (
        "Hello $participant_id,\n\nwe received sleep data for $nights_with_sleep of the last $days nights. "
        "Please keep the device on while you sleep (charging it during the day).\n\nThank you!\n"
    ),
    "not_authorised": (
        "Hello $participant_id,\n\nyour device account is not (or no longer) connected to the study. "
        "Please follow the link in your enrolment e-mail to connect it again.\n\nThank you!\n"
    ),
}


def render(template: str, flag: Flag, participant: ParticipantAdherence) -> str:
    def number(value: float | None) -> str:
        return "n/a" if value is None else f"{value:g}"

    return Template(template).safe_substitute(
        participant_id=participant.participant_id,
        wear_pct=number(participant.wear_pct),
        hours_since_last_upload=number(
            round(participant.hours_since_last_upload) if participant.hours_since_last_upload is not None else None
        ),
        nights_with_sleep=participant.nights_with_sleep,
        days=participant.days,
        flag=flag,
    )
