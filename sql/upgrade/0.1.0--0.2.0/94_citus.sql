-- Citus (issue 11): the symbol foreign keys without ON UPDATE CASCADE (Citus
-- refuses cascading updates of a distribution column; nothing renames a
-- symbol).  stockml.distribute() is defined once, in its final form, by
-- 99d_predict_state.sql.
ALTER TABLE stockml.prices DROP CONSTRAINT prices_symbol_fkey,
    ADD CONSTRAINT prices_symbol_fkey FOREIGN KEY (symbol) REFERENCES stockml.symbols (symbol) ON DELETE CASCADE;
ALTER TABLE stockml.corporate_actions DROP CONSTRAINT corporate_actions_symbol_fkey,
    ADD CONSTRAINT corporate_actions_symbol_fkey FOREIGN KEY (symbol) REFERENCES stockml.symbols (symbol) ON DELETE CASCADE;

