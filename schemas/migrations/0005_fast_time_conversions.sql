-- Faster epoch-millisecond conversions (through float8 seconds; exact for every millisecond of years
-- 1970–2255: the rounding error stays below half a microsecond, and PostgreSQL rounds to microseconds).
CREATE OR REPLACE FUNCTION ms_to_ts(ms bigint) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT to_timestamp(ms::float8 / 1000) $$;

CREATE OR REPLACE FUNCTION ts_to_ms(ts timestamptz) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT round(date_part('epoch', ts) * 1000)::bigint $$;
