-- What the stream processors write: rollups, participant state, uploads, gaps; and how raw readings are read.

-- Rollups at 1 min, 1 h and 1 day (the participant's local day) per participant × metric, merged on conflict:
-- count, sum, min, max (mean = sum / count), first and last reading time, the number of 1-minute buckets with
-- data (1 h and 1 day), and the 30 s epochs per stage for sleep_stage.
CREATE TABLE rollup_1m (
    participant_id text NOT NULL,
    metric_id smallint NOT NULL,
    bucket timestamptz NOT NULL,
    count integer NOT NULL,
    sum double precision NOT NULL,
    min double precision NOT NULL,
    max double precision NOT NULL,
    first_time timestamptz NOT NULL,
    last_time timestamptz NOT NULL,
    minutes integer NOT NULL DEFAULT 1,
    stage_epochs integer[],
    PRIMARY KEY (participant_id, metric_id, bucket)
);
SELECT create_hypertable('rollup_1m', by_range('bucket', INTERVAL '7 days'));

CREATE TABLE rollup_1h (LIKE rollup_1m INCLUDING DEFAULTS, PRIMARY KEY (participant_id, metric_id, bucket));
SELECT create_hypertable('rollup_1h', by_range('bucket', INTERVAL '60 days'));

CREATE TABLE rollup_1d (LIKE rollup_1m INCLUDING DEFAULTS, PRIMARY KEY (participant_id, metric_id, bucket));
SELECT create_hypertable('rollup_1d', by_range('bucket', INTERVAL '365 days'));

-- Device uploads (distinct sync times) per participant: the signal for `not_synced` gaps.
CREATE TABLE uploads (
    participant_id text NOT NULL,
    sync_time timestamptz NOT NULL,
    PRIMARY KEY (participant_id, sync_time)
);

-- Per participant × metric: first and last reading, last upload that carried the metric.
CREATE TABLE participant_metric_state (
    participant_id text NOT NULL,
    metric_id smallint NOT NULL,
    first_reading timestamptz NOT NULL,
    last_reading timestamptz NOT NULL,
    last_upload timestamptz NOT NULL,
    readings bigint NOT NULL,
    PRIMARY KEY (participant_id, metric_id)
);

-- Gaps: `not_worn` (a hole in heart rate inside uploaded data) and `not_synced` (no upload for N hours).
-- end_time is NULL while the gap is open. A gap is identified by where it starts.
CREATE TABLE gaps (
    participant_id text NOT NULL,
    metric_id smallint NOT NULL,
    kind text NOT NULL CHECK (kind IN ('not_worn', 'not_synced')),
    start_time timestamptz NOT NULL,
    end_time timestamptz,
    detected_at timestamptz NOT NULL DEFAULT now(),
    closed_at timestamptz,
    PRIMARY KEY (participant_id, kind, start_time)
);
SELECT create_hypertable('gaps', by_range('start_time', INTERVAL '90 days'));
CREATE INDEX gaps_open ON gaps (participant_id) WHERE end_time IS NULL;

-- Raw readings of one participant × metric in [p_start, p_end), unpacked from the delta-encoded segments.
-- Segments never cross a clock hour, so only segments starting after the hour of p_start are read.
CREATE FUNCTION raw_readings(p_participant text, p_metric text, p_start timestamptz, p_end timestamptz)
RETURNS TABLE ("time" timestamptz, value double precision, extra real[])
LANGUAGE sql STABLE AS $$
    WITH m AS (
        SELECT metric_id, scale, cardinality(extra_columns) AS k FROM metrics WHERE name = p_metric
    ), segments AS (
        SELECT s.start_time, s.batch_id, s.ts_delta, s.value_delta, s.extra
        FROM raw_segments s, m
        WHERE s.participant_id = p_participant
          AND s.metric_id = m.metric_id
          AND s.start_time >= date_trunc('hour', p_start)
          AND s.start_time < p_end
          AND s.end_time >= p_start
    ), readings AS (
        SELECT s.start_time
                   + (sum(u.dt) OVER w) * interval '1 millisecond' AS t,
               (sum(u.dv) OVER w)::double precision / m.scale AS value,
               CASE WHEN m.k > 0 THEN s.extra[(u.i - 1) * m.k + 1 : u.i * m.k] END AS extra
        FROM segments s
        CROSS JOIN m
        CROSS JOIN LATERAL unnest(s.ts_delta, s.value_delta) WITH ORDINALITY AS u (dt, dv, i)
        WINDOW w AS (PARTITION BY s.start_time, s.batch_id ORDER BY u.i)
    )
    SELECT r.t, r.value, r.extra FROM readings r
    WHERE r.t >= p_start AND r.t < p_end
    ORDER BY r.t
$$;

-- Exact epoch-milliseconds conversion (integer arithmetic, no floating point).
CREATE FUNCTION ms_to_ts(ms bigint) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT timestamptz 'epoch' + ms * interval '1 millisecond' $$;

CREATE FUNCTION ts_to_ms(ts timestamptz) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT (extract(epoch FROM ts) * 1000)::bigint $$;
