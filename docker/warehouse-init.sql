-- Warehouse initialisation for the docker-compose site install.
--
-- The postgres image runs this once, on the first start with an empty data volume, as
-- POSTGRES_USER connected to POSTGRES_DB (the `factory` warehouse database, created by the
-- image itself). It is idempotent, so it can also be run by hand against an existing server:
--   psql "postgresql://factory@host:5432/factory" -f docker/warehouse-init.sql

-- Dagster's run / event-log / schedule storage (FACTORY_DAGSTER_STORAGE_URL).
SELECT 'CREATE DATABASE dagster'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'dagster')\gexec

-- BI users never need the Dagster database.
REVOKE ALL ON DATABASE dagster FROM PUBLIC;

-- Read-only group role for BI tools (DESIGN.md §7): it may read the `marts` schema only.
-- It cannot log in; give each BI tool its own login role that inherits it, e.g.
--   CREATE ROLE powerbi LOGIN PASSWORD '<from your password manager>' IN ROLE bi_reader;
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bi_reader') THEN
        CREATE ROLE bi_reader NOLOGIN;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO bi_reader', current_database());
END
$$;

-- dbt creates the marts as POSTGRES_USER; default privileges make every table and view it
-- creates in `marts` readable by bi_reader, including tables rebuilt by later dbt runs.
CREATE SCHEMA IF NOT EXISTS marts;
GRANT USAGE ON SCHEMA marts TO bi_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA marts TO bi_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA marts GRANT SELECT ON TABLES TO bi_reader;
