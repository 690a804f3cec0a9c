-- predict() in O(1) of the history (issue 13 item 1): stockml.bar_changes and the
-- statement triggers that move it (the objects of sql/install/32_bar_changes.sql),
-- filled for the bars stored before the upgrade, and distribute() dropping those
-- triggers before Citus distributes the tables.

CREATE SEQUENCE stockml.bar_changes_seq;
CREATE TABLE stockml.bar_changes (
    symbol    text PRIMARY KEY,
    write_id  bigint NOT NULL,
    edit_id   bigint NOT NULL,
    first_day date,
    last_day  date
);
COMMENT ON TABLE stockml.bar_changes IS 'derived (not dumped: the triggers on prices rebuild it when a dump is restored): one row per symbol whose bars or corporate actions were written, for predict()''s kept feature state';
COMMENT ON COLUMN stockml.bar_changes.write_id IS 'bar_changes_seq value of the last statement that wrote the symbol''s bars or corporate actions (never reused, so a rolled-back write leaves no value behind)';
COMMENT ON COLUMN stockml.bar_changes.edit_id IS 'the same, of the last such statement that was not a pure append (an UPDATE, DELETE or TRUNCATE, an INSERT on or before last_day, any write of corporate_actions)';
COMMENT ON COLUMN stockml.bar_changes.first_day IS 'first day the last write touched';
COMMENT ON COLUMN stockml.bar_changes.last_day IS 'on or after the day of the symbol''s latest bar (deletions do not lower it; NULL after TRUNCATE): an insert of later days only is an append';
REVOKE ALL ON stockml.bar_changes FROM PUBLIC;
REVOKE ALL ON SEQUENCE stockml.bar_changes_seq FROM PUBLIC;

-- One statement trigger per event (transition tables allow one event each); the
-- writer serialises on the symbol's row, so its append test sees every earlier write.
CREATE FUNCTION stockml._bars_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id bigint := nextval('stockml.bar_changes_seq');
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE stockml.bar_changes SET write_id = id, edit_id = id, first_day = NULL, last_day = NULL;
    ELSIF TG_TABLE_NAME = 'corporate_actions' THEN
        -- an action changes the adjustment of every earlier bar: an edit
        IF TG_OP = 'INSERT' THEN
            INSERT INTO stockml.bar_changes AS c (symbol, write_id, edit_id, first_day)
            SELECT a.symbol, id, id, min(a.day) FROM actions_inserted a GROUP BY a.symbol
            ON CONFLICT (symbol) DO UPDATE SET write_id = id, edit_id = id, first_day = excluded.first_day;
        ELSIF TG_OP = 'UPDATE' THEN
            INSERT INTO stockml.bar_changes AS c (symbol, write_id, edit_id, first_day)
            SELECT a.symbol, id, id, min(a.day)
              FROM (SELECT o.symbol, o.day FROM actions_old o UNION ALL SELECT n.symbol, n.day FROM actions_new n) a
             GROUP BY a.symbol
            ON CONFLICT (symbol) DO UPDATE SET write_id = id, edit_id = id, first_day = excluded.first_day;
        ELSE
            INSERT INTO stockml.bar_changes AS c (symbol, write_id, edit_id, first_day)
            SELECT a.symbol, id, id, min(a.day) FROM actions_deleted a GROUP BY a.symbol
            ON CONFLICT (symbol) DO UPDATE SET write_id = id, edit_id = id, first_day = excluded.first_day;
        END IF;
    ELSIF TG_OP = 'INSERT' THEN
        -- an append keeps edit_id: every new day is after every stored one
        INSERT INTO stockml.bar_changes AS c (symbol, write_id, edit_id, first_day, last_day)
        SELECT b.symbol, id, id, min(b.day), max(b.day) FROM bars_inserted b GROUP BY b.symbol
        ON CONFLICT (symbol) DO UPDATE
           SET write_id = id,
               edit_id = CASE WHEN c.last_day IS NOT NULL AND excluded.first_day > c.last_day
                              THEN c.edit_id ELSE id END,
               first_day = excluded.first_day,
               last_day = greatest(c.last_day, excluded.last_day);
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO stockml.bar_changes AS c (symbol, write_id, edit_id, first_day, last_day)
        SELECT b.symbol, id, id, min(b.day), max(b.day)
          FROM (SELECT o.symbol, o.day FROM bars_old o UNION ALL SELECT n.symbol, n.day FROM bars_new n) b
         GROUP BY b.symbol
        ON CONFLICT (symbol) DO UPDATE
           SET write_id = id, edit_id = id, first_day = excluded.first_day,
               last_day = greatest(c.last_day, excluded.last_day);
    ELSE
        INSERT INTO stockml.bar_changes AS c (symbol, write_id, edit_id, first_day, last_day)
        SELECT b.symbol, id, id, min(b.day), max(b.day) FROM bars_deleted b GROUP BY b.symbol
        ON CONFLICT (symbol) DO UPDATE
           SET write_id = id, edit_id = id, first_day = excluded.first_day,
               last_day = greatest(c.last_day, excluded.last_day);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION stockml._bars_changed() IS 'statement trigger of prices and corporate_actions: moves the written symbols'' rows of stockml.bar_changes';
