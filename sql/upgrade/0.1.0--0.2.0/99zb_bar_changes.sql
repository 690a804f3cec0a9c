-- stockml.bar_changes (sql/install/32_bar_changes.sql): the triggers lock the rows they move
-- in the order of the symbols (two writers of the same symbols in one statement each never
-- deadlock here), a symbol's row goes with the symbol (deleted, renamed, TRUNCATE), and a
-- change of a symbol's calendar or exchange moves its write_id, so predict()'s kept state
-- can keep the symbol's calendar with it (src/feature_state.c).  distribute() drops the
-- triggers of stockml.symbols too: its final form is in 99zr_citus_reference.sql.

COMMENT ON TABLE stockml.bar_changes IS 'derived (not dumped: the triggers on prices rebuild it when a dump is restored; doc/upgrades.md): one row per stored symbol whose bars or corporate actions were written, for predict()''s kept feature state; deleted with its symbol';
COMMENT ON COLUMN stockml.bar_changes.write_id IS 'bar_changes_seq value of the last statement that wrote the symbol''s bars or corporate actions, or changed its calendar or exchange in stockml.symbols (never reused, so a rolled-back write leaves no value behind)';

CREATE OR REPLACE FUNCTION stockml._bars_changed() RETURNS trigger
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

-- The symbol's own row in stockml.symbols: a change of its calendar or exchange moves
-- write_id (predict()'s kept state keeps the symbol's calendar with it, src/feature_state.c,
-- and serves it while write_id stays), and a symbol deleted or renamed takes its row along.
CREATE FUNCTION stockml._symbols_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM stockml.bar_changes;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM FROM stockml.bar_changes c
          WHERE c.symbol IN (SELECT d.symbol FROM symbols_deleted d) ORDER BY c.symbol FOR UPDATE;
        DELETE FROM stockml.bar_changes c WHERE c.symbol IN (SELECT d.symbol FROM symbols_deleted d);
    ELSIF OLD.symbol IS DISTINCT FROM NEW.symbol THEN
        DELETE FROM stockml.bar_changes c WHERE c.symbol = OLD.symbol;
    ELSE
        UPDATE stockml.bar_changes c SET write_id = nextval('stockml.bar_changes_seq')
         WHERE c.symbol = NEW.symbol;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION stockml._symbols_changed() IS 'trigger of stockml.symbols: a new calendar or exchange moves the symbol''s write_id in stockml.bar_changes, a deleted or renamed symbol''s row goes';
REVOKE EXECUTE ON FUNCTION stockml._symbols_changed() FROM PUBLIC;

CREATE TRIGGER symbols_calendar_changed AFTER UPDATE OF symbol, calendar, exchange ON stockml.symbols
    FOR EACH ROW WHEN (OLD.symbol IS DISTINCT FROM NEW.symbol OR OLD.calendar IS DISTINCT FROM NEW.calendar
                       OR OLD.exchange IS DISTINCT FROM NEW.exchange)
    EXECUTE FUNCTION stockml._symbols_changed();
CREATE TRIGGER symbols_deleted AFTER DELETE ON stockml.symbols
    REFERENCING OLD TABLE AS symbols_deleted FOR EACH STATEMENT EXECUTE FUNCTION stockml._symbols_changed();
CREATE TRIGGER symbols_truncated AFTER TRUNCATE ON stockml.symbols
    FOR EACH STATEMENT EXECUTE FUNCTION stockml._symbols_changed();
ALTER TABLE stockml.symbols ENABLE ALWAYS TRIGGER symbols_calendar_changed, ENABLE ALWAYS TRIGGER symbols_deleted,
    ENABLE ALWAYS TRIGGER symbols_truncated;

-- the rows of symbols deleted before this upgrade
DELETE FROM stockml.bar_changes c
 WHERE NOT EXISTS (SELECT FROM stockml.symbols s WHERE s.symbol = c.symbol);
