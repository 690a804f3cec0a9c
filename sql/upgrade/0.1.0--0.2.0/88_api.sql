-- issue 12 item 2, the prediction API: predict(..., version => N | alias => 'name') for a
-- symbol and for batch x, predict_path() over the heads of train(..., horizons => ...), and
-- forecast() that records what it can and returns the symbols it could not with the reason.
-- See sql/install/52_train_predict.sql, 62_monitor.sql (run_job_forecast), 66_reader.sql.
-- The signatures grow: new declarations with new C symbols (0.1.0's symbols keep their
-- meaning: stockml_train, stockml_predict_symbol and stockml_predict_vector take 0.1.0's
-- arguments).  An old declaration beside a new one with defaults would make every call
-- of the old form ambiguous, so each old one is dropped.
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

CREATE FUNCTION stockml.predict(model_name text, symbol text, version integer DEFAULT NULL,
                                alias text DEFAULT NULL,
                                OUT symbol text, OUT as_of date, OUT target_day date,
                                OUT predicted_close float8, OUT lower float8, OUT upper float8,
                                OUT model_version integer, OUT price_scale text)
RETURNS record
AS 'MODULE_PATHNAME', 'stockml_predict_symbol_0_2'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.predict(text, text, integer, text) IS
'a version''s forecast of the close horizon trading days (the symbol''s calendar) after the symbol''s last stored bar, from features computed with the spec stored in the model on total-return-adjusted prices; the version is version => N, the one alias => name points to, or by default production (not both); predicted_close, lower and upper are on the price scale of as_of''s bar as quoted (price_scale = ''as_of''); NULL model_name or symbol gives NULL';

CREATE FUNCTION stockml.predict(model_name text, x float8[], version integer DEFAULT NULL,
                                alias text DEFAULT NULL)
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_predict_vector_0_2'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.predict(text, float8[], integer, text) IS
'a version''s predicted log return over its horizon for one raw feature vector (x of stockml.features), for batch use; version => N, alias => name or by default production; NULL model_name or x gives NULL';

CREATE FUNCTION stockml.predict_path(model_name text, symbol text, version integer DEFAULT NULL,
                                     alias text DEFAULT NULL)
RETURNS TABLE (symbol text, as_of date, horizon integer, target_day date, predicted_close float8,
               lower float8, upper float8, model_version integer, price_scale text)
AS 'MODULE_PATHNAME', 'stockml_predict_path'
LANGUAGE C STABLE PARALLEL SAFE ROWS 5;
COMMENT ON FUNCTION stockml.predict_path(text, text, integer, text) IS
'one row per head of a version trained with horizons (ascending horizon): the close horizon trading days after the symbol''s last stored bar, with its interval, on the price scale of as_of (as predict()); a version of one head gives one row, predict()''s';

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

CREATE FUNCTION stockml.forecast(model_name text, symbols text[] DEFAULT NULL,
                                 version integer DEFAULT NULL, alias text DEFAULT NULL)
RETURNS SETOF stockml.forecast_result
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    -- the whole batch uses one version, even if the alias moves meanwhile
    v integer := stockml._resolve_version(forecast.model_name, forecast.version, forecast.alias);
    mid bigint;
    s text;
    p record;
    r stockml.forecast_result;
    msg text;
    failed text[] := '{}';
    n integer := 0;
