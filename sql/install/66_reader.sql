-- stockml_reader: what Grafana logs in as (through a LOGIN role that is a member).  It may
-- read the Grafana views and call predict(), nothing else: no table, no model blob.  Roles belong to the
-- cluster, not the database, so the role is created only when missing and outlives
-- DROP EXTENSION (drop it by hand once no database uses it).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'stockml_reader') THEN
        CREATE ROLE stockml_reader NOLOGIN;
        COMMENT ON ROLE stockml_reader IS 'stockml: SELECT on the Grafana views of schema stockml and predict(), nothing else';
    END IF;
END
$$;

GRANT USAGE ON SCHEMA stockml TO stockml_reader;
GRANT SELECT ON stockml.price_history, stockml.feature_drift, stockml.drift_share,
                stockml.model_performance, stockml.ingest_status, stockml.retrain_history,
                stockml.job_history, stockml.forecast_history, stockml.model_history
   TO stockml_reader;

-- predict() reads models, aliases and prices, which the reader may not: src/predict.c does
-- those reads as the extension's owner (search_path pinned, security-restricted; it only
-- reads, and its SQL is parameterised) -- not SECURITY DEFINER, whose per-call SET of
-- search_path would cost batch predict(model, x) several times a bare scan.  EXECUTE is
-- for the reader and stockml_admin rather than for PUBLIC.
REVOKE EXECUTE ON FUNCTION stockml.predict(text, text, integer, text),
                          stockml.predict(text, float8[], integer, text),
                          stockml.predict_path(text, text, integer, text),
                          stockml.predict_p_up(text, float8[], integer, text),
                          stockml._resolve_version(text, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml.predict(text, text, integer, text),
                          stockml.predict(text, float8[], integer, text),
                          stockml.predict_path(text, text, integer, text),
                          stockml.predict_p_up(text, float8[], integer, text),
                          stockml._resolve_version(text, integer, text)
   TO stockml_reader, stockml_admin;
-- total_return() reads prices as the owner too (the forecast views call it for the reader)
REVOKE EXECUTE ON FUNCTION stockml.total_return(text, date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml.total_return(text, date, date) TO stockml_reader, stockml_admin;
-- feature_importance() reads the version as the owner (SECURITY DEFINER, read-only)
REVOKE EXECUTE ON FUNCTION stockml.feature_importance(text, integer, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml.feature_importance(text, integer, text, integer) TO stockml_reader, stockml_admin;

-- stockml_admin runs monitor() and manages the policies; monitor() reads the model, its
-- aliases and its forecasts
GRANT SELECT ON stockml.models, stockml.model_aliases, stockml.predictions TO stockml_admin;
GRANT SELECT, INSERT ON stockml.drift_metrics, stockml.performance_metrics TO stockml_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON stockml.retrain_policies TO stockml_admin;
GRANT SELECT, INSERT, UPDATE ON stockml.retrain_events TO stockml_admin;
GRANT SELECT ON stockml.price_history, stockml.feature_drift, stockml.drift_share,
                stockml.model_performance, stockml.ingest_status, stockml.retrain_history,
                stockml.job_history, stockml.forecast_history, stockml.model_history
   TO stockml_admin;
