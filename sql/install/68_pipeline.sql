-- The daily pipelines on pg_cron: refresh -> forecast -> monitor, as three named pg_cron
-- jobs on the same schedule.  pg_cron starts them together; each later step waits for
-- the earlier step's run of the same tick (cron.job_run_details) before it starts.  A
-- database holds several pipelines, each with its own name, schedule and models; the job
-- names come from the pipeline's name (stockml-<name>-<step>; stockml-<step> for the
-- pipeline "default").  A step that failed for some symbols or models stores what
-- worked and ends with an ERROR (CALL stockml.run_pipeline_step, src/pipeline.c), so
-- cron.job_run_details says failed.

-- ERROR with the next step to take unless pg_cron is preloaded and installed here.
CREATE FUNCTION stockml.require_pg_cron()
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    preloaded boolean;
    cron_db   text;
BEGIN
    -- both settings are hidden from roles without pg_read_all_settings: then the
    -- extension check below and pg_cron's own errors have to do
    BEGIN
        preloaded := current_setting('shared_preload_libraries') ~ '(^|[\s,])"?pg_cron"?($|[\s,])';
        cron_db := current_setting('cron.database_name', true);
    EXCEPTION WHEN insufficient_privilege THEN
        preloaded := true;
        cron_db := current_database();
    END;
    IF NOT preloaded THEN
        RAISE EXCEPTION 'pg_cron is not loaded by this server'
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'The pipeline is scheduled by pg_cron, which runs only from shared_preload_libraries.',
                  HINT = format('Install pg_cron (Debian: postgresql-15-cron), set shared_preload_libraries = ''pg_cron'' '
                                '(with stockml if you preload it) and cron.database_name = %L in postgresql.conf, '
                                'restart the server, then CREATE EXTENSION pg_cron.', current_database());
    END IF;
    IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_cron') THEN
        IF cron_db IS DISTINCT FROM current_database() THEN
            RAISE EXCEPTION 'pg_cron runs its jobs in database "%", not in "%"', cron_db, current_database()
                USING ERRCODE = 'feature_not_supported',
                      HINT = format('Set cron.database_name = %L and restart, or schedule from database %L '
                                    'with stockml installed there.', current_database(), cron_db);
        END IF;
        RAISE EXCEPTION 'extension "pg_cron" is not installed in this database'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'CREATE EXTENSION pg_cron;';
    END IF;
    IF NOT has_schema_privilege('cron', 'USAGE') THEN
        RAISE EXCEPTION 'role "%" may not schedule pg_cron jobs', current_user
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'The jobs run as the role that schedules them.',
                  HINT = format('As a superuser: GRANT USAGE ON SCHEMA cron TO %I;', current_user);
    END IF;
END
$$;
COMMENT ON FUNCTION stockml.require_pg_cron() IS
'internal: ERROR with a hint unless pg_cron is preloaded and installed in this database';

-- Wait until the run of pg_cron job `job` that belongs to the tick started at `since` has
-- ended; false when it never started or did not end in time.  Only runs that started within
-- `grace` of `since` belong to the tick: a run of an earlier or later tick (a minute apart
-- at the most frequent schedule) is never waited for.
CREATE FUNCTION stockml.wait_for_cron_job(job text, since timestamptz, timeout interval)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id     bigint;
    state  text;
    -- pg_cron starts the jobs of one tick within a second or two of each other
    grace  interval := '20 seconds';
    limit_ timestamptz := since + least(coalesce(timeout, '30 minutes'), '1 day');
BEGIN
    SELECT j.jobid INTO id FROM cron.job j WHERE j.jobname = job AND j.username = current_user;
    IF id IS NULL THEN
        RETURN true;                -- not scheduled: nothing to wait for
    END IF;
    LOOP
        SELECT d.status INTO state
          FROM cron.job_run_details d
         WHERE d.jobid = id AND d.start_time BETWEEN since - grace AND since + grace
         ORDER BY abs(extract(epoch FROM d.start_time - since)) LIMIT 1;
        IF state IN ('succeeded', 'failed') THEN
            RETURN true;
        END IF;
        IF state IS NULL AND clock_timestamp() > since + grace THEN
            RETURN false;           -- the earlier step did not run this tick
        END IF;
        IF clock_timestamp() > limit_ THEN
            RETURN false;
        END IF;
        PERFORM pg_sleep(0.5);
    END LOOP;
END
$$;
COMMENT ON FUNCTION stockml.wait_for_cron_job(text, timestamptz, interval) IS
'internal: wait for the run of a pg_cron job that started within 20 s of since to end, at most timeout (NULL: 30 minutes, capped at a day); false: it did not run or timed out';

-- The pg_cron job name of a pipeline's step; ERROR on a malformed pipeline name.
CREATE FUNCTION stockml.pipeline_job_name(pipeline text, step text)
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
CREATE FUNCTION stockml._pipeline_step(pipeline text, step text, models text[], wait_for_previous boolean,
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

CREATE FUNCTION stockml.pipeline_step(step text, models text[] DEFAULT NULL,
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
CREATE FUNCTION stockml.pipelines()
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

CREATE FUNCTION stockml.schedule_pipeline(name text, cron text, models text[] DEFAULT NULL)
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

CREATE FUNCTION stockml.schedule_pipeline(cron text DEFAULT '30 22 * * 1-5', models text[] DEFAULT NULL)
RETURNS TABLE (jobid bigint, jobname text, schedule text, command text)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT * FROM stockml.schedule_pipeline('default', cron, models)
$$;
COMMENT ON FUNCTION stockml.schedule_pipeline(text, text[]) IS
'schedule the pipeline "default" as pg_cron jobs stockml-refresh, stockml-forecast, stockml-monitor (idempotent: a second call updates them); models NULL = every model with a production version';

CREATE FUNCTION stockml.unschedule_pipeline(name text)
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

CREATE FUNCTION stockml.unschedule_pipeline()
RETURNS integer
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT stockml.unschedule_pipeline('default')
$$;
COMMENT ON FUNCTION stockml.unschedule_pipeline() IS
'remove the pg_cron jobs of the pipeline "default"; returns how many were removed (0 when it was not scheduled)';
