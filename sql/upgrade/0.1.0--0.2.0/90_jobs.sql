-- Jobs (issue 12, item 3): submit() runs the job kind's checker (stockml.check_job_K, which
-- the job runs too), every attempt is kept in stockml.job_attempts, a WARNING when no worker
-- serves the database (src/jobs.c); named pipelines whose failed steps end with an ERROR
-- after committing what worked (stockml.run_pipeline_step, src/pipeline.c).
-- The same as sql/install/31_ingest_http.sql, 35_jobs.sql, 51_registry.sql,
-- 52_train_predict.sql, 62_monitor.sql and 68_pipeline.sql.

COMMENT ON COLUMN stockml.jobs.error IS 'error of the last failed attempt (kept when a retry succeeds); every attempt''s in stockml.job_attempts';

-- Every attempt of every job, written by the workers: the error of each failed one, not only
-- the last.  No foreign key to stockml.jobs: pg_restore loads extension tables in name order,
-- job_attempts before jobs; a trigger deletes a job's attempts with it.
CREATE TABLE stockml.job_attempts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id      bigint NOT NULL,
    attempt     integer NOT NULL CONSTRAINT job_attempts_attempt CHECK (attempt >= 1),
    status      text NOT NULL DEFAULT 'running'
                CONSTRAINT job_attempts_status CHECK (status IN ('running', 'done', 'failed', 'cancelled', 'interrupted')),
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    worker_pid  integer,
    error       text,
    CONSTRAINT job_attempts_job_attempt UNIQUE (job_id, attempt)
);
COMMENT ON TABLE stockml.job_attempts IS 'every run of a job (stockml.jobs.attempts of them): when it started and ended, its worker and its error';
COMMENT ON COLUMN stockml.job_attempts.attempt IS '1 for the first run, 2 for the first retry, ...';
COMMENT ON COLUMN stockml.job_attempts.status IS 'running, done, failed (retried if attempts remain), cancelled, interrupted (its worker stopped: crash, restart, pg_terminate_backend)';
COMMENT ON COLUMN stockml.job_attempts.error IS 'the attempt''s error, NULL when it succeeded';
COMMENT ON INDEX stockml.job_attempts_job_attempt IS 'one row per attempt of a job; serves the worker''s update of its attempt and the delete of a job''s attempts';
SELECT pg_catalog.pg_extension_config_dump('stockml.job_attempts', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.job_attempts', 'id')::regclass, '');
-- a job's attempts go with it (what a foreign key would do; job_attempts_job_attempt serves it)
CREATE FUNCTION stockml.jobs_delete_attempts() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM stockml.job_attempts a WHERE a.job_id = OLD.id;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION stockml.jobs_delete_attempts() IS
'trigger: delete the attempts of a deleted job';
CREATE TRIGGER jobs_delete_attempts AFTER DELETE ON stockml.jobs
    FOR EACH ROW EXECUTE FUNCTION stockml.jobs_delete_attempts();

-- ERROR unless args is a JSON object whose keys are all in allowed: the first check of every
-- job kind's checker (stockml.check_job_K).
CREATE FUNCTION stockml.job_check_keys(kind text, args jsonb, allowed text[])
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    unknown text;
BEGIN
    IF jsonb_typeof(args) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'the args of a % job must be a JSON object, not %', kind, coalesce(jsonb_typeof(args), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Keys: ' || array_to_string(allowed, ', ') || '.';
    END IF;
    SELECT string_agg(k, ', ' ORDER BY k) INTO unknown FROM jsonb_object_keys(args) k WHERE k <> ALL (allowed);
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown key in % job args: %', kind, unknown
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Keys: ' || array_to_string(allowed, ', ') || '.';
    END IF;
END
$$;
COMMENT ON FUNCTION stockml.job_check_keys(text, jsonb, text[]) IS
'internal: ERROR unless a job''s args are a JSON object with only the allowed keys';

-- The symbols a job's args name ("symbols": [...]), NULL when they name none; ERROR unless an
-- array of strings.
CREATE FUNCTION stockml.job_symbols(kind text, args jsonb)
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF jsonb_typeof(args -> 'symbols') IS NULL OR jsonb_typeof(args -> 'symbols') = 'null' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(args -> 'symbols') <> 'array'
       OR EXISTS (SELECT FROM jsonb_array_elements(args -> 'symbols') e WHERE jsonb_typeof(e) <> 'string') THEN
        RAISE EXCEPTION '"symbols" of a % job must be an array of symbols, not %', kind, args -> 'symbols'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('For example: stockml.submit(%L, ''{"symbols": ["MSFT"]}'').', kind);
    END IF;
    RETURN ARRAY(SELECT jsonb_array_elements_text(args -> 'symbols'));
END
$$;
COMMENT ON FUNCTION stockml.job_symbols(text, jsonb) IS
'internal: the symbols of a job''s args ("symbols", an array of strings), NULL when absent; ERROR on anything else';


COMMENT ON FUNCTION stockml.submit(text, jsonb) IS
'queue a job of a kind K for which stockml.run_job_K(bigint, jsonb) exists, after its checker stockml.check_job_K(jsonb) (when there is one) accepted the args; wakes the worker at commit (WARNING when no worker serves this database); returns the job id';

GRANT SELECT ON stockml.job_attempts TO stockml_admin;

CREATE OR REPLACE FUNCTION stockml.check_symbols(symbols text[])
RETURNS void
AS 'MODULE_PATHNAME', 'stockml_check_symbols'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.check_symbols(text[]) IS
'internal: ERROR naming the first symbol that is NULL or not 1 to 32 characters among A-Z a-z 0-9 . ^ = _ -';

-- The checker of job kind refresh: submit() runs it before queuing, the job before its work.
CREATE OR REPLACE FUNCTION stockml.check_job_refresh(args jsonb)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM stockml.job_check_keys('refresh', args, ARRAY['symbols']);
    PERFORM stockml.check_symbols(stockml.job_symbols('refresh', args));
END
$$;
COMMENT ON FUNCTION stockml.check_job_refresh(jsonb) IS
'checker of job kind refresh (run by submit() and by the job): args {"symbols": [...]} or {}; ERROR naming a bad key or symbol';

CREATE OR REPLACE FUNCTION stockml.run_job_refresh(job_id bigint, args jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    symbols text[];
    summary text;
    total bigint;
    failed bigint;
    first_error text;
BEGIN
    PERFORM stockml.check_job_refresh(args);
    symbols := stockml.job_symbols('refresh', args);
    SELECT format('%s symbols: %s ok, %s partial, %s failed; %s rows inserted, %s updated',
                  count(*), count(*) FILTER (WHERE status = 'ok'),
                  count(*) FILTER (WHERE status = 'partial'), count(*) FILTER (WHERE status = 'failed'),
                  coalesce(sum(rows_inserted), 0), coalesce(sum(rows_updated), 0)),
           count(*), count(*) FILTER (WHERE status = 'failed'),
           min(symbol || ': ' || error) FILTER (WHERE status = 'failed')
      INTO summary, total, failed, first_error
      FROM stockml.refresh(symbols);
    -- nothing worked (the network is down?): fail, so that the job is retried
    IF total > 0 AND failed = total THEN
        RAISE EXCEPTION 'refresh failed for all % symbols', total USING DETAIL = first_error;
    END IF;
    RETURN summary;
END
$$;
COMMENT ON FUNCTION stockml.run_job_refresh(bigint, jsonb) IS
'job kind refresh: args {"symbols": [...]} (optional; default the active watchlist), checked by stockml.check_job_refresh; returns a summary; fails (and is retried) only when every symbol failed';

CREATE OR REPLACE FUNCTION stockml.train_check(model_name text, symbols text[], algorithm text DEFAULT 'ridge',
                                    horizon integer DEFAULT 1, params jsonb DEFAULT '{}',
                                    feature_set text DEFAULT 'default', train_end date DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'stockml_train_check'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml.train_check(text, text[], text, integer, jsonb, text, date) IS
'the checks train() makes of its arguments (model name, symbols known, algorithm, horizon, each parameter, feature set, train_end), without training: ERROR naming what is wrong';

-- The checker of job kind train: submit() runs it before queuing, the job before its work.
CREATE OR REPLACE FUNCTION stockml.check_job_train(args jsonb)
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

CREATE OR REPLACE FUNCTION stockml.run_job_train(job_id bigint, args jsonb)
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

-- The models a monitor or forecast job names: {"model_name": ..} or {"models": [..]}, else
-- every model with a production version.
CREATE OR REPLACE FUNCTION stockml.job_models(kind text, args jsonb, allowed text[])
RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM stockml.job_check_keys(kind, args, allowed);
    IF args ? 'models' AND (jsonb_typeof(args -> 'models') <> 'array'
       OR EXISTS (SELECT FROM jsonb_array_elements(args -> 'models') e WHERE jsonb_typeof(e) <> 'string')) THEN
        RAISE EXCEPTION '"models" of a % job must be an array of model names', kind
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('For example: stockml.submit(%L, ''{"models": ["msft_ridge"]}'').', kind);
    END IF;
    IF args ? 'model_name' AND jsonb_typeof(args -> 'model_name') <> 'string' THEN
        RAISE EXCEPTION '"model_name" of a % job must be a string', kind
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('For example: stockml.submit(%L, ''{"model_name": "msft_ridge"}'').', kind);
    END IF;
    IF args ? 'model_name' THEN
        RETURN ARRAY[args ->> 'model_name'];
    ELSIF args ? 'models' THEN
        RETURN ARRAY(SELECT jsonb_array_elements_text(args -> 'models'));
    END IF;
    RETURN ARRAY(SELECT DISTINCT a.name FROM stockml.model_aliases a WHERE a.alias = 'production' ORDER BY 1);
END
$$;
COMMENT ON FUNCTION stockml.job_models(text, jsonb, text[]) IS
'internal: the models a monitor or forecast job names ("model_name" or "models"; default every model with a production version), refusing unknown keys';

-- ERROR naming the models that do not exist (or, with production, have no production version)
CREATE OR REPLACE FUNCTION stockml.job_check_models(kind text, names text[], production boolean)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing text;
BEGIN
    SELECT string_agg(quote_literal(n), ', ' ORDER BY n) INTO missing FROM unnest(names) n
     WHERE NOT EXISTS (SELECT FROM stockml.models m WHERE m.name = n);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'the % job names no model: % does not exist', kind, missing
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT name, version FROM stockml.model_versions lists the models.';
    END IF;
    IF production THEN
        SELECT string_agg(quote_literal(n), ', ' ORDER BY n) INTO missing FROM unnest(names) n
         WHERE NOT EXISTS (SELECT FROM stockml.model_aliases a WHERE a.name = n AND a.alias = 'production');
        IF missing IS NOT NULL THEN
            RAISE EXCEPTION 'the % job names a model without a production version: %', kind, missing
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'stockml.deploy(name, version) sets one.';
        END IF;
    END IF;
END
$$;
COMMENT ON FUNCTION stockml.job_check_models(text, text[], boolean) IS
'internal: ERROR naming the models of a job that do not exist (or, with production, have no production version)';

-- The checker of job kind monitor: submit() runs it before queuing, the job before its work.
CREATE OR REPLACE FUNCTION stockml.check_job_monitor(args jsonb)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    days integer;
BEGIN
    PERFORM stockml.job_check_models('monitor', stockml.job_models('monitor', args, ARRAY['model_name', 'models', 'window_days']),
                                     false);
    IF args ? 'window_days' AND jsonb_typeof(args -> 'window_days') <> 'null' THEN
        BEGIN
            days := (args ->> 'window_days')::integer;
        EXCEPTION WHEN data_exception THEN
            days := NULL;
        END;
        IF jsonb_typeof(args -> 'window_days') <> 'number' OR days IS NULL OR days NOT BETWEEN 2 AND 3660 THEN
            RAISE EXCEPTION '"window_days" of a monitor job must be a whole number from 2 to 3660, not %', args -> 'window_days'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Leave it out for the retrain policy''s window (stockml.retrain_policies.window_days).';
        END IF;
    END IF;
END
$$;
COMMENT ON FUNCTION stockml.check_job_monitor(jsonb) IS
'checker of job kind monitor (run by submit() and by the job): keys, models that exist, window_days';

CREATE OR REPLACE FUNCTION stockml.run_job_monitor(job_id bigint, args jsonb)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    names text[];
    r     record;
    parts text[] := '{}';
BEGIN
    PERFORM stockml.check_job_monitor(args);
    names := stockml.job_models('monitor', args, ARRAY['model_name', 'models', 'window_days']);
    FOR i IN 1 .. coalesce(cardinality(names), 0) LOOP
        SELECT * INTO r FROM stockml.monitor(names[i], (args ->> 'window_days')::integer);
        parts := parts || format('%s v%s: %s of %s features drifted, skill %s%s', r.model, r.version,
                                 r.drifted_features, r.features, coalesce(round(r.skill::numeric, 3)::text, 'n/a'),
                                 CASE WHEN r.retrain_job IS NOT NULL THEN format(', retrain job %s', r.retrain_job) ELSE '' END);
        PERFORM stockml.report_job_progress(i::float8 / cardinality(names));
    END LOOP;
    RETURN CASE WHEN cardinality(parts) = 0 THEN 'no model to monitor' ELSE array_to_string(parts, '; ') END;
END
$$;
COMMENT ON FUNCTION stockml.run_job_monitor(bigint, jsonb) IS
'job kind monitor: args {"model_name": ..} or {"models": [..]} (default every model with a production version), optional "window_days", checked by stockml.check_job_monitor; returns a summary per model';

-- The checker of job kind forecast: submit() runs it before queuing, the job before its work.
CREATE OR REPLACE FUNCTION stockml.check_job_forecast(args jsonb)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing text;
BEGIN
    PERFORM stockml.job_check_models('forecast', stockml.job_models('forecast', args, ARRAY['model_name', 'models', 'symbols']),
                                     true);
    SELECT string_agg(s, ', ' ORDER BY s) INTO missing
      FROM (SELECT DISTINCT s FROM unnest(stockml.job_symbols('forecast', args)) s
             WHERE NOT EXISTS (SELECT FROM stockml.symbols y WHERE y.symbol = s) ORDER BY s LIMIT 10) u;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'unknown symbol in forecast job args: %', missing
            USING ERRCODE = 'undefined_object',
                  HINT = 'Load its prices first (stockml.ingest_yahoo, ingest_stooq or ingest_csv), or leave "symbols" out for the model''s own.';
    END IF;
END
$$;
COMMENT ON FUNCTION stockml.check_job_forecast(jsonb) IS
'checker of job kind forecast (run by submit() and by the job): keys, models with a production version, symbols that exist';

CREATE OR REPLACE FUNCTION stockml.run_job_forecast(job_id bigint, args jsonb)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    names   text[];
    symbols text[];
    n       bigint;
    nfailed bigint;
    parts   text[] := '{}';
BEGIN
    PERFORM stockml.check_job_forecast(args);
    names := stockml.job_models('forecast', args, ARRAY['model_name', 'models', 'symbols']);
    symbols := stockml.job_symbols('forecast', args);
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
'job kind forecast: args {"model_name": ..} or {"models": [..]} (default every model with a production version), optional "symbols", checked by stockml.check_job_forecast; returns the forecasts made per model';

-- The pg_cron job name of a pipeline's step; ERROR on a malformed pipeline name.
CREATE OR REPLACE FUNCTION stockml.pipeline_job_name(pipeline text, step text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pipeline IS NULL OR pipeline !~ '^[a-z0-9][a-z0-9_]{0,39}$' THEN
        RAISE EXCEPTION 'invalid pipeline name %', coalesce(quote_literal(pipeline), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A pipeline name is 1 to 40 characters among a-z 0-9 _, starting with a letter or digit.',
                  HINT = 'For example ''nightly'' or ''us_close''.';
    END IF;
    IF step IS NULL OR step NOT IN ('refresh', 'forecast', 'monitor') THEN
        RAISE EXCEPTION 'unknown pipeline step %', coalesce('"' || step || '"', 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The steps are refresh, forecast and monitor.';
    END IF;
    RETURN CASE WHEN pipeline = 'default' THEN 'stockml-' || step ELSE 'stockml-' || pipeline || '-' || step END;
END
$$;
COMMENT ON FUNCTION stockml.pipeline_job_name(text, text) IS
'the pg_cron job name of a pipeline''s step: stockml-<pipeline>-<step>, stockml-<step> for the pipeline "default"';

-- One step's work; failed lists what did not work ('SYMBOL: error', 'model SYMBOL (error)' for a
-- symbol forecast() could not forecast, 'model (error)').
CREATE OR REPLACE FUNCTION stockml._pipeline_step(pipeline text, step text, models text[], wait_for_previous boolean,
                                       timeout interval, OUT summary text, OUT failed text[])
RETURNS record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    started   timestamptz := clock_timestamp();
    previous  text;
    names     text[];
    n         integer;
    m         text;
    msg       text;
BEGIN
    PERFORM stockml.pipeline_job_name(pipeline, step);
    IF wait_for_previous IS NULL OR timeout IS NULL OR timeout <= '0' OR timeout > '1 day' THEN
        RAISE EXCEPTION 'pipeline_step needs wait_for_previous true or false and a timeout between 0 and 1 day'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('wait_for_previous = %s, timeout = %s',
                                  coalesce(wait_for_previous::text, 'NULL'), coalesce(timeout::text, 'NULL')),
                  HINT = 'Leave them out for the defaults (false, 30 minutes).';
    END IF;
    failed := '{}';
    previous := CASE step WHEN 'forecast' THEN stockml.pipeline_job_name(pipeline, 'refresh')
                          WHEN 'monitor' THEN stockml.pipeline_job_name(pipeline, 'forecast') END;
    IF wait_for_previous AND previous IS NOT NULL AND EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_cron')
       AND NOT stockml.wait_for_cron_job(previous, started, timeout) THEN
        RAISE NOTICE 'stockml pipeline: % did not finish this run; % goes on with the data stored', previous, step;
    END IF;

    IF step = 'refresh' THEN
        SELECT count(*), coalesce(array_agg(r.symbol || ': ' || coalesce(r.error, 'failed') ORDER BY r.symbol)
                                  FILTER (WHERE r.status = 'failed'), '{}')
          INTO n, failed
          FROM stockml.refresh() r;
        summary := format('refresh: %s symbols, %s failed', n, cardinality(failed));
        RETURN;
    END IF;
    names := coalesce(models, ARRAY(SELECT DISTINCT a.name FROM stockml.model_aliases a
                                     WHERE a.alias = 'production' ORDER BY 1));
    -- one model's failure (a WARNING in the server log) does not stop the others; forecast()
    -- records the symbols it can and returns the others with their error
    n := 0;
    FOREACH m IN ARRAY names LOOP
        BEGIN
            IF step = 'forecast' THEN
                failed := failed || ARRAY(SELECT format('%s %s (%s)', m, f.symbol, f.error)
                                            FROM stockml.forecast(m) f WHERE f.status <> 'ok' ORDER BY f.symbol);
            ELSE
                PERFORM stockml.monitor(m);
            END IF;
            n := n + 1;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
            failed := failed || format('%s (%s)', m, msg);
            RAISE WARNING 'stockml pipeline: % of model "%" failed: %', step, m, msg;
        END;
    END LOOP;
    summary := format('%s: %s of %s models', step, n, cardinality(names));
END
$$;
COMMENT ON FUNCTION stockml._pipeline_step(text, text, text[], boolean, interval) IS
'internal: the work of one pipeline step (refresh every active symbol, or forecast/monitor each model); failed names what did not work';

CREATE PROCEDURE stockml.run_pipeline_step(pipeline text, step text, models text[] DEFAULT NULL,
                                           wait_for_previous boolean DEFAULT false,
                                           timeout interval DEFAULT '30 minutes')
AS 'MODULE_PATHNAME', 'stockml_run_pipeline_step'
LANGUAGE C;
COMMENT ON PROCEDURE stockml.run_pipeline_step(text, text, text[], boolean, interval) IS
'one step of a pipeline, as its pg_cron job calls it: does the work, commits what worked, then ends with an ERROR naming the symbols or models that failed (so cron.job_run_details says failed); with wait_for_previous forecast and monitor first wait for the previous step''s pg_cron run of the same tick';

CREATE OR REPLACE FUNCTION stockml.pipeline_step(step text, models text[] DEFAULT NULL,
                                      wait_for_previous boolean DEFAULT false,
                                      timeout interval DEFAULT '30 minutes')
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    SELECT * INTO r FROM stockml._pipeline_step('default', step, models, wait_for_previous, timeout);
    IF cardinality(r.failed) > 0 THEN
        RAISE WARNING 'stockml pipeline: % failed for %: %', step, cardinality(r.failed), array_to_string(r.failed, '; ')
            USING HINT = 'CALL stockml.run_pipeline_step(pipeline, step, ...) ends with an ERROR instead, after committing what worked.';
    END IF;
    RETURN r.summary || CASE WHEN cardinality(r.failed) > 0 THEN '; failed: ' || array_to_string(r.failed, '; ') ELSE '' END;
END
$$;
COMMENT ON FUNCTION stockml.pipeline_step(text, text[], boolean, interval) IS
'one step of the default pipeline (refresh, forecast or monitor; models NULL = every model with a production version), returning a summary (what failed too, with a WARNING); the pg_cron jobs call stockml.run_pipeline_step instead, which ends with an ERROR when something failed';

-- The caller's pipelines, read from their pg_cron jobs: the forecast job's command names
-- the models.
CREATE OR REPLACE FUNCTION stockml.pipelines()
RETURNS TABLE (name text, schedule text, models text[], jobs text[])
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM stockml.require_pg_cron();
    RETURN QUERY
    SELECT p.name, min(j.schedule),
           min(substring(j.command FROM '''(\{[^'']*\})''::text\[\]'))
               FILTER (WHERE j.jobname::text LIKE '%forecast')::text[],
           array_agg(j.jobname::text ORDER BY array_position(ARRAY['refresh', 'forecast', 'monitor'], p.step))
      FROM cron.job j,
           LATERAL (SELECT coalesce(substring(j.jobname FROM '^stockml-(.+)-(refresh|forecast|monitor)$'), 'default') AS name,
                           substring(j.jobname FROM '(refresh|forecast|monitor)$') AS step) p
     WHERE j.username = current_user AND j.jobname ~ '^stockml-([a-z0-9][a-z0-9_]{0,39}-)?(refresh|forecast|monitor)$'
     GROUP BY p.name
     ORDER BY p.name;
END
$$;
COMMENT ON FUNCTION stockml.pipelines() IS
'the caller''s pipelines: name, schedule, models (NULL = every model with a production version) and their pg_cron job names';

CREATE OR REPLACE FUNCTION stockml.schedule_pipeline(name text, cron text, models text[] DEFAULT NULL)
RETURNS TABLE (jobid bigint, jobname text, schedule text, command text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    missing text;
    step text;
    names text[];
    models_sql text := CASE WHEN models IS NULL THEN 'NULL' ELSE quote_literal(models::text) || '::text[]' END;
BEGIN
    PERFORM stockml.require_pg_cron();
    names := ARRAY[stockml.pipeline_job_name(name, 'refresh'), stockml.pipeline_job_name(name, 'forecast'),
                   stockml.pipeline_job_name(name, 'monitor')];
    IF cron IS NULL THEN
        RAISE EXCEPTION 'cron schedule must not be NULL'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use a cron expression such as ''30 22 * * 1-5'' (22:30 GMT on weekdays: pg_cron 1.4 reads schedules in GMT).';
    END IF;
    IF models IS NOT NULL THEN
        SELECT string_agg(m, ', ') INTO missing
          FROM unnest(models) m WHERE NOT EXISTS (SELECT FROM stockml.models x WHERE x.name = m);
    END IF;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'no model named %', missing
            USING ERRCODE = 'undefined_object',
                  HINT = 'Train the models first, or pass NULL to forecast and monitor every model with a production version.';
    END IF;
    -- cron.schedule replaces a job of the same name and user, so a second call updates
    FOREACH step IN ARRAY ARRAY['refresh', 'forecast', 'monitor'] LOOP
        BEGIN
            PERFORM cron.schedule(stockml.pipeline_job_name(name, step), cron,
                                  format('CALL stockml.run_pipeline_step(%L, %L%s)', name, step,
                                         CASE WHEN step = 'refresh' THEN ''
                                              ELSE format(', %s, wait_for_previous => true', models_sql) END));
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS missing = MESSAGE_TEXT;
            IF missing NOT LIKE 'invalid schedule%' THEN
                RAISE;
            END IF;
            RAISE EXCEPTION 'pg_cron refused the schedule %: %', quote_literal(cron), missing
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Five fields: minute hour day-of-month month day-of-week, e.g. ''30 22 * * 1-5'' '
                             '(22:30 GMT on weekdays: pg_cron 1.4 reads schedules in GMT).';
        END;
    END LOOP;
    RETURN QUERY
    SELECT j.jobid, j.jobname::text, j.schedule, j.command
      FROM cron.job j
     WHERE j.jobname = ANY (names) AND j.username = current_user
     ORDER BY array_position(names, j.jobname::text);
END
$$;
COMMENT ON FUNCTION stockml.schedule_pipeline(text, text, text[]) IS
'schedule the pipeline name (refresh -> forecast -> monitor) as pg_cron jobs stockml-<name>-refresh, -forecast, -monitor (idempotent: a second call updates them; other pipelines stay); models NULL = every model with a production version';

CREATE OR REPLACE FUNCTION stockml.schedule_pipeline(cron text DEFAULT '30 22 * * 1-5', models text[] DEFAULT NULL)
RETURNS TABLE (jobid bigint, jobname text, schedule text, command text)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT * FROM stockml.schedule_pipeline('default', cron, models)
$$;
COMMENT ON FUNCTION stockml.schedule_pipeline(text, text[]) IS
'schedule the pipeline "default" as pg_cron jobs stockml-refresh, stockml-forecast, stockml-monitor (idempotent: a second call updates them); models NULL = every model with a production version';

CREATE OR REPLACE FUNCTION stockml.unschedule_pipeline(name text)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer := 0;
    j text;
    names text[];
BEGIN
    PERFORM stockml.require_pg_cron();
    names := ARRAY[stockml.pipeline_job_name(name, 'refresh'), stockml.pipeline_job_name(name, 'forecast'),
                   stockml.pipeline_job_name(name, 'monitor')];
    FOR j IN SELECT c.jobname FROM cron.job c WHERE c.jobname = ANY (names) AND c.username = current_user LOOP
        PERFORM cron.unschedule(j);
        n := n + 1;
    END LOOP;
    IF n = 0 AND name <> 'default' THEN
        RAISE EXCEPTION 'no pipeline named "%"', name
            USING ERRCODE = 'undefined_object',
                  HINT = coalesce('Your pipelines: ' || (SELECT string_agg(p.name, ', ') FROM stockml.pipelines() p) || '.',
                                  'You have no pipeline: stockml.schedule_pipeline(name, cron, models) makes one.');
    END IF;
    RETURN n;
END
$$;
COMMENT ON FUNCTION stockml.unschedule_pipeline(text) IS
'remove the pg_cron jobs of the caller''s pipeline name (an ERROR if it has none); returns how many were removed';

CREATE OR REPLACE FUNCTION stockml.unschedule_pipeline()
RETURNS integer
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT stockml.unschedule_pipeline('default')
$$;
COMMENT ON FUNCTION stockml.unschedule_pipeline() IS
'remove the pg_cron jobs of the pipeline "default"; returns how many were removed (0 when it was not scheduled)';

CREATE OR REPLACE FUNCTION stockml.drop_model(model_name text)
RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n integer;
    job record;
    named text[];
BEGIN
    IF model_name IS NULL THEN
        RAISE EXCEPTION 'model_name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM stockml._lock_model_name(model_name);
    -- a name is known by its versions, or by its runs when none trained
    IF NOT EXISTS (SELECT FROM stockml.models m WHERE m.name = model_name)
       AND NOT EXISTS (SELECT FROM stockml.experiments e WHERE e.name = model_name) THEN
        RAISE EXCEPTION 'model "%" does not exist', model_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT name, version FROM stockml.model_versions lists the models.';
    END IF;
    DELETE FROM stockml.model_aliases a WHERE a.name = model_name;
    DELETE FROM stockml.models m WHERE m.name = model_name;
    GET DIAGNOSTICS n = ROW_COUNT;
    DELETE FROM stockml.alias_history h WHERE h.name = model_name;
    DELETE FROM stockml.experiments e WHERE e.name = model_name;
    -- the caller's pipelines (stockml.schedule_pipeline) naming the model: each scheduled
    -- again without it, or removed when it named no other model
    IF pg_catalog.to_regclass('cron.job') IS NOT NULL THEN
        FOR job IN SELECT p.name, p.schedule, p.models FROM stockml.pipelines() p
                    WHERE model_name = ANY (p.models) ORDER BY p.name LOOP
            named := array_remove(job.models, model_name);
            IF cardinality(named) = 0 THEN
                PERFORM stockml.unschedule_pipeline(job.name);
                RAISE NOTICE 'unscheduled pipeline "%": it named only model "%"', job.name, model_name;
            ELSE
                PERFORM stockml.schedule_pipeline(job.name, job.schedule, named);
                RAISE NOTICE 'pipeline "%" no longer names model "%"; it keeps %', job.name, model_name,
                             array_to_string(named, ', ');
            END IF;
        END LOOP;
    END IF;
    RETURN n;
END $$;
COMMENT ON FUNCTION stockml.drop_model(text) IS
'remove every version of a model with its aliases, alias history, runs and forecasts, and take it out of each of the caller''s pipelines naming it; returns the number of versions removed (0 for a name with only failed runs); an unknown name is an ERROR';
