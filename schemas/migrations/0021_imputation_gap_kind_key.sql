-- A run's gap reports are keyed by the gap's kind as well as its start: a not_synced gap (from the last upload
-- before a silence) can start at the very instant a not_worn gap does (the last reading, when the device synced
-- on it), and both are reported when a run fills both kinds.
ALTER TABLE imputation_gaps DROP CONSTRAINT imputation_gaps_pkey;
ALTER TABLE imputation_gaps ADD PRIMARY KEY (run_id, participant_id, metric_id, gap_kind, gap_start);
