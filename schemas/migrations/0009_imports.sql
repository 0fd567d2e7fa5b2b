-- Latest upload wins, imports that are not device syncs, and participants that are managed and audited.

-- The upload time of every reading in a segment (NULL for segments stored before this migration: they lose to
-- any later reading of the same timestamp). Stored segments hold only the winning reading of each timestamp.
ALTER TABLE raw_segments ADD COLUMN sync_time timestamptz;
COMMENT ON COLUMN raw_segments.sync_time IS 'When the readings of this segment were uploaded (a compacted row: the latest of its batches).';

-- Batches whose raw rows were rewritten because a later upload superseded some of their readings (or all):
-- their own segments may no longer exist, so this is the record that they were applied.
CREATE TABLE applied_batches (
    batch_id uuid PRIMARY KEY,
    participant_id text NOT NULL,
    metric_id smallint NOT NULL,
    sync_time timestamptz,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- One row per `wearstream import`: when, which files, what was published per metric.
CREATE TABLE imports (
    import_id uuid PRIMARY KEY,
    participant_id text NOT NULL,
    imported_at timestamptz NOT NULL,
    files text[] NOT NULL,
    readings jsonb NOT NULL DEFAULT '{}',
    unchanged jsonb NOT NULL DEFAULT '{}',
    corrected jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX imports_participant ON imports (participant_id, imported_at);

-- Imported data is not a device upload: the state says when data last came by import, apart.
ALTER TABLE participant_metric_state ALTER COLUMN last_upload DROP NOT NULL;
ALTER TABLE participant_metric_state ADD COLUMN last_import timestamptz;

-- Every change of a participant record, whoever made it (the CLI and API set `wearstream.actor`).
CREATE TABLE participant_audit (
    id bigserial PRIMARY KEY,
    participant_id text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    action text NOT NULL CHECK (action IN ('create', 'update')),
    before jsonb,
    after jsonb NOT NULL
);
CREATE INDEX participant_audit_participant ON participant_audit (participant_id, changed_at);

CREATE FUNCTION audit_participant() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND (to_jsonb(OLD) - 'updated_at') = (to_jsonb(NEW) - 'updated_at') THEN
        RETURN NEW;
    END IF;
    INSERT INTO participant_audit (participant_id, actor, action, before, after)
    VALUES (NEW.participant_id,
            coalesce(nullif(current_setting('wearstream.actor', true), ''), 'participants topic'),
            CASE WHEN TG_OP = 'INSERT' THEN 'create' ELSE 'update' END,
            CASE WHEN TG_OP = 'UPDATE' THEN to_jsonb(OLD) END,
            to_jsonb(NEW));
    RETURN NEW;
END $$;
CREATE TRIGGER participants_audit AFTER INSERT OR UPDATE ON participants
    FOR EACH ROW EXECUTE FUNCTION audit_participant();
