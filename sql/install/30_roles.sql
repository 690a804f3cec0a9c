-- Roles (src/roles.c): stockml_admin may fetch over the network and queue jobs.
-- Roles belong to the cluster, not to a database, so the role survives DROP EXTENSION
-- and is created only if an earlier CREATE EXTENSION (in any database) has not done so.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'stockml_admin') THEN
        CREATE ROLE stockml_admin NOLOGIN;
        COMMENT ON ROLE stockml_admin IS 'stockml: may fetch prices over HTTP (allowed hosts only), refresh, and submit jobs';
    END IF;
END
$$;
GRANT USAGE ON SCHEMA stockml TO stockml_admin;
GRANT SELECT, INSERT, UPDATE ON stockml.symbols, stockml.prices TO stockml_admin;
GRANT SELECT, INSERT ON stockml.ingest_log TO stockml_admin;
