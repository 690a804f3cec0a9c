-- issue 15: the deploy gate (validation_predictions, dm_test, compare, _deploy_gate and the
-- policy's deploy_alpha); see sql/install/53_gate.sql and 62_monitor.sql.
ALTER TABLE stockml.retrain_policies
    ADD COLUMN deploy_alpha float8 NOT NULL DEFAULT 0.05
        CONSTRAINT retrain_policies_deploy_alpha CHECK (deploy_alpha > 0 AND deploy_alpha < 1);
COMMENT ON COLUMN stockml.retrain_policies.deploy_alpha IS 'train() moves production to a new version only when a one-sided Diebold-Mariano test on the shared validation rows gives p < deploy_alpha against the random walk and against the production version';
CREATE TABLE stockml.validation_predictions (
    model_id      bigint NOT NULL REFERENCES stockml.models (id) ON DELETE CASCADE,
    model_name    text NOT NULL,
    model_version integer NOT NULL,
    fold          integer NOT NULL,
    symbol        text NOT NULL,
    day           date NOT NULL,
    target_day    date NOT NULL,
    close         float8 NOT NULL,
    y             float8 NOT NULL,
    yhat          float8 NOT NULL,
    naive         float8 NOT NULL DEFAULT 0,
    PRIMARY KEY (model_id, symbol, day)
);
COMMENT ON TABLE stockml.validation_predictions IS 'every out-of-sample walk-forward prediction train() made, one row per version, symbol and day: the rows the deploy gate and compare() score';
COMMENT ON COLUMN stockml.validation_predictions.fold IS 'the walk-forward test block (1 = the earliest)';
COMMENT ON COLUMN stockml.validation_predictions.day IS 'the day of the features (the forecast''s as_of)';
COMMENT ON COLUMN stockml.validation_predictions.target_day IS 'the day of the bar the target ends at (horizon bars of the symbol later)';
COMMENT ON COLUMN stockml.validation_predictions.close IS 'the close on day: the predicted close is close * exp(yhat), the realized one close * exp(y)';
COMMENT ON COLUMN stockml.validation_predictions.y IS 'the realized log return ln(close at target_day / close at day)';
COMMENT ON COLUMN stockml.validation_predictions.yhat IS 'the version''s predicted log return, from a fit on the rows before the fold';
COMMENT ON COLUMN stockml.validation_predictions.naive IS 'the random walk''s predicted log return (0)';
COMMENT ON INDEX stockml.validation_predictions_pkey IS 'one prediction per version, symbol and day; serves joining two versions on the same rows';
SELECT pg_catalog.pg_extension_config_dump('stockml.validation_predictions', '');
GRANT SELECT, INSERT ON stockml.validation_predictions TO stockml_admin;

CREATE FUNCTION stockml.dm_test(d float8[], horizon integer DEFAULT 1,
                                OUT n integer, OUT mean float8, OUT statistic float8,
                                OUT hac_lag integer, OUT p_value float8)
RETURNS record
AS 'MODULE_PATHNAME', 'stockml_dm_test'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.dm_test(float8[], integer) IS
'Diebold-Mariano test of a loss differential series d (loss of A - loss of B, one value per day in time order) with a Newey-West variance (Bartlett kernel, lag max(horizon - 1, floor(4 (n/100)^(2/9)))); p_value is one-sided, small when B''s loss is lower';

COMMENT ON FUNCTION stockml.train(text, text[], text, integer, jsonb, text, date) IS
'train a new version: walk-forward folds (expanding window, gap = horizon), keep every out-of-sample prediction in validation_predictions, refit on all rows, register it with its run and metrics; production moves to it only through the deploy gate (metrics -> ''gate''): skill above 0 and a one-sided Diebold-Mariano p below the policy''s deploy_alpha against the random walk and the production version on the same rows';
COMMENT ON COLUMN stockml.models.metrics IS 'walk-forward out-of-sample metrics: mae, rmse, mape, directional_accuracy, the same prefixed naive_, skill = 1 - mae/naive_mae, n_test, folds; gate: the deploy decision with its reason and p-values';
COMMENT ON COLUMN stockml.alias_history.action IS 'deploy (by hand), auto (train() through the deploy gate) or rollback';

-- issue 15: a retrain loop that cannot storm (sql/install/62_monitor.sql, 52_train_predict.sql)
ALTER TABLE stockml.retrain_policies
    ADD COLUMN cooldown integer NOT NULL DEFAULT 5
        CONSTRAINT retrain_policies_cooldown CHECK (cooldown BETWEEN 0 AND 10000),
    ADD COLUMN skill_alpha float8 NOT NULL DEFAULT 0.05
        CONSTRAINT retrain_policies_skill_alpha CHECK (skill_alpha > 0 AND skill_alpha < 1),
    ADD COLUMN fallback_to_naive boolean NOT NULL DEFAULT false;
ALTER TABLE stockml.retrain_events ADD COLUMN outcome text;
COMMENT ON COLUMN stockml.retrain_policies.min_skill IS 'retrain when the realized skill (1 - MAE/MAE_naive) of the monitored version''s own forecasts over the window is significantly below this (skill_alpha); NULL: never for skill';
COMMENT ON COLUMN stockml.retrain_policies.min_forecasts IS 'realized forecasts of the monitored version itself the window must hold before min_skill is applied';
COMMENT ON COLUMN stockml.retrain_policies.cooldown IS 'trading days (bars of the model''s symbols) between two retrains of the model; doubled for each retrain since the last deployed one that did not deploy';
COMMENT ON COLUMN stockml.retrain_policies.skill_alpha IS 'the skill rule fires only when a one-sided Diebold-Mariano test of the version''s own forecasts against min_skill gives p < skill_alpha';
COMMENT ON COLUMN stockml.retrain_policies.fallback_to_naive IS 'true: when a retrain the skill rule asked for does not deploy, a naive (random walk) version is trained and serves';
COMMENT ON COLUMN stockml.retrain_events.outcome IS 'why it ended so: the deploy gate''s reason, or the job''s error';
DROP FUNCTION stockml.forecast_accuracy(text, date, date);
-- the new forecast_accuracy(text, date, date, integer) is created by 60_adjusted.sql
-- (its final body reads realized closes through total_return)

CREATE OR REPLACE FUNCTION stockml.resolve_retrain_events(model_name text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    resolved integer;
BEGIN
    WITH ended AS (
        SELECT e.id, j.status AS job_status, j.error AS job_error,
               (SELECT min(m.version) FROM stockml.models m
                 WHERE m.name = e.model_name
                   AND m.version > coalesce((e.details ->> 'latest_version')::integer, e.model_version)) AS new_version
          FROM stockml.retrain_events e
          JOIN stockml.jobs j ON j.id = e.job_id
         WHERE e.status = 'queued'
           AND (resolve_retrain_events.model_name IS NULL OR e.model_name = resolve_retrain_events.model_name)
           AND j.status IN ('done', 'failed', 'cancelled'))
    UPDATE stockml.retrain_events e
       SET status = CASE
                      WHEN x.job_status <> 'done' OR x.new_version IS NULL THEN 'failed'
                      WHEN EXISTS (SELECT FROM stockml.model_aliases a
                                    WHERE a.name = e.model_name AND a.alias = 'production'
                                      AND a.version = x.new_version) THEN 'deployed'
                      ELSE 'not_deployed' END,
           new_version = x.new_version,
           resolved_at = now(),
           outcome = CASE
                       WHEN x.job_status <> 'done' THEN coalesce(x.job_error, 'the train job was ' || x.job_status)
                       WHEN x.new_version IS NULL THEN 'the train job ended without a new version'
                       ELSE (SELECT coalesce(mo.metrics -> 'gate' ->> 'reason', 'trained')
                                    || CASE WHEN a.version > x.new_version
                                            THEN format('; fallback_to_naive: version %s serves', a.version)
                                            ELSE '' END
                               FROM stockml.models mo
                               LEFT JOIN stockml.model_aliases a ON a.name = mo.name AND a.alias = 'production'
                              WHERE mo.name = e.model_name AND mo.version = x.new_version) END
      FROM ended x
     WHERE e.id = x.id;
    GET DIAGNOSTICS resolved = ROW_COUNT;
    RETURN resolved;
END
$$;
COMMENT ON FUNCTION stockml.resolve_retrain_events(text) IS
'mark retrain_events whose train job ended as deployed, not_deployed (trained, did not pass the deploy gate) or failed, with the outcome''s reason; a trigger on stockml.jobs calls it when a train job ends';

CREATE FUNCTION stockml.jobs_resolve_retrains() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM stockml.resolve_retrain_events(NEW.args ->> 'model_name');
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION stockml.jobs_resolve_retrains() IS
'trigger: when a train job ends (done, failed, cancelled), resolve the retrain events of its model';
CREATE TRIGGER jobs_resolve_retrains AFTER UPDATE OF status ON stockml.jobs
    FOR EACH ROW WHEN (NEW.kind = 'train' AND NEW.status IN ('done', 'failed', 'cancelled')
                       AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION stockml.jobs_resolve_retrains();

-- compare() and _deploy_gate() are defined once, in their final forms, by 99_logistic.sql;
-- monitor() itself (calibrated drift, the version's own forecasts, the cooldown) by
-- 99b_citus_pipeline.sql

-- run_job_train() is defined once, in its final form, by 90_jobs.sql

-- issue 15: metrics that mean one thing
CREATE FUNCTION stockml.direction_hit(predicted_move float8, realized_move float8)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stockml_direction_hit'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.direction_hit(float8, float8) IS
'whether a predicted move has the sign of the realized move; NULL when either is 0 (no direction: left out of directional accuracy, so the naive forecast has none); train() counts with the same C function';

COMMENT ON COLUMN stockml.performance_metrics.directional_accuracy IS 'share of forecasts whose move from the as_of close has the sign of the realized move, among those where both moved (stockml.direction_hit; NULL for the naive forecast, which never moves)';
