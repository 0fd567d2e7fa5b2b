-- Post-study imputation (`wearstream impute`, stream_processors/imputation/). Imputed values never enter the raw
-- store, the rollups or the summaries: they live here, each point with its provenance (run, method, version,
-- parameters, the gap it fills) and its uncertainty. Deleting a run removes its rows and nothing else.

-- One row per run: what it was asked to do and how far it got.
CREATE TABLE imputation_runs (
    run_id text PRIMARY KEY CHECK (run_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    method text NOT NULL,
    method_version text NOT NULL,
    parameters jsonb NOT NULL,
    selection jsonb NOT NULL,
    status text NOT NULL CHECK (status IN ('running', 'complete')),
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);

-- Every gap a run considered per metric, filled or not (and why not): a run says what it left empty.
CREATE TABLE imputation_gaps (
    run_id text NOT NULL REFERENCES imputation_runs ON DELETE CASCADE,
    participant_id text NOT NULL,
    metric_id smallint NOT NULL,
    gap_kind text NOT NULL,
    gap_start timestamptz NOT NULL,
    gap_end timestamptz NOT NULL,
    minutes integer NOT NULL,
    filled integer NOT NULL,
    reason text,
    PRIMARY KEY (run_id, participant_id, metric_id, gap_start)
);

-- The participants a run has finished: a resumed run skips them.
CREATE TABLE imputation_run_participants (
    run_id text NOT NULL REFERENCES imputation_runs ON DELETE CASCADE,
    participant_id text NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, participant_id)
);

-- Imputed points at 1-minute resolution: the value of the minute starting at `minute`, a standard error and a
-- 95 % interval, and the gap (kind, start) it fills.
CREATE TABLE imputed_points (
    run_id text NOT NULL REFERENCES imputation_runs ON DELETE CASCADE,
    participant_id text NOT NULL,
    metric_id smallint NOT NULL,
    minute timestamptz NOT NULL,
    value double precision NOT NULL,
    std_error double precision NOT NULL,
    lower double precision NOT NULL,
    upper double precision NOT NULL,
    gap_kind text NOT NULL,
    gap_start timestamptz NOT NULL,
    PRIMARY KEY (run_id, participant_id, metric_id, minute)
);
CREATE INDEX imputed_points_by_series ON imputed_points (participant_id, metric_id, minute);

-- 0007's default privileges give every role SELECT and the processors INSERT, UPDATE, DELETE on these tables;
-- the API only reads them.
GRANT SELECT ON imputation_runs, imputation_gaps, imputation_run_participants, imputed_points
    TO wearstream_processor, wearstream_api, wearstream_readonly;
GRANT INSERT, UPDATE, DELETE ON imputation_runs, imputation_gaps, imputation_run_participants, imputed_points
    TO wearstream_processor;
