-- issue 10 item 4 (feature importance): as sql/install/57_importance.sql
-- Feature importance (src/model_matrix.c, each algorithm's importance): per feature of a
-- model bytea, and per named feature of a registered version.

CREATE FUNCTION stockml.model_importance(model bytea)
RETURNS TABLE (feature integer, importance float8, method text)
AS 'MODULE_PATHNAME', 'stockml_model_importance'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.model_importance(bytea) IS
'per feature (1-based position) of a model bytea: its importance and the method (standardized_coefficient for linear models, split_gain for gbt)';

CREATE FUNCTION stockml.feature_importance(model_name text, version integer DEFAULT NULL)
RETURNS TABLE (feature text, importance float8, method text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v integer := feature_importance.version;
BEGIN
    IF model_name IS NULL THEN
        RAISE EXCEPTION 'model_name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF v IS NULL THEN
        SELECT a.version INTO v FROM stockml.model_aliases a
         WHERE a.name = model_name AND a.alias = 'production';
        IF NOT FOUND THEN
            PERFORM stockml._require_version(model_name,
                                             (SELECT min(m.version) FROM stockml.models m WHERE m.name = model_name));
            RAISE EXCEPTION 'model "%" has no production version', model_name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Pass the version: stockml.feature_importance(model_name, version).';
        END IF;
    ELSE
        PERFORM stockml._require_version(model_name, v);
    END IF;
    RETURN QUERY
    SELECT m.feature_spec -> 'features' -> (i.feature - 1) ->> 'name', i.importance, i.method
      FROM stockml.models m, stockml.model_importance(m.model) i
     WHERE m.name = model_name AND m.version = v
     ORDER BY i.feature;
END $$;
COMMENT ON FUNCTION stockml.feature_importance(text, integer) IS
'importance of each feature of a version (default: production), named by its feature spec: standardized coefficients of linear models, total split gain (training squared error removed) of gbt';
