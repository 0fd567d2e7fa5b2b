-- Compaction: small per-batch segments of a period (an hour of heart rate, a day of other metrics) are merged
-- into one row, which TOAST then compresses well. The merged row keeps the ids of every batch it holds.
ALTER TABLE raw_segments ADD COLUMN batch_ids uuid[];
COMMENT ON COLUMN raw_segments.batch_ids IS 'Compacted rows: the batches merged into this row (NULL for a batch''s own segment).';

-- Segments of a period start within its UTC day, so reading from the day that holds p_start is enough.
CREATE OR REPLACE FUNCTION raw_readings(p_participant text, p_metric text, p_start timestamptz, p_end timestamptz)
RETURNS TABLE ("time" timestamptz, value double precision, extra real[])
LANGUAGE sql STABLE AS $$
    WITH m AS (
        SELECT metric_id, scale, cardinality(extra_columns) AS k FROM metrics WHERE name = p_metric
    ), segments AS (
        SELECT s.start_time, s.batch_id, s.ts_delta, s.value_delta, s.extra
        FROM raw_segments s, m
        WHERE s.participant_id = p_participant
          AND s.metric_id = m.metric_id
          AND s.start_time >= date_trunc('day', p_start, 'UTC')
          AND s.start_time < p_end
          AND s.end_time >= p_start
    ), readings AS (
        SELECT s.start_time + (sum(u.dt) OVER w) * interval '1 millisecond' AS t,
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
