-- Where the sources runner (`wearstream sources sync|run`) stands, per source × participant × metric: data is
-- fetched through `fetched_through` (the end of the last window whose batches Kafka acknowledged); a window
-- interrupted between pages resumes from `page_token` (its bounds in `window_start`/`window_end`).
CREATE TABLE source_cursors (
    source text NOT NULL,
    participant_id text NOT NULL,
    metric text NOT NULL,
    fetched_through timestamptz,
    window_start timestamptz,
    window_end timestamptz,
    page_token text,
    last_run_start timestamptz,
    last_run_end timestamptz,
    last_success timestamptz,
    last_error text,
    last_error_at timestamptz,
    status text NOT NULL DEFAULT 'new'
        CHECK (status IN ('new', 'ok', 'partial', 'rate_limited', 'unavailable', 'not_authorised', 'gone', 'error')),
    readings bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (source, participant_id, metric),
    CHECK ((page_token IS NULL) OR (window_start IS NOT NULL AND window_end IS NOT NULL))
);
CREATE INDEX source_cursors_participant ON source_cursors (participant_id);
COMMENT ON COLUMN source_cursors.readings IS 'Readings the runner published for this cursor, over all runs.';
