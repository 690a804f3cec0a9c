-- Citus (issue 11): stockml.distribute() spreads the per-symbol tables over a
-- Citus cluster's workers (src/distributed.c keeps C readers correct on them).

CREATE FUNCTION stockml.distribute(shard_count integer DEFAULT NULL)
RETURNS TABLE (table_name regclass, placement text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t record;
    f record;
    is_coordinator boolean;
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
            ELSIF t.ord OPERATOR(pg_catalog.=) 2 THEN
                -- predict()'s change triggers (32_bar_changes.sql): Citus refuses a table with
                -- triggers, and a distributed table's rows are written on the workers, so
                -- predict() reads every bar through SQL there and needs none
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
    -- The others stay on the coordinator: features() and predict() read feature sets and
    -- models, which live there; the HTTP ingests read the coordinator's settings and
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
'on a Citus coordinator: distribute symbols, prices, corporate_actions and ingest_log by symbol (colocated, shard_count shards, NULL: citus.shard_count), remove the copied rows from the coordinator''s shell tables, register the per-symbol functions (train()''s pieces, total_return(), ingest_csv()) to run on the node holding the symbol, give each worker''s ingest_log ids a range of their own, let stockml_reader read the columns of them its views show (Citus checks a view''s shard queries as the querying role), and list where every stockml table lives; the other tables stay on the coordinator. Idempotent. ERROR without Citus or off the coordinator';
REVOKE EXECUTE ON FUNCTION stockml.distribute(integer) FROM PUBLIC;
