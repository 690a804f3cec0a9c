-- Models on matrices (src/model*.c, src/linalg.c): fit, evaluate and inspect the model
-- bytea without the registry.  Algorithms: naive, ridge, elastic_net, gbt, logistic.

CREATE FUNCTION stockml.fit(algorithm text, x float8[], y float8[], params jsonb DEFAULT '{}')
RETURNS bytea
AS 'MODULE_PATHNAME', 'stockml_fit'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.fit(text, float8[], float8[], jsonb) IS
'fit a model on a raw feature matrix x (2-D, one row per observation) and targets y; returns the model bytea (standardization included)';

CREATE FUNCTION stockml.model_predict(model bytea, x float8[])
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_model_predict'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.model_predict(bytea, float8[]) IS
'evaluate a model bytea on one raw feature vector; a damaged or foreign blob is an ERROR';

CREATE FUNCTION stockml.model_p_up(model bytea, x float8[])
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_model_p_up'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.model_p_up(bytea, float8[]) IS
'a classifier''s (logistic) probability that the target is above 0 (an up move) for one raw feature vector; a regressor''s bytea is an ERROR (its p_up needs the residuals train() keeps: predict(model_name, symbol))';

CREATE FUNCTION stockml.model_describe(model bytea)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'stockml_model_describe'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.model_describe(bytea) IS
'what a model bytea holds: algorithm, feature count, parameters, intercept, coefficients, standardization';
