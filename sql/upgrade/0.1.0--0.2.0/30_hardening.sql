-- issue 16 item 3 (hardening): bounded horizons
-- A horizon outside 1..10000 bars gives a target day PostgreSQL cannot read back;
-- train() refuses one, and now so does the table (an upgrade stops here, naming
-- the constraint, if a stored version has one).
ALTER TABLE stockml.models
    ADD CONSTRAINT models_horizon_range CHECK (horizon BETWEEN 1 AND 10000);
