#!/bin/sh
# Runs once, when the timescaledb container initialises its data volume (as the superuser `postgres`):
# the owner `wearstream` (runs migrations, not a superuser), the processor, API and read-only roles, each with
# the password compose passes from the environment, and the `wearstream` database with TimescaleDB.
# Grants: schemas/migrations/0007_roles.sql.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner="$DB_OWNER_PASSWORD" -v processor="$DB_PROCESSOR_PASSWORD" \
  -v api="$DB_API_PASSWORD" -v readonly="$DB_READONLY_PASSWORD" <<'SQL'
SET password_encryption = 'scram-sha-256';
CREATE ROLE wearstream LOGIN NOSUPERUSER CREATEDB NOCREATEROLE PASSWORD :'owner';
CREATE ROLE wearstream_processor LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'processor';
CREATE ROLE wearstream_api LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'api';
CREATE ROLE wearstream_readonly LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'readonly';
CREATE DATABASE wearstream OWNER wearstream;
SQL
for database in template1 wearstream; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$database" \
    -c "CREATE EXTENSION IF NOT EXISTS timescaledb"
done
