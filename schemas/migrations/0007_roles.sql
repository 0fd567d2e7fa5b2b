-- Least privilege. The owner (who runs migrations) owns every table; each process connects with its role:
--   wearstream_processor  the stream processors: read everything, write the data they derive
--   wearstream_api        the API: read everything, write only keys, participants and the notification audit
--   wearstream_readonly   Grafana and analysts: read (not the key hashes)
-- None is a superuser. The roles are cluster-wide: the local stack and compose create them (with passwords,
-- as the superuser); a database owner allowed to create roles gets them here (without login) when missing.
-- Default privileges give tables and sequences created by later migrations the same grants.
DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['wearstream_processor', 'wearstream_api', 'wearstream_readonly'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolcreaterole)) THEN
                RAISE EXCEPTION 'role % is missing and % may not create it: create it first (NOLOGIN, or LOGIN with a password)',
                    role_name, current_user;
            END IF;
            EXECUTE format('CREATE ROLE %I NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', role_name);
        END IF;
    END LOOP;
END
$$;

REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO wearstream_processor, wearstream_api, wearstream_readonly;

-- Reading: everyone, everything (functions such as raw_readings are executable by all by default).
GRANT SELECT ON ALL TABLES IN SCHEMA public TO wearstream_processor, wearstream_api, wearstream_readonly;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT ON TABLES TO wearstream_processor, wearstream_api, wearstream_readonly;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO wearstream_processor, wearstream_api;

-- The processors write the data; tables added later are theirs too unless a migration says otherwise.
GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO wearstream_processor;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO wearstream_processor;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT INSERT, UPDATE, DELETE ON TABLES TO wearstream_processor;
REVOKE INSERT, UPDATE, DELETE ON schema_migrations, metrics, notification_audit FROM wearstream_processor;
REVOKE ALL ON api_keys FROM wearstream_processor, wearstream_readonly;

-- The API writes keys, participants and the notification audit — and nothing else.
GRANT INSERT, UPDATE ON api_keys, participants, notification_audit TO wearstream_api;
GRANT USAGE, SELECT ON SEQUENCE notification_audit_id_seq TO wearstream_api;

-- Retention drops chunks, which only a hypertable's owner may do: this function does it for the processors,
-- for the tables that have a retention and nothing else.
CREATE FUNCTION drop_expired_chunks(p_table text, p_older_than timestamptz) RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF p_table NOT IN ('raw_segments', 'rollup_1m', 'rollup_1h', 'rollup_1d', 'gaps') THEN
        RAISE EXCEPTION 'no retention for table %', p_table;
    END IF;
    RETURN QUERY SELECT drop_chunks(p_table::regclass, older_than => p_older_than)::text;
END
$$;
REVOKE ALL ON FUNCTION drop_expired_chunks(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION drop_expired_chunks(text, timestamptz) TO wearstream_processor;
