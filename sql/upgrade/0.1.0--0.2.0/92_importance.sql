-- issue 10 item 4 (feature importance): as sql/install/57_importance.sql
-- Feature importance (src/model_matrix.c, each algorithm's importance): per feature of a
-- model bytea; per named feature of a registered version, feature_importance(), is defined
-- by 99a_search.sql with its importance_method argument.

CREATE FUNCTION stockml.model_importance(model bytea)
RETURNS TABLE (feature integer, importance float8, method text)
AS 'MODULE_PATHNAME', 'stockml_model_importance'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.model_importance(bytea) IS
'per feature (1-based position) of a model bytea: its importance and the method (standardized_coefficient for linear models, split_gain for gbt)';

