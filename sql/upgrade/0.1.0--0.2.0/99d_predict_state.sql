-- predict() in O(1) of the history (issue 13 item 1): stockml.bar_changes and the
-- statement triggers that move it (the objects of sql/install/32_bar_changes.sql),
-- filled for the bars stored before the upgrade (distribute() drops those triggers before
-- Citus distributes the tables: its final form is in 99zb_bar_changes.sql).

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
        PERFORM FROM stockml.bar_changes c ORDER BY c.symbol FOR UPDATE;
        UPDATE stockml.bar_changes SET write_id = id, edit_id = id, first_day = NULL, last_day = NULL;
    ELSIF TG_TABLE_NAME = 'corporate_actions' THEN
        -- an action changes the adjustment of every earlier bar: an edit
        IF TG_OP = 'INSERT' THEN
            INSERT INTO stockml.bar_changes AS c (symbol, write_id, edit_id, first_day)
            SELECT a.symbol, id, id, min(a.day) FROM actions_inserted a GROUP BY a.symbol ORDER BY a.symbol
            ON CONFLICT (symbol) DO UPDATE SET write_id = id, edit_id = id, first_day = excluded.first_day;
        ELSIF TG_OP = 'UPDATE' THEN
            INSERT INTO stockml.bar_changes AS c (symbol, write_id, edit_id, first_day)
            SELECT a.symbol, id, id, min(a.day)
              FROM (SELECT o.symbol, o.day FROM actions_old o UNION ALL SELECT n.symbol, n.day FROM actions_new n) a
             GROUP BY a.symbol ORDER BY a.symbol
            ON CONFLICT (symbol) DO UPDATE SET write_id = id, edit_id = id, first_day = excluded.first_day;
        ELSE
            INSERT INTO stockml.bar_changes AS c (symbol, write_id, edit_id, first_day)
            SELECT a.symbol, id, id, min(a.day) FROM actions_deleted a
             WHERE EXISTS (SELECT FROM stockml.symbols s WHERE s.symbol = a.symbol)
             GROUP BY a.symbol ORDER BY a.symbol
            ON CONFLICT (symbol) DO UPDATE SET write_id = id, edit_id = id, first_day = excluded.first_day;
        END IF;
    ELSIF TG_OP = 'INSERT' THEN
        -- an append keeps edit_id: every new day is after every stored one
        INSERT INTO stockml.bar_changes AS c (symbol, write_id, edit_id, first_day, last_day)
        SELECT b.symbol, id, id, min(b.day), max(b.day) FROM bars_inserted b GROUP BY b.symbol ORDER BY b.symbol
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
         GROUP BY b.symbol ORDER BY b.symbol
        ON CONFLICT (symbol) DO UPDATE
           SET write_id = id, edit_id = id, first_day = excluded.first_day,
               last_day = greatest(c.last_day, excluded.last_day);
    ELSE
        -- a symbol's deletion cascades here after its own trigger took its row: not back
        INSERT INTO stockml.bar_changes AS c (symbol, write_id, edit_id, first_day, last_day)
        SELECT b.symbol, id, id, min(b.day), max(b.day) FROM bars_deleted b
         WHERE EXISTS (SELECT FROM stockml.symbols s WHERE s.symbol = b.symbol)
         GROUP BY b.symbol ORDER BY b.symbol
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

