-- The forecast ledger is written by forecast() only, as the owner: stockml_admin loses INSERT and
-- UPDATE on stockml.predictions (0.1.0 granted them), forecast() records each symbol through
-- stockml._record_forecast (SECURITY DEFINER, executable by stockml_admin), which stores what
-- predict() answered.  After 99_logistic.sql (p_up).  See sql/install/52_train_predict.sql;
-- pgTAP 73_ledger_writes.
REVOKE INSERT, UPDATE ON stockml.predictions FROM stockml_admin;

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

CREATE OR REPLACE FUNCTION stockml.forecast(model_name text, symbols text[] DEFAULT NULL,
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
