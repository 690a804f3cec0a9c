-- Citus (issue 11): stockml.distribute() spreads the per-symbol tables over a
-- Citus cluster's workers (src/distributed.c keeps C readers correct on them).

-- On Citus, models is a reference table (distribute()), which the coordinator's ledger and
-- drift null may not reference by a foreign key: distribute() replaces their keys' ON DELETE
-- CASCADE by statement triggers on models calling this (unused on one node).
CREATE FUNCTION stockml._models_ledger_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        TRUNCATE stockml.predictions, stockml.drift_null;
    ELSE
        DELETE FROM stockml.predictions p USING gone g WHERE p.model_id OPERATOR(pg_catalog.=) g.id;
        DELETE FROM stockml.drift_null n USING gone g WHERE n.model_id OPERATOR(pg_catalog.=) g.id;
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION stockml._models_ledger_delete() IS
'internal, on Citus: the cascade of stockml.models (a reference table) to stockml.predictions and stockml.drift_null, which keep no foreign key to it there (a trigger distribute() creates)';
REVOKE ALL ON FUNCTION stockml._models_ledger_delete() FROM PUBLIC;

CREATE FUNCTION stockml.distribute(shard_count integer DEFAULT NULL)
RETURNS TABLE (table_name regclass, placement text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t record;
    f record;
    is_coordinator boolean;
    unsafe_triggers text;
    ddl_propagation text;
    messages text := pg_catalog.current_setting('client_min_messages');
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'citus') THEN
        RAISE EXCEPTION 'stockml.distribute() needs the citus extension in this database'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Install Citus 13.2 for PostgreSQL 15 (Citus''s packages), put citus first in shared_preload_libraries, CREATE EXTENSION citus here and on each worker, add the workers with citus_add_node(), then call stockml.distribute() on the coordinator.';
    END IF;
    IF shard_count IS NOT NULL AND (shard_count OPERATOR(pg_catalog.<) 1 OR shard_count OPERATOR(pg_catalog.>) 64000) THEN
        RAISE EXCEPTION 'shard_count must be between 1 and 64000, not %', shard_count
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Leave it NULL for citus.shard_count (32 by default).';
    END IF;
    EXECUTE 'SELECT pg_catalog.citus_is_coordinator()' INTO is_coordinator;
    IF NOT is_coordinator THEN
        RAISE EXCEPTION 'stockml.distribute() runs on the Citus coordinator, and this node is not it'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Connect to the coordinator (citus_set_coordinator_host() names it) and call it there.';
    END IF;
    -- the small shared tables the per-symbol functions read where they run: feature sets
    -- (features()), models and aliases (predict()), and the runs and experiments models
    -- reference, as reference tables, a copy on every node (doc/citus.md); first, before the
    -- distributed tables' parallel copies (Citus allows no reference table DDL after them).
    -- Their triggers go to every node's copy (Citus wants citus.enable_unsafe_triggers): the
    -- guards of feature_sets only refuse, models_changed() only invalidates caches, and the
    -- cascades to the coordinator's tables find no rows on a worker.  A reference table may
    -- reference only reference tables: the keys among them are dropped and made again
    -- (also on the workers' copies of the tables, which the extension's script gave them),
    -- and the ones from predictions and drift_null to models become triggers on models.
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p
                    WHERE p.logicalrelid OPERATOR(pg_catalog.=) 'stockml.models'::pg_catalog.regclass) THEN
        FOR t IN SELECT r.nodename, r.nodeport, r.success, r.result
                   FROM pg_catalog.run_command_on_workers($cmd$
ALTER TABLE stockml.predictions DROP CONSTRAINT IF EXISTS predictions_model_id_fkey;
ALTER TABLE stockml.drift_null DROP CONSTRAINT IF EXISTS drift_null_model_id_fkey;
ALTER TABLE stockml.model_aliases DROP CONSTRAINT IF EXISTS model_aliases_name_version_fkey;
ALTER TABLE stockml.models DROP CONSTRAINT IF EXISTS models_run_id_fkey;
ALTER TABLE stockml.run_metrics DROP CONSTRAINT IF EXISTS run_metrics_run_id_fkey;
ALTER TABLE stockml.runs DROP CONSTRAINT IF EXISTS runs_experiment_id_fkey
$cmd$) r LOOP
            IF NOT t.success THEN
                RAISE EXCEPTION 'stockml.distribute() could not drop the registry''s foreign keys on worker %:%', t.nodename, t.nodeport
                    USING DETAIL = t.result,
                          HINT = 'Check that the worker has stockml and citus, then call stockml.distribute() again.';
            END IF;
        END LOOP;
        ALTER TABLE stockml.predictions DROP CONSTRAINT IF EXISTS predictions_model_id_fkey;
        ALTER TABLE stockml.drift_null DROP CONSTRAINT IF EXISTS drift_null_model_id_fkey;
        ALTER TABLE stockml.model_aliases DROP CONSTRAINT IF EXISTS model_aliases_name_version_fkey;
        ALTER TABLE stockml.models DROP CONSTRAINT IF EXISTS models_run_id_fkey;
        ALTER TABLE stockml.run_metrics DROP CONSTRAINT IF EXISTS run_metrics_run_id_fkey;
        ALTER TABLE stockml.runs DROP CONSTRAINT IF EXISTS runs_experiment_id_fkey;
        -- ON DELETE CASCADE of the ledger and the drift null, as for the validation rows
        CREATE TRIGGER models_ledger_delete AFTER DELETE ON stockml.models
            REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION stockml._models_ledger_delete();
        CREATE TRIGGER models_ledger_truncate AFTER TRUNCATE ON stockml.models
            FOR EACH STATEMENT EXECUTE FUNCTION stockml._models_ledger_delete();
    END IF;
    unsafe_triggers := pg_catalog.current_setting('citus.enable_unsafe_triggers');
    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
    FOR t IN SELECT v.rel FROM (VALUES ('stockml.feature_sets'::pg_catalog.regclass, 1),
                                       ('stockml.experiments'::pg_catalog.regclass, 2),
                                       ('stockml.runs'::pg_catalog.regclass, 3),
                                       ('stockml.run_metrics'::pg_catalog.regclass, 4),
                                       ('stockml.models'::pg_catalog.regclass, 5),
                                       ('stockml.model_aliases'::pg_catalog.regclass, 6)) v(rel, ord)
             ORDER BY v.ord LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid OPERATOR(pg_catalog.=) t.rel) THEN
            -- (without Citus's NOTICE that the copied rows stay in the shell: they leave it below)
            PERFORM pg_catalog.set_config('client_min_messages', 'warning', true);
            PERFORM pg_catalog.create_reference_table(t.rel);
            PERFORM pg_catalog.set_config('client_min_messages', messages, true);
            -- the copied rows leave the shell, with its triggers off for that, on the shell
            -- alone (not propagated to the copies): feature_sets' guard refuses TRUNCATE, and
            -- models' would empty the coordinator's validation rows and ledger
            ddl_propagation := pg_catalog.current_setting('citus.enable_ddl_propagation');
            PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'off', true);
            EXECUTE pg_catalog.format('ALTER TABLE %s DISABLE TRIGGER USER', t.rel);
            PERFORM pg_catalog.truncate_local_data_after_distributing_table(t.rel);
            EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE TRIGGER USER', t.rel);
            PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', ddl_propagation, true);
        END IF;
    END LOOP;
    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', unsafe_triggers, true);
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint c
                    WHERE c.conrelid OPERATOR(pg_catalog.=) 'stockml.model_aliases'::pg_catalog.regclass
                      AND c.conname OPERATOR(pg_catalog.=) 'model_aliases_name_version_fkey') THEN
        ALTER TABLE stockml.runs ADD CONSTRAINT runs_experiment_id_fkey
            FOREIGN KEY (experiment_id) REFERENCES stockml.experiments (id) ON DELETE CASCADE;
        ALTER TABLE stockml.run_metrics ADD CONSTRAINT run_metrics_run_id_fkey
            FOREIGN KEY (run_id) REFERENCES stockml.runs (id) ON DELETE CASCADE;
        ALTER TABLE stockml.models ADD CONSTRAINT models_run_id_fkey
            FOREIGN KEY (run_id) REFERENCES stockml.runs (id) ON DELETE SET NULL;
        ALTER TABLE stockml.model_aliases ADD CONSTRAINT model_aliases_name_version_fkey
            FOREIGN KEY (name, version) REFERENCES stockml.models (name, version);
    END IF;
    -- the Grafana reader (below): of the reference tables, what model_versions, model_names,
    -- model_history, backtest_equity and the other views show of them (not the model, its
    -- spec or its reference sample); here, as Citus allows no DDL on a referenced reference
    -- table after the distributed tables' parallel operations in the same transaction
    IF EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) 'stockml_reader') THEN
        GRANT SELECT (id, name, version, algorithm, symbols, horizon, feature_set, params, metrics,
                      train_start, train_end, n_rows, created_at, run_id, description, tags)
            ON stockml.models TO stockml_reader;
        GRANT SELECT (name, alias, version) ON stockml.model_aliases TO stockml_reader;
    END IF;
    -- symbols first (the others colocate with it and reference it), by symbol; then the
    -- tables of one symbol's rows, colocated with it: its bars, corporate actions and ingests
    FOR t IN SELECT v.rel, v.ord FROM (VALUES ('stockml.symbols'::pg_catalog.regclass, 1),
                                              ('stockml.prices'::pg_catalog.regclass, 2),
                                              ('stockml.corporate_actions'::pg_catalog.regclass, 3),
                                              ('stockml.ingest_log'::pg_catalog.regclass, 4)) v(rel, ord)
             ORDER BY v.ord LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid OPERATOR(pg_catalog.=) t.rel) THEN
            IF t.rel OPERATOR(pg_catalog.=) 'stockml.ingest_log'::pg_catalog.regclass THEN
                -- Citus wants the distribution column in every unique key: (symbol, id), id
                -- staying unique by its identity
                ALTER TABLE stockml.ingest_log DROP CONSTRAINT ingest_log_pkey,
                    ADD CONSTRAINT ingest_log_pkey PRIMARY KEY (symbol, id);
            ELSIF t.ord OPERATOR(pg_catalog.=) 1 THEN
                -- predict()'s change triggers (32_bar_changes.sql): Citus refuses a table with
                -- triggers, and a distributed table's rows are written on the workers, so
                -- predict() reads every bar through SQL there and needs none
                DROP TRIGGER IF EXISTS symbols_calendar_changed ON stockml.symbols;
                DROP TRIGGER IF EXISTS symbols_deleted ON stockml.symbols;
                DROP TRIGGER IF EXISTS symbols_truncated ON stockml.symbols;
            ELSIF t.ord OPERATOR(pg_catalog.=) 2 THEN
                DROP TRIGGER IF EXISTS bars_inserted ON stockml.prices;
                DROP TRIGGER IF EXISTS bars_updated ON stockml.prices;
                DROP TRIGGER IF EXISTS bars_deleted ON stockml.prices;
                DROP TRIGGER IF EXISTS bars_truncated ON stockml.prices;
            ELSIF t.ord OPERATOR(pg_catalog.=) 3 THEN
                DROP TRIGGER IF EXISTS actions_inserted ON stockml.corporate_actions;
                DROP TRIGGER IF EXISTS actions_updated ON stockml.corporate_actions;
                DROP TRIGGER IF EXISTS actions_deleted ON stockml.corporate_actions;
                DROP TRIGGER IF EXISTS actions_truncated ON stockml.corporate_actions;
            END IF;
            IF t.ord OPERATOR(pg_catalog.=) 1 THEN
                EXECUTE pg_catalog.format('SELECT pg_catalog.create_distributed_table(%L, %L, shard_count => %s)',
                                          t.rel, 'symbol', coalesce(shard_count::text, 'NULL'));
            ELSE
                EXECUTE pg_catalog.format('SELECT pg_catalog.create_distributed_table(%L, %L, colocate_with => %L)',
                                          t.rel, 'symbol', 'stockml.symbols');
            END IF;
        END IF;
    END LOOP;
    -- the rows copied to the shards stay in the coordinator's shell tables unless removed
    FOR t IN SELECT v.rel FROM (VALUES ('stockml.ingest_log'::pg_catalog.regclass, 0),
                                       ('stockml.corporate_actions'::pg_catalog.regclass, 1),
                                       ('stockml.prices'::pg_catalog.regclass, 2),
                                       ('stockml.symbols'::pg_catalog.regclass, 3)) v(rel, ord)
             ORDER BY v.ord LOOP
        EXECUTE pg_catalog.format('SELECT pg_catalog.truncate_local_data_after_distributing_table(%L)', t.rel);
    END LOOP;
    -- the per-symbol functions run on the node that holds the symbol's shard
    -- (force_delegation: also when called inside a transaction or another function)
    FOR f IN SELECT v.fn FROM (VALUES ('stockml._train_piece_rows(text, jsonb, integer, date)'::pg_catalog.regprocedure, 1),
                                      ('stockml._train_piece_qr(text, jsonb, integer, date, bigint, integer[])'::pg_catalog.regprocedure, 2)) v(fn, ord)
             ORDER BY v.ord LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_object o
                        WHERE o.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                          AND o.objid OPERATOR(pg_catalog.=) f.fn
                          AND o.distribution_argument_index IS NOT NULL) THEN
            EXECUTE pg_catalog.format('SELECT pg_catalog.create_distributed_function(%L, %L, colocate_with => %L, force_delegation => true)',
                                      f.fn, 'symbol', 'stockml.prices');
        END IF;
    END LOOP;
    -- ingest_log's ids are written where the ingest runs: each worker's copy of the identity
    -- sequence continues from a range of its own, as Citus gives its own sequences (group id
    -- << 48: 2^48 ids each), so that ids never repeat across nodes (the coordinator, group 0,
    -- keeps 1 ..).  setval(), not ALTER TABLE: this transaction holds the workers' ingest_log
    -- locked while distributing it, and run_command_on_workers() uses other connections.
    FOR t IN SELECT r.nodename, r.nodeport, r.success, r.result
               FROM pg_catalog.run_command_on_workers($cmd$
SELECT pg_catalog.setval(q.seq, (g.groupid::bigint OPERATOR(pg_catalog.<<) 48) OPERATOR(pg_catalog.+) 1, false)
  FROM pg_catalog.pg_dist_local_group g,
       LATERAL (SELECT pg_catalog.pg_get_serial_sequence('stockml.ingest_log', 'id')::pg_catalog.regclass AS seq) q
 WHERE coalesce(pg_catalog.pg_sequence_last_value(q.seq), 0) OPERATOR(pg_catalog.<) (g.groupid::bigint OPERATOR(pg_catalog.<<) 48)
$cmd$) r LOOP
        IF NOT t.success THEN
            RAISE EXCEPTION 'stockml.distribute() could not give ingest_log''s ids a range of their own on worker %:%', t.nodename, t.nodeport
                USING DETAIL = t.result,
                      HINT = 'Check that the worker has stockml and citus, then call stockml.distribute() again.';
        END IF;
    END LOOP;
    -- the functions of one symbol that read and write only that symbol's rows of the
    -- colocated tables: a call SELECT f('SYM', ...) runs on the worker holding the symbol.
    -- The HTTP ingests stay on the coordinator: they read the coordinator's settings, and
    -- refresh() rescales the ledger (doc/citus.md).
    FOR t IN SELECT v.fn FROM (VALUES ('stockml.total_return(text, date, date)'::pg_catalog.regprocedure),
                                      ('stockml.ingest_csv(text, text, text, boolean, text)'::pg_catalog.regprocedure)) v(fn) LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_object o
                        WHERE o.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                          AND o.objid OPERATOR(pg_catalog.=) t.fn AND o.distribution_argument_index IS NOT NULL) THEN
            PERFORM pg_catalog.create_distributed_function(t.fn, distribution_arg_name => 'symbol',
                                                           colocate_with => 'stockml.prices');
        END IF;
    END LOOP;
    -- and the functions of one symbol that read the bars and those copies: features()
    -- (its feature set), predict() and predict_path() (the model) run on the symbol's node
    FOR t IN SELECT v.fn FROM (VALUES ('stockml.features(text, date, date, text, integer)'::pg_catalog.regprocedure),
                                      ('stockml.predict(text, text, integer, text)'::pg_catalog.regprocedure),
                                      ('stockml.predict_path(text, text, integer, text)'::pg_catalog.regprocedure)) v(fn) LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_object o
                        WHERE o.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                          AND o.objid OPERATOR(pg_catalog.=) t.fn AND o.distribution_argument_index IS NOT NULL) THEN
            PERFORM pg_catalog.create_distributed_function(t.fn, distribution_arg_name => 'symbol',
                                                           colocate_with => 'stockml.prices');
        END IF;
    END LOOP;
    -- the Grafana reader: Citus runs a view's queries on the shards as the querying role,
    -- not as the view's owner, so stockml_reader needs SELECT on the columns its views show
    -- of the distributed tables (price_history, symbol_info, ingest_status, the forecast
    -- views): no more than those views show (doc/citus.md)
    IF EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) 'stockml_reader') THEN
        GRANT SELECT (symbol, name, exchange, currency, timezone, active) ON stockml.symbols TO stockml_reader;
        GRANT SELECT (symbol, day, open, high, low, close, adj_close, volume) ON stockml.prices TO stockml_reader;
        GRANT SELECT (id, symbol, source, started_at, finished_at, status, http_status, rows_inserted,
                      rows_updated, rows_rejected, error) ON stockml.ingest_log TO stockml_reader;
    END IF;
    RETURN QUERY
        SELECT c.oid::pg_catalog.regclass,
               CASE WHEN p.logicalrelid IS NULL THEN 'coordinator'
                    WHEN p.partmethod OPERATOR(pg_catalog.=) 'h' THEN 'distributed by ' OPERATOR(pg_catalog.||)
                         pg_catalog.column_to_column_name(p.logicalrelid, p.partkey)
                    WHEN p.repmodel OPERATOR(pg_catalog.=) 't' THEN 'reference'
                    ELSE 'citus local' END
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_depend d ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                AND d.objid OPERATOR(pg_catalog.=) c.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'
                AND d.refobjid OPERATOR(pg_catalog.=) (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'stockml')
          LEFT JOIN pg_catalog.pg_dist_partition p ON p.logicalrelid OPERATOR(pg_catalog.=) c.oid
         WHERE c.relkind OPERATOR(pg_catalog.=) 'r'
         ORDER BY c.relname;
END
$$;
COMMENT ON FUNCTION stockml.distribute(integer) IS
'on a Citus coordinator: distribute symbols, prices, corporate_actions and ingest_log by symbol (colocated, shard_count shards, NULL: citus.shard_count), make feature_sets, experiments, runs, run_metrics, models and model_aliases reference tables (predictions and drift_null follow models by triggers instead of foreign keys), remove the copied rows from the coordinator''s shell tables, register the per-symbol functions (train()''s pieces, total_return(), ingest_csv(), features(), predict(), predict_path()) to run on the node holding the symbol, give each worker''s ingest_log ids a range of their own, let stockml_reader read the columns of them its views show (Citus checks a view''s shard queries as the querying role), and list where every stockml table lives; the other tables stay on the coordinator. Idempotent. ERROR without Citus or off the coordinator';
REVOKE EXECUTE ON FUNCTION stockml.distribute(integer) FROM PUBLIC;
