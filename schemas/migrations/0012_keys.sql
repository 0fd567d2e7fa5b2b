-- Key lifecycle: keys may expire, and record when they were last used (set when a request is verified
-- against the database, i.e. at most once per key cache window).
ALTER TABLE api_keys ADD COLUMN expires_at timestamptz, ADD COLUMN last_used_at timestamptz;

-- Reminders: the audit row is written `pending` (and committed) before the mail goes out, then set to
-- `sent` or `failed`; a resend inside the cool-down or with a used idempotency key is audited as `refused`.
ALTER TABLE notification_audit DROP CONSTRAINT notification_audit_status_check;
ALTER TABLE notification_audit ADD CONSTRAINT notification_audit_status_check
    CHECK (status IN ('pending', 'sent', 'failed', 'dry_run', 'no_contact', 'refused'));
ALTER TABLE notification_audit ADD COLUMN idempotency_key text, ADD COLUMN updated_at timestamptz;
CREATE INDEX notification_audit_idempotency ON notification_audit (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
