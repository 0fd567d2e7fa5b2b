-- What the API adds: hashed API keys, the notification audit, and an index for cohort-wide day queries.

-- API keys: `wsk_<key_id>_<secret>`; only sha256(secret) is stored (the secret is 256 random bits, so a fast
-- hash is enough). A participant key reads its own participant's data only.
CREATE TABLE api_keys (
    key_id text PRIMARY KEY,
    secret_sha256 bytea NOT NULL,
    role text NOT NULL CHECK (role IN ('admin', 'researcher', 'participant')),
    participant_id text,
    label text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CHECK ((role = 'participant') = (participant_id IS NOT NULL))
);

-- One row per recipient of a reminder request: who asked (key), when, why (flag and thresholds), to whom,
-- and what happened (sent, failed, dry_run, no_contact).
CREATE TABLE notification_audit (
    id bigserial PRIMARY KEY,
    request_id uuid NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    actor_key_id text NOT NULL,
    actor_role text NOT NULL,
    reason text NOT NULL,
    participant_id text NOT NULL,
    recipient text,
    subject text NOT NULL,
    status text NOT NULL CHECK (status IN ('sent', 'failed', 'dry_run', 'no_contact')),
    error text
);
CREATE INDEX notification_audit_request ON notification_audit (request_id);
CREATE INDEX notification_audit_participant ON notification_audit (participant_id, requested_at);

-- Cohort-wide day queries (adherence, the participants view) read one metric's day rollups of every
-- participant over a date range: an index led by (metric, bucket) serves them without touching other metrics.
CREATE INDEX rollup_1d_metric_bucket ON rollup_1d (metric_id, bucket, participant_id)
    INCLUDE (minutes, first_time, last_time, sum);
