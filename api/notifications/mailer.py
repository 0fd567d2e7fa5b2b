"""Sends e-mails through the configured SMTP server (blocking smtplib, run in a worker thread)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from core.settings import SmtpSettings


def send_all(settings: SmtpSettings, messages: list[EmailMessage]) -> list[str | None]:
    """Sends each message over one connection; returns per message None (accepted) or the error."""
    if not messages:
        return []
    try:
        smtp: smtplib.SMTP
        if settings.ssl:
            smtp = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout_s, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s)
    except (OSError, smtplib.SMTPException) as error:
        return [f"connect {settings.host}:{settings.port}: {error}"] * len(messages)
    results: list[str | None] = []
    with smtp:
        try:
            if settings.starttls and not settings.ssl:
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, settings.password)
        except (OSError, smtplib.SMTPException) as error:
            return [f"session: {error}"] * len(messages)
        for message in messages:
            try:
                refused = smtp.send_message(message)
                results.append(f"refused: {refused}" if refused else None)
            except (OSError, smtplib.SMTPException) as error:
                results.append(str(error))
    return results
