-- issue 10 item 2 (logistic, p_up): as sql/install/50_models.sql, ...

CREATE FUNCTION stockml.model_p_up(model bytea, x float8[])
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_model_p_up'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.model_p_up(bytea, float8[]) IS
'a classifier''s (logistic) probability that the target is above 0 (an up move) for one raw feature vector; a regressor''s bytea is an ERROR (its p_up needs the residuals train() keeps: predict(model_name, symbol))';
