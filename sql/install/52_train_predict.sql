-- Training, prediction and forecasts (src/train.c, src/predict.c).

CREATE FUNCTION stockml.train(model_name text, symbols text[], algorithm text DEFAULT 'ridge',
                              horizon integer DEFAULT 1, params jsonb DEFAULT '{}',
                              feature_set text DEFAULT 'default', train_end date DEFAULT NULL,
                              OUT model_name text, OUT version integer, OUT metrics jsonb,
                              OUT deployed boolean)
RETURNS record
AS 'MODULE_PATHNAME', 'stockml_train'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml.train(text, text[], text, integer, jsonb, text, date) IS
'train a new version: walk-forward folds (expanding window, gap = horizon), keep every out-of-sample prediction in validation_predictions, refit on all rows, register it with its run and metrics; production moves to it only through the deploy gate (metrics -> ''gate''): skill above 0 and a one-sided Diebold-Mariano p below the policy''s deploy_alpha against the random walk and the production version on the same rows';

CREATE FUNCTION stockml.predict(model_name text, symbol text,
                                OUT symbol text, OUT as_of date, OUT target_day date,
                                OUT predicted_close float8, OUT lower float8, OUT upper float8,
                                OUT model_version integer, OUT price_scale text)
RETURNS record
AS 'MODULE_PATHNAME', 'stockml_predict_symbol'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.predict(text, text) IS
'the production version''s forecast of the close horizon trading days (the symbol''s calendar) after the symbol''s last stored bar, from features computed with the spec stored in the model on total-return-adjusted prices; predicted_close, lower and upper are on the price scale of as_of''s bar as quoted (price_scale = ''as_of'')';

CREATE FUNCTION stockml.predict(model_name text, x float8[])
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_predict_vector'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.predict(text, float8[]) IS
'the production version''s predicted log return for one raw feature vector (x of stockml.features), for batch use';

CREATE FUNCTION stockml.forecast(model_name text, symbols text[] DEFAULT NULL)
RETURNS SETOF stockml.predictions
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s text;
    p record;
BEGIN
    IF symbols IS NULL THEN
        SELECT m.symbols INTO symbols
          FROM stockml.model_aliases a JOIN stockml.models m ON m.name = a.name AND m.version = a.version
         WHERE a.name = forecast.model_name AND a.alias = 'production';
    END IF;
    FOR s IN SELECT DISTINCT u FROM unnest(coalesce(symbols, ARRAY[NULL::text])) u ORDER BY 1 LOOP
        SELECT * INTO p FROM stockml.predict(forecast.model_name, coalesce(s, ''));
        RETURN QUERY
        INSERT INTO stockml.predictions AS t (model_id, model_name, model_version, symbol, as_of,
                                             target_day, predicted_close, lower, upper)
        SELECT m.id, m.name, m.version, p.symbol, p.as_of, p.target_day, p.predicted_close, p.lower, p.upper
          FROM stockml.models m WHERE m.name = forecast.model_name AND m.version = p.model_version
        ON CONFLICT ON CONSTRAINT predictions_model_id_symbol_as_of_key DO UPDATE
           SET target_day = excluded.target_day, predicted_close = excluded.predicted_close,
               lower = excluded.lower, upper = excluded.upper, made_at = now()
        RETURNING t.*;
    END LOOP;
END $$;
COMMENT ON FUNCTION stockml.forecast(text, text[]) IS
'predict each symbol (default: the production model''s own) and record it in stockml.predictions; a repeat on the same as_of day replaces the row';

CREATE FUNCTION stockml.run_job_train(job_id bigint, args jsonb)
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
    n record;
    unknown text;
BEGIN
    SELECT string_agg(k, ', ') INTO unknown FROM jsonb_object_keys(args) k
     WHERE k NOT IN ('model_name', 'symbols', 'algorithm', 'horizon', 'params', 'feature_set', 'train_end',
                     'fallback_to_naive');
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown key in train job args: %', unknown
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Keys: model_name, symbols, algorithm, horizon, params, feature_set, train_end, fallback_to_naive.';
    END IF;
    IF jsonb_typeof(args -> 'symbols') IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'train job args need "symbols", an array of symbols'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example {"model_name": "msft_ridge", "symbols": ["MSFT"]}.';
    END IF;
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
        PERFORM stockml._set_alias(n.model_name, n.version, 'production', 'auto',
                                   format('fallback_to_naive: version %s %s', r.version, r.metrics -> 'gate' ->> 'reason'));
        RETURN format('%s version %s, skill %s, %s; the naive version %s serves (fallback_to_naive)', r.model_name,
                      r.version, round((r.metrics ->> 'skill')::numeric, 4), r.metrics -> 'gate' ->> 'reason', n.version);
    END IF;
    RETURN format('%s version %s%s, skill %s%s', r.model_name, r.version,
                  CASE WHEN r.deployed THEN ' (deployed to production)' ELSE '' END,
                  round((r.metrics ->> 'skill')::numeric, 4),
                  CASE WHEN r.deployed THEN '' ELSE ', ' || (r.metrics -> 'gate' ->> 'reason') END);
END $$;
COMMENT ON FUNCTION stockml.run_job_train(bigint, jsonb) IS
'job kind train: args {"model_name", "symbols": [...], optional "algorithm", "horizon", "params", "feature_set", "train_end", "fallback_to_naive"}; returns the version trained and, when not deployed, why; with fallback_to_naive a version that does not beat the random walk makes a naive version serve';

-- stockml_admin runs the model lifecycle: train (also as a job, e.g. a retrain monitor()
-- enqueued), deploy, rollback, forecast.  Removing models (drop_model) stays with the owner.
GRANT SELECT, INSERT ON stockml.experiments, stockml.run_metrics, stockml.models,
                        stockml.alias_history TO stockml_admin;
GRANT SELECT, INSERT, UPDATE ON stockml.runs, stockml.model_aliases, stockml.predictions TO stockml_admin;
GRANT USAGE ON SEQUENCE stockml.runs_id_seq TO stockml_admin;
GRANT SELECT ON stockml.feature_sets TO stockml_admin;