REVOKE EXECUTE ON FUNCTION stockml._bars_changed() FROM PUBLIC;

CREATE TRIGGER bars_inserted AFTER INSERT ON stockml.prices
    REFERENCING NEW TABLE AS bars_inserted FOR EACH STATEMENT EXECUTE FUNCTION stockml._bars_changed();
CREATE TRIGGER bars_updated AFTER UPDATE ON stockml.prices
    REFERENCING OLD TABLE AS bars_old NEW TABLE AS bars_new FOR EACH STATEMENT EXECUTE FUNCTION stockml._bars_changed();
CREATE TRIGGER bars_deleted AFTER DELETE ON stockml.prices
    REFERENCING OLD TABLE AS bars_deleted FOR EACH STATEMENT EXECUTE FUNCTION stockml._bars_changed();
CREATE TRIGGER bars_truncated AFTER TRUNCATE ON stockml.prices
    FOR EACH STATEMENT EXECUTE FUNCTION stockml._bars_changed();
CREATE TRIGGER actions_inserted AFTER INSERT ON stockml.corporate_actions
    REFERENCING NEW TABLE AS actions_inserted FOR EACH STATEMENT EXECUTE FUNCTION stockml._bars_changed();
CREATE TRIGGER actions_updated AFTER UPDATE ON stockml.corporate_actions
    REFERENCING OLD TABLE AS actions_old NEW TABLE AS actions_new FOR EACH STATEMENT EXECUTE FUNCTION stockml._bars_changed();
CREATE TRIGGER actions_deleted AFTER DELETE ON stockml.corporate_actions
    REFERENCING OLD TABLE AS actions_deleted FOR EACH STATEMENT EXECUTE FUNCTION stockml._bars_changed();
CREATE TRIGGER actions_truncated AFTER TRUNCATE ON stockml.corporate_actions
    FOR EACH STATEMENT EXECUTE FUNCTION stockml._bars_changed();
-- also under session_replication_role = replica (a logical replica applying bars)
ALTER TABLE stockml.prices ENABLE ALWAYS TRIGGER bars_inserted, ENABLE ALWAYS TRIGGER bars_updated,
    ENABLE ALWAYS TRIGGER bars_deleted, ENABLE ALWAYS TRIGGER bars_truncated;
ALTER TABLE stockml.corporate_actions ENABLE ALWAYS TRIGGER actions_inserted, ENABLE ALWAYS TRIGGER actions_updated,
    ENABLE ALWAYS TRIGGER actions_deleted, ENABLE ALWAYS TRIGGER actions_truncated;

CREATE FUNCTION stockml.feature_state_stats(OUT hits bigint, OUT appends bigint, OUT rebuilds bigint,
                                            OUT bypassed bigint, OUT states bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'stockml_feature_state_stats'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION stockml.feature_state_stats() IS
'this backend''s predict(model, symbol) calls since it started, by how their feature row was found: hits (no bar written since the kept state), appends (only the appended bars read), rebuilds (every bar read, the state kept), bypassed (every bar read without a state: a Citus table, bars the current transaction wrote, a spec reading another symbol, too few bars, stockml.feature_state_cache_size = 0); states: the (version, symbol) states it keeps';

-- the bars stored before the upgrade: one row per symbol (an edit: no state exists yet)
INSERT INTO stockml.bar_changes (symbol, write_id, edit_id, first_day, last_day)
SELECT p.symbol, nextval('stockml.bar_changes_seq'), currval('stockml.bar_changes_seq'), min(p.day), max(p.day)
  FROM stockml.prices p GROUP BY p.symbol;

CREATE OR REPLACE FUNCTION stockml.distribute(shard_count integer DEFAULT NULL)
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
