-- The foundation: TimescaleDB, the metric registry, participants, and compact raw storage.
CREATE EXTENSION IF NOT EXISTS timescaledb;

-- Mirrors schemas/metrics.py (kept in sync by `wearstream db migrate`); SQL functions read `scale` here.
CREATE TABLE metrics (
    metric_id smallint PRIMARY KEY,
    name text NOT NULL UNIQUE,
    unit text NOT NULL,
    scale integer NOT NULL CHECK (scale > 0),
    aggregate text NOT NULL,
    min_value double precision NOT NULL,
    max_value double precision NOT NULL,
    gap_threshold_s integer,
    extra_columns text[] NOT NULL DEFAULT '{}'
);

-- Materialised from the compacted <prefix>.participants topic.
CREATE TABLE participants (
    participant_id text PRIMARY KEY,
    enrolled_on date NOT NULL,
    timezone text NOT NULL DEFAULT 'UTC',
    authorisation text NOT NULL DEFAULT 'authorised'
        CHECK (authorisation IN ('authorised', 'expired', 'revoked', 'never')),
    device_id text NOT NULL DEFAULT '',
    contact_email text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Raw readings, packed: one row per participant × metric × upload batch × hour, columns delta-encoded as
-- integer arrays (timestamps in ms, values as round(value × metrics.scale)) that TOAST compresses in line.
CREATE TABLE raw_segments (
    participant_id text NOT NULL,
    metric_id smallint NOT NULL,
    start_time timestamptz NOT NULL,
    end_time timestamptz NOT NULL,
    batch_id uuid NOT NULL,
    n integer NOT NULL CHECK (n > 0),
    ts_delta integer[] NOT NULL,
    value_delta integer[] NOT NULL,
    extra real[]
);
SELECT create_hypertable('raw_segments', by_range('start_time', INTERVAL '7 days'));
CREATE UNIQUE INDEX raw_segments_key ON raw_segments (participant_id, metric_id, start_time, batch_id);
ALTER TABLE raw_segments SET (toast_tuple_target = 128);
ALTER TABLE raw_segments ALTER COLUMN ts_delta SET STORAGE MAIN;
ALTER TABLE raw_segments ALTER COLUMN value_delta SET STORAGE MAIN;
