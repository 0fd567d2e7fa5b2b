-- Daily summaries and sleep nights, materialised at ingest (stream_processors/summaries.py) so that they
-- outlive the retention of the rollups they are computed from. Plain tables: one small row per participant
-- and local date, kept for ever unless WEARSTREAM_PROCESSOR_RETENTION_SUMMARIES_DAYS is set.
-- `detail_at`: when the values read from 1-minute rollups and raw readings were last computed.
-- Existing data is summarised by `wearstream db summaries --rebuild`.

CREATE TABLE daily_summary (
    participant_id text NOT NULL,
    day date NOT NULL,
    timezone text NOT NULL,
    day_minutes integer NOT NULL,
    wear_minutes integer NOT NULL,
    steps_minutes integer NOT NULL,
    azm_minutes integer NOT NULL,
    steps double precision,
    active_zone_minutes double precision,
    resting_hr double precision,
    resting_hr_minutes integer NOT NULL,
    detail_at timestamptz NOT NULL DEFAULT now(),
    computed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (participant_id, day)
);

CREATE TABLE sleep_nights (
    participant_id text NOT NULL,
    night date NOT NULL,
    timezone text NOT NULL,
    window_start timestamptz NOT NULL,
    window_end timestamptz NOT NULL,
    wake_epochs integer,
    light_epochs integer,
    deep_epochs integer,
    rem_epochs integer,
    onset timestamptz,
    last_epoch timestamptz,
    spo2_mean double precision,
    spo2_min double precision,
    hrv_rmssd_mean double precision,
    breathing_rate double precision,
    detail_at timestamptz NOT NULL DEFAULT now(),
    computed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (participant_id, night)
);

-- What retention removed: at `dropped_at`, chunks of `table_name` before `dropped_before` were dropped. The
-- API then answers such ranges from a level that still holds them; a summary computed before the drop keeps
-- the values that needed the dropped detail (late data cannot be merged into what is no longer stored).
CREATE TABLE retention_drops (
    table_name text NOT NULL,
    dropped_at timestamptz NOT NULL,
    dropped_before timestamptz NOT NULL,
    chunks integer NOT NULL,
    PRIMARY KEY (table_name, dropped_at)
);
