-- issue 16 items 1 and 4: every table of user data and every identity sequence is
-- dumped by pg_dump (sql/install/10_prices.sql, 31_ingest_http.sql, 35_jobs.sql,
-- 51_registry.sql, 62_monitor.sql).  One call per statement: two calls in one
-- statement update pg_extension's row twice in the same command.
SELECT pg_catalog.pg_extension_config_dump('stockml.symbols', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.prices', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.ingest_log', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.corporate_actions', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.jobs', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.retrain_policies', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.drift_metrics', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.performance_metrics', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.retrain_events', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.ingest_log', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.jobs', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.experiments', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.runs', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.models', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.alias_history', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.predictions', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.drift_metrics', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.performance_metrics', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.retrain_events', 'id')::regclass, '');

-- issue 16 item 4: roles that fit the README (sql/install/45_features.sql, 70_roles_readme.sql)
-- The built-in set belongs to the extension: features() and train() use it when no set is
-- named, so it is neither changed nor deleted (copy it under another name instead).
CREATE FUNCTION stockml.feature_sets_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' OR OLD.name = 'default' THEN
        RAISE EXCEPTION 'the built-in feature set "default" cannot be %',
                        CASE TG_OP WHEN 'UPDATE' THEN 'changed' ELSE 'deleted' END
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'features() and train() use it when no feature_set is named; it comes with the extension.',
                  HINT = 'Change a copy: INSERT INTO stockml.feature_sets (name, spec) SELECT ''mine'', spec FROM stockml.feature_sets WHERE name = ''default''; '
                      || CASE TG_OP WHEN 'TRUNCATE' THEN 'delete the other sets with DELETE FROM stockml.feature_sets WHERE name <> ''default''.'
                                    ELSE 'then pass feature_set => ''mine''.' END;
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END $$;
COMMENT ON FUNCTION stockml.feature_sets_guard() IS
'trigger: refuses UPDATE and DELETE of the built-in feature set "default", and TRUNCATE of stockml.feature_sets';
CREATE TRIGGER feature_sets_default_guard BEFORE UPDATE OR DELETE ON stockml.feature_sets
    FOR EACH ROW EXECUTE FUNCTION stockml.feature_sets_guard();
CREATE TRIGGER feature_sets_no_truncate BEFORE TRUNCATE ON stockml.feature_sets
    FOR EACH STATEMENT EXECUTE FUNCTION stockml.feature_sets_guard();

-- What the README's examples need of each role (test/pgtap/70_roles.sql runs them as each).
-- stockml_admin reads every view the README shows and manages feature sets (the built-in
-- "default" is guarded by a trigger, sql/install/45_features.sql).
GRANT SELECT ON stockml.model_versions TO stockml_admin;
GRANT INSERT, UPDATE, DELETE ON stockml.feature_sets TO stockml_admin;
-- stockml_reader runs the batch prediction SELECT stockml.predict(model, x) FROM
-- stockml.features(...) without reading a table: features() reads for it as the owner
-- (src/features.c, FeaturesReadAsOwner).
