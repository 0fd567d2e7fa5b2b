-- Device-source grants: a participant's OAuth tokens for a device cloud (the Google Health API), sealed at
-- rest (Fernet: AES-128-CBC + HMAC-SHA256) with a key the database never sees, and the pending enrolments
-- (state → PKCE verifier) between a consent link and its callback.

CREATE TABLE source_grants (
    source text NOT NULL,
    participant_id text NOT NULL REFERENCES participants (participant_id) ON DELETE CASCADE,
    sealed_tokens bytea NOT NULL,
    -- Not secret, kept beside the sealed tokens so a status view needs no key.
    access_expires_at timestamptz NOT NULL,
    scopes text[] NOT NULL DEFAULT '{}',
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    granted_at timestamptz NOT NULL DEFAULT now(),
    refreshed_at timestamptz,
    revoked_at timestamptz,
    PRIMARY KEY (source, participant_id)
);

CREATE TABLE source_enrolments (
    -- sha256 of the `state` sent in the link: the state itself is never stored.
    state_digest text PRIMARY KEY,
    source text NOT NULL,
    participant_id text NOT NULL REFERENCES participants (participant_id) ON DELETE CASCADE,
    sealed_verifier bytea NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    completed_at timestamptz
);
CREATE INDEX source_enrolments_participant ON source_enrolments (participant_id, created_at);

-- The API creates links and completes callbacks; the source runner refreshes and revokes.
GRANT SELECT, INSERT, UPDATE, DELETE ON source_grants, source_enrolments TO wearstream_api;
-- Sealed or not, grants are no analyst's business.
REVOKE ALL ON source_grants, source_enrolments FROM wearstream_readonly;
