-- Training, prediction and forecasts (src/train.c, src/predict.c).

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
                                OUT model_version integer, OUT price_scale text,
                                OUT p_up float8)
RETURNS record
AS 'MODULE_PATHNAME', 'stockml_predict_symbol_0_2'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.predict(text, text, integer, text) IS
'a version''s forecast of the close horizon trading days (the symbol''s calendar) after the symbol''s last stored bar, from features computed with the spec stored in the model on total-return-adjusted prices; the version is version => N, the one alias => name points to, or by default production (not both); predicted_close, lower and upper are on the price scale of as_of''s bar as quoted (price_scale = ''as_of''); p_up is the probability of an up move (target above 0): a classifier''s own, a regressor''s from the conformal distribution of its out-of-sample residuals taken as symmetric (NULL without them); NULL model_name or symbol gives NULL';

CREATE FUNCTION stockml.predict(model_name text, x float8[], version integer DEFAULT NULL,
                                alias text DEFAULT NULL)
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_predict_vector_0_2'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.predict(text, float8[], integer, text) IS
'a version''s predicted log return over its horizon for one raw feature vector (x of stockml.features), for batch use; version => N, alias => name or by default production; NULL model_name or x gives NULL';

CREATE FUNCTION stockml.predict_p_up(model_name text, x float8[], version integer DEFAULT NULL,
                                     alias text DEFAULT NULL)
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_predict_p_up'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.predict_p_up(text, float8[], integer, text) IS
'a version''s probability of an up move (target above 0) for one raw feature vector, for batch use beside predict(model_name, x): a classifier''s own; a regressor''s from the conformal distribution of its plain out-of-sample |log errors| (a bare x has no bars to scale by volatility; predict(model_name, symbol) does), NULL without them; version => N, alias => name or by default production';

CREATE FUNCTION stockml.predict_path(model_name text, symbol text, version integer DEFAULT NULL,
                                     alias text DEFAULT NULL)
RETURNS TABLE (symbol text, as_of date, horizon integer, target_day date, predicted_close float8,
               lower float8, upper float8, model_version integer, price_scale text,
               p_up float8)
AS 'MODULE_PATHNAME', 'stockml_predict_path'
LANGUAGE C STABLE PARALLEL SAFE ROWS 5;
COMMENT ON FUNCTION stockml.predict_path(text, text, integer, text) IS
'one row per head of a version trained with horizons (ascending horizon): the close horizon trading days after the symbol''s last stored bar, with its interval, on the price scale of as_of (as predict()); a version of one head gives one row, predict()''s; p_up as predict()''s';

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
    error           text,
    p_up            float8
);
COMMENT ON TYPE stockml.forecast_result IS
'a row of forecast(): the predictions row it recorded (status ok), or the symbol it could not forecast (status failed, error = why; the prediction columns NULL)';

-- The ledger is written here only, as the owner: a row of stockml.predictions is always what
-- predict() answered for that version (stockml_admin reads the ledger but cannot insert or
-- edit a forecast by hand; forecast() calls this for each symbol).
CREATE FUNCTION stockml._record_forecast(model_name text, symbol text, version integer)
RETURNS stockml.forecast_result
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    mid bigint;
    p record;
    r stockml.forecast_result;
BEGIN
    SELECT m.id INTO mid FROM stockml.models m
     WHERE m.name = _record_forecast.model_name AND m.version = _record_forecast.version;
    IF mid IS NULL THEN
        RAISE EXCEPTION 'model "%" has no version %', _record_forecast.model_name, _record_forecast.version
            USING ERRCODE = 'undefined_object';
    END IF;
    SELECT * INTO p FROM stockml.predict(_record_forecast.model_name, _record_forecast.symbol,
                                         version => _record_forecast.version);
    INSERT INTO stockml.predictions AS t (model_id, model_name, model_version, symbol, as_of,
                                         target_day, predicted_close, lower, upper, p_up)
    VALUES (mid, _record_forecast.model_name, _record_forecast.version, p.symbol, p.as_of,
            p.target_day, p.predicted_close, p.lower, p.upper, p.p_up)
    ON CONFLICT ON CONSTRAINT predictions_model_id_symbol_as_of_key DO UPDATE
       SET target_day = excluded.target_day, predicted_close = excluded.predicted_close,
           lower = excluded.lower, upper = excluded.upper, p_up = excluded.p_up, made_at = now()
    RETURNING t.id, t.model_id, t.model_name, t.model_version, t.symbol, t.as_of, t.target_day,
              t.predicted_close, t.lower, t.upper, t.made_at, 'ok', NULL, t.p_up
         INTO r;
    RETURN r;
