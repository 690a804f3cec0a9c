-- stockml.bar_changes (sql/install/32_bar_changes.sql): the triggers lock the rows they move
-- in the order of the symbols (two writers of the same symbols in one statement each never
-- deadlock here), a symbol's row goes with the symbol (deleted, renamed, TRUNCATE), and a
-- change of a symbol's calendar or exchange moves its write_id, so predict()'s kept state
-- can keep the symbol's calendar with it (src/feature_state.c).  distribute() drops the
-- triggers of stockml.symbols too: its final form is in 99zr_citus_reference.sql.
-- stockml._bars_changed() (the row locks in symbol order, a deleted symbol's rows not put
-- back) is created in its final form by 99d_predict_state.sql, which first creates it.

COMMENT ON TABLE stockml.bar_changes IS 'derived (not dumped: the triggers on prices rebuild it when a dump is restored; doc/upgrades.md): one row per stored symbol whose bars or corporate actions were written, for predict()''s kept feature state; deleted with its symbol';
COMMENT ON COLUMN stockml.bar_changes.write_id IS 'bar_changes_seq value of the last statement that wrote the symbol''s bars or corporate actions, or changed its calendar or exchange in stockml.symbols (never reused, so a rolled-back write leaves no value behind)';

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
