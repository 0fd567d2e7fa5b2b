-- The API manages participant records (admin POST/PATCH /v1/participants): the audit trigger writes its row
-- as the owner, and a change of time zone rebuilds the participant's local-day rollups, daily summaries and
-- sleep nights — derived rows only; raw readings stay out of the API's reach.
ALTER FUNCTION audit_participant() SECURITY DEFINER SET search_path = public, pg_temp;
GRANT INSERT, UPDATE, DELETE ON rollup_1d, daily_summary, sleep_nights TO wearstream_api;