END $$;
COMMENT ON FUNCTION stockml._record_forecast(text, text, integer) IS
'internal: predict one symbol with one version and record it in stockml.predictions, as the owner (the ledger holds only what predict() answered); forecast() calls it; members of stockml_admin may execute it';
REVOKE ALL ON FUNCTION stockml._record_forecast(text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml._record_forecast(text, text, integer) TO stockml_admin;

CREATE FUNCTION stockml.forecast(model_name text, symbols text[] DEFAULT NULL,
                                 version integer DEFAULT NULL, alias text DEFAULT NULL)
RETURNS SETOF stockml.forecast_result
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    -- the whole batch uses one version, even if the alias moves meanwhile
    v integer := stockml._resolve_version(forecast.model_name, forecast.version, forecast.alias);
    mid bigint;
    s text;
    r stockml.forecast_result;
    msg text;
    failed text[] := '{}';
    n integer := 0;
BEGIN
    IF NOT pg_catalog.has_function_privilege('stockml._record_forecast(text, text, integer)', 'EXECUTE') THEN
        RAISE EXCEPTION 'permission denied to record forecasts of model "%"', forecast.model_name
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'forecast() writes the ledger stockml.predictions: members of stockml_admin may call it; predict() answers without recording.';
    END IF;
    SELECT m.id, coalesce(forecast.symbols, m.symbols) INTO mid, symbols
      FROM stockml.models m WHERE m.name = forecast.model_name AND m.version = v;
    FOR s IN SELECT DISTINCT u FROM unnest(symbols) u ORDER BY 1 LOOP
        n := n + 1;
        BEGIN
            r := stockml._record_forecast(forecast.model_name, coalesce(s, ''), v);
        EXCEPTION WHEN OTHERS THEN
            -- one symbol's failure (no history, a bad last bar) does not stop the others
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
            r := ROW(NULL, mid, forecast.model_name, v, s, NULL, NULL, NULL, NULL, NULL, now(), 'failed', msg, NULL);
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

CREATE FUNCTION stockml.train_check(model_name text, symbols text[], algorithm text DEFAULT 'ridge',
                                    horizon integer DEFAULT 1, params jsonb DEFAULT '{}',
                                    feature_set text DEFAULT 'default', train_end date DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'stockml_train_check'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml.train_check(text, text[], text, integer, jsonb, text, date) IS
'the checks train() makes of its arguments (model name, symbols known, algorithm, horizon, each parameter, feature set, train_end), without training: ERROR naming what is wrong';

-- The checker of job kind train: submit() runs it before queuing, the job before its work.
CREATE FUNCTION stockml.check_job_train(args jsonb)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    key text;
    want text;
BEGIN
    PERFORM stockml.job_check_keys('train', args, ARRAY['model_name', 'symbols', 'algorithm', 'horizon', 'params',
                                                        'feature_set', 'train_end', 'fallback_to_naive']);
    IF jsonb_typeof(args -> 'model_name') IS DISTINCT FROM 'string'
       OR jsonb_typeof(args -> 'symbols') IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'train job args need "model_name", a string, and "symbols", an array of symbols'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example {"model_name": "msft_ridge", "symbols": ["MSFT"]}.';
    END IF;
    FOR key, want IN VALUES ('algorithm', 'string'), ('horizon', 'number'), ('params', 'object'),
                            ('feature_set', 'string'), ('train_end', 'string'), ('fallback_to_naive', 'boolean') LOOP
        IF args ? key AND jsonb_typeof(args -> key) NOT IN (want, 'null') THEN
            RAISE EXCEPTION '"%" of a train job must be a JSON %, not %', key, want, args -> key
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'For example {"model_name": "m", "symbols": ["MSFT"], "algorithm": "ridge", "horizon": 1, '
                             '"params": {"alpha": 1}, "feature_set": "default", "train_end": "2024-06-28"}.';
        END IF;
    END LOOP;
    BEGIN
        PERFORM (args ->> 'horizon')::integer, (args ->> 'train_end')::date;
    EXCEPTION WHEN data_exception THEN
        RAISE EXCEPTION 'train job args: "horizon" must be a whole number and "train_end" a date, not % and %',
                        coalesce(args ->> 'horizon', 'NULL'), coalesce(args ->> 'train_end', 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example "horizon": 5, "train_end": "2024-06-28".';
    END;
    PERFORM stockml.train_check(
        args ->> 'model_name',
        ARRAY(SELECT jsonb_array_elements_text(args -> 'symbols')),
        coalesce(args ->> 'algorithm', 'ridge'),
        coalesce((args ->> 'horizon')::integer, 1),
        coalesce(args -> 'params', '{}'),
        coalesce(args ->> 'feature_set', 'default'),
        (args ->> 'train_end')::date);
END
$$;
COMMENT ON FUNCTION stockml.check_job_train(jsonb) IS
'checker of job kind train (run by submit() and by the job): the keys and their JSON types, then stockml.train_check (unknown symbol, algorithm, parameter, feature set, ...)';

CREATE FUNCTION stockml.run_job_train(job_id bigint, args jsonb)
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
    n record;
BEGIN
    PERFORM stockml.check_job_train(args);
    SELECT * INTO r FROM stockml.train(
        args ->> 'model_name',
        ARRAY(SELECT jsonb_array_elements_text(args -> 'symbols')),
        coalesce(args ->> 'algorithm', 'ridge'),
        coalesce((args ->> 'horizon')::integer, 1),
        coalesce(args -> 'params', '{}'),
        coalesce(args ->> 'feature_set', 'default'),
        (args ->> 'train_end')::date);
    -- no version beats the random walk: let the random walk serve
    IF NOT r.deployed AND (args ->> 'fallback_to_naive')::boolean
       AND (coalesce((r.metrics ->> 'skill')::float8, 0) <= 0
            OR coalesce((r.metrics -> 'gate' ->> 'p_vs_naive')::float8, 1)
               >= coalesce((r.metrics -> 'gate' ->> 'alpha')::float8, 0.05)) THEN
        SELECT * INTO n FROM stockml.train(
            args ->> 'model_name',
            ARRAY(SELECT jsonb_array_elements_text(args -> 'symbols')),
            'naive', coalesce((args ->> 'horizon')::integer, 1), '{"auto_deploy": false}',
            coalesce(args ->> 'feature_set', 'default'), (args ->> 'train_end')::date);
        PERFORM stockml._fallback_to_naive(n.model_name, r.version, n.version);
        RETURN format('%s version %s, skill %s, %s; the naive version %s serves (fallback_to_naive)', r.model_name,
                      r.version, round((r.metrics ->> 'skill')::numeric, 4), r.metrics -> 'gate' ->> 'reason', n.version);
    END IF;
    RETURN format('%s version %s%s, skill %s%s', r.model_name, r.version,
                  CASE WHEN r.deployed THEN ' (deployed to production)' ELSE '' END,
                  round((r.metrics ->> 'skill')::numeric, 4),
                  CASE WHEN r.deployed THEN '' ELSE ', ' || (r.metrics -> 'gate' ->> 'reason') END);
END $$;
COMMENT ON FUNCTION stockml.run_job_train(bigint, jsonb) IS
'job kind train: args {"model_name", "symbols": [...], optional "algorithm", "horizon", "params", "feature_set", "train_end", "fallback_to_naive"}, checked by stockml.check_job_train; returns the version trained and, when not deployed, why; with fallback_to_naive a version that does not beat the random walk makes a naive version serve';

-- stockml_admin runs the model lifecycle: train (also as a job, e.g. a retrain monitor()
-- enqueued), deploy, rollback, forecast.  Removing models (drop_model) stays with the owner.
-- The registry it reads but does not write: train() records runs, versions and metrics,
-- deploy() / rollback() move aliases with their history, as the owner (src/train.c,
-- src/registry.c), so nobody moves an alias without a history row or rewrites a run.
GRANT SELECT ON stockml.experiments, stockml.runs, stockml.run_metrics, stockml.models,
                stockml.model_aliases, stockml.alias_history TO stockml_admin;
GRANT SELECT ON stockml.predictions TO stockml_admin;
-- (0.1.0 granted it USAGE on the run ids; an upgrade revokes it, leaving the same ACL as here)
REVOKE USAGE ON SEQUENCE stockml.runs_id_seq FROM stockml_admin;
GRANT SELECT ON stockml.feature_sets TO stockml_admin;

-- a train job's fallback_to_naive: the automatic move, its rule checked on the runs train()
-- wrote in this transaction (src/registry.c)
CREATE FUNCTION stockml._fallback_to_naive(model_name text, rejected integer, naive integer)
RETURNS stockml.alias_history
AS 'MODULE_PATHNAME', 'stockml_fallback_to_naive'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml._fallback_to_naive(text, integer, integer) IS
'internal, for run_job_train: move production to the naive version trained in this transaction after a version (rejected) trained in it too that does not beat the random walk (action auto, reason: fallback_to_naive and the rejected version''s gate reason, set_by: the caller); an ERROR otherwise';
REVOKE EXECUTE ON FUNCTION stockml._fallback_to_naive(text, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml._fallback_to_naive(text, integer, integer) TO stockml_admin;