BEGIN
    SELECT m.id, coalesce(forecast.symbols, m.symbols) INTO mid, symbols
      FROM stockml.models m WHERE m.name = forecast.model_name AND m.version = v;
    FOR s IN SELECT DISTINCT u FROM unnest(symbols) u ORDER BY 1 LOOP
        n := n + 1;
        BEGIN
            SELECT * INTO p FROM stockml.predict(forecast.model_name, coalesce(s, ''), version => v);
            INSERT INTO stockml.predictions AS t (model_id, model_name, model_version, symbol, as_of,
                                                 target_day, predicted_close, lower, upper)
            VALUES (mid, forecast.model_name, v, p.symbol, p.as_of, p.target_day, p.predicted_close,
                    p.lower, p.upper)
            ON CONFLICT ON CONSTRAINT predictions_model_id_symbol_as_of_key DO UPDATE
               SET target_day = excluded.target_day, predicted_close = excluded.predicted_close,
                   lower = excluded.lower, upper = excluded.upper, made_at = now()
            RETURNING t.id, t.model_id, t.model_name, t.model_version, t.symbol, t.as_of, t.target_day,
                      t.predicted_close, t.lower, t.upper, t.made_at, 'ok', NULL
                 INTO r;
        EXCEPTION WHEN OTHERS THEN
            -- one symbol's failure (no history, a bad last bar) does not stop the others
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
            r := ROW(NULL, mid, forecast.model_name, v, s, NULL, NULL, NULL, NULL, NULL, now(), 'failed', msg);
            failed := failed || format('%s (%s)', coalesce(s, 'NULL'), msg);
        END;
        RETURN NEXT r;
    END LOOP;
    IF cardinality(failed) > 0 THEN
        RAISE WARNING 'forecast of model "%" version %: % of % symbols failed: %', forecast.model_name, v,
                      cardinality(failed), n,
                      array_to_string(failed[1:10], '; ') || CASE WHEN cardinality(failed) > 10
                          THEN format('; and %s more', cardinality(failed) - 10) ELSE '' END
            USING HINT = 'The rows with status ''failed'' say why; the other symbols were recorded.';
    END IF;
END $$;
COMMENT ON FUNCTION stockml.forecast(text, text[], integer, text) IS
'predict each symbol (default: the version''s own) with one version (version => N, alias => name, default production) and record it in stockml.predictions (a repeat on the same as_of day replaces the row); returns a row per symbol: status ok with the recorded row, or status failed with the error (a WARNING lists them), so one symbol without history does not stop the batch';

REVOKE EXECUTE ON FUNCTION stockml.predict(text, text, integer, text),
                          stockml.predict(text, float8[], integer, text),
                          stockml.predict_path(text, text, integer, text),
                          stockml._resolve_version(text, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml.predict(text, text, integer, text),
                          stockml.predict(text, float8[], integer, text),
                          stockml.predict_path(text, text, integer, text),
                          stockml._resolve_version(text, integer, text)
   TO stockml_reader, stockml_admin;

-- forecast jobs count the recorded forecasts and name the failed symbols' count
CREATE OR REPLACE FUNCTION stockml.run_job_forecast(job_id bigint, args jsonb)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    names   text[] := stockml.job_models('forecast', args, ARRAY['model_name', 'models', 'symbols']);
    symbols text[];
    n       bigint;
    nfailed bigint;
    parts   text[] := '{}';
BEGIN
    IF args ? 'symbols' THEN
        IF jsonb_typeof(args -> 'symbols') <> 'array' THEN
            RAISE EXCEPTION '"symbols" of a forecast job must be an array of symbols'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'For example: stockml.submit(''forecast'', ''{"model_name": "msft_ridge", "symbols": ["MSFT"]}'').';
        END IF;
        symbols := ARRAY(SELECT jsonb_array_elements_text(args -> 'symbols'));
    END IF;
    FOR i IN 1 .. coalesce(cardinality(names), 0) LOOP
        SELECT count(*) FILTER (WHERE f.status = 'ok'), count(*) FILTER (WHERE f.status <> 'ok')
          INTO n, nfailed FROM stockml.forecast(names[i], symbols) f;
        parts := parts || format('%s: %s forecast%s%s', names[i], n, CASE WHEN n = 1 THEN '' ELSE 's' END,
                                 CASE WHEN nfailed > 0 THEN format(', %s symbol%s failed (see the WARNING)', nfailed,
                                                                  CASE WHEN nfailed = 1 THEN '' ELSE 's' END)
                                 ELSE '' END);
        PERFORM stockml.report_job_progress(i::float8 / cardinality(names));
    END LOOP;
    RETURN CASE WHEN cardinality(parts) = 0 THEN 'no model to forecast with' ELSE array_to_string(parts, '; ') END;
END
$$;
COMMENT ON FUNCTION stockml.run_job_forecast(bigint, jsonb) IS
'job kind forecast: args {"model_name": ..} or {"models": [..]} (default every model with a production version), optional "symbols"; returns the forecasts made per model';
