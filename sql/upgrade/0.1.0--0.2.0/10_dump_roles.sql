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
