-- issue 10 item 2 (logistic, p_up): as sql/install/50_models.sql, ...

CREATE FUNCTION stockml.model_p_up(model bytea, x float8[])
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_model_p_up'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.model_p_up(bytea, float8[]) IS
'a classifier''s (logistic) probability that the target is above 0 (an up move) for one raw feature vector; a regressor''s bytea is an ERROR (its p_up needs the residuals train() keeps: predict(model_name, symbol))';

CREATE FUNCTION stockml.log_loss(p_up float8, realized_move float8)
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_log_loss'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.log_loss(float8, float8) IS
'-ln of the probability a forecast gave to what happened: -ln p_up when realized_move > 0 (up), -ln(1 - p_up) otherwise, p_up clipped to [eps, 1 - eps] as sklearn''s log_loss; the deploy gate''s loss for classifiers, train() scores with the same C function';

CREATE FUNCTION stockml.probability_scores(p_up float8[], realized_move float8[],
                                           OUT n bigint, OUT up_share float8, OUT log_loss float8,
                                           OUT brier float8, OUT auc float8, OUT accuracy float8)
RETURNS record
AS 'MODULE_PATHNAME', 'stockml_probability_scores'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.probability_scores(float8[], float8[]) IS
'scores of probability forecasts of an up move (realized_move > 0), as sklearn.metrics: mean log loss, Brier score, AUC (ranks, ties half; NULL without both classes) and accuracy of (p_up > 0.5); up_share is the share of up moves; train() reports the same (C) for classifiers';

-- a classifier's validation rows keep its probability and its baseline's (train.c)
ALTER TABLE stockml.validation_predictions
    ADD COLUMN p_up float8 CHECK (p_up BETWEEN 0 AND 1),
    ADD COLUMN base_p_up float8 CHECK (base_p_up BETWEEN 0 AND 1);
COMMENT ON COLUMN stockml.validation_predictions.p_up IS 'a classifier''s (logistic) probability that y > 0, from the same fit as yhat; NULL for a regressor';
COMMENT ON COLUMN stockml.validation_predictions.base_p_up IS 'a classifier''s baseline: the share of up moves (y > 0) among the fold''s training rows; NULL for a regressor';
