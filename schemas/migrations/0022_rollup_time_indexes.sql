-- The 1-minute and 1-hour rollups drop the time-only index that create_hypertable adds by default: every read
-- of them names the participant (the primary key's leading column), and chunks are still excluded by time.
-- At one row per participant-minute that index held about a quarter of the 1-minute rollups' bytes.
DROP INDEX IF EXISTS rollup_1m_bucket_idx;
DROP INDEX IF EXISTS rollup_1h_bucket_idx;
