-- stockml.validation_predictions loses its foreign key to stockml.models (a check per row was
-- about 45 % of train()'s insert of its validation rows); statement triggers on models keep the
-- cascade (sql/install/53_gate.sql).  pgTAP 57_validation_cascade.
ALTER TABLE stockml.validation_predictions DROP CONSTRAINT validation_predictions_model_id_fkey;

-- No foreign key to stockml.models: train() writes a version's rows (millions, for many
-- symbols) right after its models row, as the owner, and a per-row key check was about 45 %
-- of that insert.  The cascade the key gave is kept by these triggers: deleting or truncating
-- models removes the versions' validation rows (delete_version, drop_model).
CREATE FUNCTION stockml._validation_rows_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        TRUNCATE stockml.validation_predictions;
    ELSE
        DELETE FROM stockml.validation_predictions v USING gone g WHERE v.model_id OPERATOR(pg_catalog.=) g.id;
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION stockml._validation_rows_delete() IS
'internal: the cascade of stockml.models to stockml.validation_predictions (a trigger; the table has no foreign key, which cost train() a check per row)';
REVOKE ALL ON FUNCTION stockml._validation_rows_delete() FROM PUBLIC;
CREATE TRIGGER models_validation_rows_delete AFTER DELETE ON stockml.models
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION stockml._validation_rows_delete();
CREATE TRIGGER models_validation_rows_truncate AFTER TRUNCATE ON stockml.models
    FOR EACH STATEMENT EXECUTE FUNCTION stockml._validation_rows_delete();
