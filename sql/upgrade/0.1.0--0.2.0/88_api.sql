-- issue 12 item 2, the prediction API: predict(..., version => N | alias => 'name') for a
-- symbol and for batch x, predict_path() over the heads of train(..., horizons => ...), and
-- forecast() that records what it can and returns the symbols it could not with the reason.
-- See sql/install/52_train_predict.sql, 62_monitor.sql (run_job_forecast), 66_reader.sql.
-- The signatures grow: new declarations with new C symbols (0.1.0's symbols keep their
-- meaning: stockml_train, stockml_predict_symbol and stockml_predict_vector take 0.1.0's
-- arguments).  An old declaration beside a new one with defaults would make every call
-- of the old form ambiguous, so each old one is dropped.  predict(model, symbol, ...) and
-- predict_path() are declared by 99_logistic.sql (with p_up), forecast() by 99y_ledger.sql,
-- run_job_forecast() by 90_jobs.sql: each once, in its final form.
DROP FUNCTION stockml.train(text, text[], text, integer, jsonb, text, date);
DROP FUNCTION stockml.predict(text, text);
DROP FUNCTION stockml.predict(text, float8[]);
DROP FUNCTION stockml.forecast(text, text[]);

CREATE FUNCTION stockml.train(model_name text, symbols text[], algorithm text DEFAULT 'ridge',
                              horizon integer DEFAULT 1, params jsonb DEFAULT '{}',
                              feature_set text DEFAULT 'default', train_end date DEFAULT NULL,
                              horizons integer[] DEFAULT NULL,
                              OUT model_name text, OUT version integer, OUT metrics jsonb,
                              OUT deployed boolean)
RETURNS record
AS 'MODULE_PATHNAME', 'stockml_train_0_2'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml.train(text, text[], text, integer, jsonb, text, date, integer[]) IS
'train a new version: walk-forward folds (expanding window, gap = horizon), keep every out-of-sample prediction in validation_predictions, refit on all rows, register it with its run and metrics; production moves to it only through the deploy gate (metrics -> ''gate''): skill above 0 and a one-sided Diebold-Mariano p below the policy''s deploy_alpha against the random walk and the production version on the same rows. horizons (which must include horizon) trains one head per horizon into the version, each validated by its own folds with gap = its horizon (metrics -> ''heads''); horizon''s head is the one predict() serves, predict_path() serves them all';

CREATE FUNCTION stockml.predict(model_name text, x float8[], version integer DEFAULT NULL,
                                alias text DEFAULT NULL)
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_predict_vector_0_2'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.predict(text, float8[], integer, text) IS
'a version''s predicted log return over its horizon for one raw feature vector (x of stockml.features), for batch use; version => N, alias => name or by default production; NULL model_name or x gives NULL';

CREATE FUNCTION stockml._resolve_version(model_name text, version integer DEFAULT NULL,
                                         alias text DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'stockml_resolve_version'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml._resolve_version(text, integer, text) IS
'internal: the version predict() serves for these arguments (version, alias or production), with predict()''s errors; forecast() pins its batch to it';

CREATE TYPE stockml.forecast_result AS (
    id              bigint,
    model_id        bigint,
    model_name      text,
    model_version   integer,
    symbol          text,
    as_of           date,
    target_day      date,
    predicted_close float8,
    lower           float8,
    upper           float8,
    made_at         timestamptz,
    status          text,
    error           text
);
COMMENT ON TYPE stockml.forecast_result IS
'a row of forecast(): the predictions row it recorded (status ok), or the symbol it could not forecast (status failed, error = why; the prediction columns NULL)';

REVOKE EXECUTE ON FUNCTION stockml.predict(text, float8[], integer, text),
                          stockml._resolve_version(text, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml.predict(text, float8[], integer, text),
                          stockml._resolve_version(text, integer, text)
   TO stockml_reader, stockml_admin;

