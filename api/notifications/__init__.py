"""Reminders: one request e-mails every participant carrying an adherence flag, through the configured SMTP
server, and records each recipient in `notification_audit` (who asked, when, why, to whom, outcome)."""
