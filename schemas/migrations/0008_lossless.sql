-- Lossless raw values: a segment stores its values as integers at a per-segment power-of-ten scale that makes
-- every value exact (value_scale; NULL keeps the metric's registry scale, the layout of every row written
-- before), or, when no such scale exists, as float64 (value_f8, and then value_delta is NULL).
ALTER TABLE raw_segments ADD COLUMN value_scale integer CHECK (value_scale > 0);
ALTER TABLE raw_segments ADD COLUMN value_f8 double precision[];
ALTER TABLE raw_segments ALTER COLUMN value_delta DROP NOT NULL;
ALTER TABLE raw_segments ADD CONSTRAINT raw_segments_one_value_form CHECK ((value_delta IS NULL) <> (value_f8 IS NULL));
ALTER TABLE raw_segments ALTER COLUMN value_f8 SET STORAGE MAIN;
COMMENT ON COLUMN raw_segments.value_scale IS 'value = (running sum of value_delta) / value_scale, exactly; NULL: the metric''s scale.';
COMMENT ON COLUMN raw_segments.value_f8 IS 'The values as float64 when no power-of-ten scale makes them exact integers.';

-- Same contract as before; the division is IEEE float64, the one numpy does, so values read back bit for bit.
CREATE OR REPLACE FUNCTION raw_readings(p_participant text, p_metric text, p_start timestamptz, p_end timestamptz)
RETURNS TABLE ("time" timestamptz, value double precision, extra real[])
LANGUAGE sql STABLE AS $$
    WITH m AS (
        SELECT metric_id, scale, cardinality(extra_columns) AS k FROM metrics WHERE name = p_metric
    ), segments AS (
        SELECT s.start_time, s.batch_id, s.ts_delta, s.value_delta, s.extra,
               coalesce(s.value_scale, m.scale)::double precision AS scale, s.value_f8
        FROM raw_segments s, m
        WHERE s.participant_id = p_participant
          AND s.metric_id = m.metric_id
          AND s.start_time >= date_trunc('day', p_start, 'UTC')
          AND s.start_time < p_end
          AND s.end_time >= p_start
    ), readings AS (
        SELECT s.start_time + (sum(u.dt) OVER w) * interval '1 millisecond' AS t,
               CASE WHEN s.value_f8 IS NULL THEN (sum(u.dv) OVER w)::double precision / s.scale
                    ELSE u.vf END AS value,
               CASE WHEN m.k > 0 THEN s.extra[(u.i - 1) * m.k + 1 : u.i * m.k] END AS extra
        FROM segments s
        CROSS JOIN m
        CROSS JOIN LATERAL unnest(s.ts_delta, s.value_delta, s.value_f8) WITH ORDINALITY AS u (dt, dv, vf, i)
        WINDOW w AS (PARTITION BY s.start_time, s.batch_id ORDER BY u.i)
    )
    SELECT r.t, r.value, r.extra FROM readings r
    WHERE r.t >= p_start AND r.t < p_end
    ORDER BY r.t
$$;

-- Daily values as the device reported them (Fitbit's daily steps, resting heart rate, SpO2 / HRV / breathing
-- rate summaries), beside what wearstream computes from the readings; the latest import or upload wins.
CREATE TABLE device_daily (
    participant_id text NOT NULL,
    date date NOT NULL,
    field text NOT NULL,
    value double precision NOT NULL,
    source text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (participant_id, date, field)
);
COMMENT ON TABLE device_daily IS 'Device-reported daily values (schemas.device_daily.FIELDS), per participant-local date.';
