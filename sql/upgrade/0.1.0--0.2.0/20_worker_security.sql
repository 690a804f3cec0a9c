-- Worker and job-queue security (issue 16): a running job names its worker by pid and
-- backend start time (no advisory lock anyone could take); pipeline_step(NULL) is an ERROR
-- and a step waits only for the previous step's run of its own tick.

ALTER TABLE stockml.jobs ADD COLUMN worker_started_at timestamptz;
COMMENT ON COLUMN stockml.jobs.worker_pid IS 'pid of the worker running the job (NULL when not running)';
COMMENT ON COLUMN stockml.jobs.worker_started_at IS 'backend start of worker_pid: a running job whose pid and start time match no backend lost its worker (pids are reused)';

CREATE OR REPLACE FUNCTION stockml.wait_for_cron_job(job text, since timestamptz, timeout interval)
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

CREATE OR REPLACE FUNCTION stockml.pipeline_step(step text, models text[] DEFAULT NULL,
                                      wait_for_previous boolean DEFAULT false,
                                      timeout interval DEFAULT '30 minutes')
RETURNS text
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
    failed    text[] := '{}';
BEGIN
    IF step IS NULL OR step NOT IN ('refresh', 'forecast', 'monitor') THEN
        RAISE EXCEPTION 'unknown pipeline step %', coalesce('"' || step || '"', 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The steps are refresh, forecast and monitor.';
    END IF;
    IF wait_for_previous IS NULL OR timeout IS NULL OR timeout <= '0' OR timeout > '1 day' THEN
        RAISE EXCEPTION 'pipeline_step needs wait_for_previous true or false and a timeout between 0 and 1 day'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('wait_for_previous = %s, timeout = %s',
                                  coalesce(wait_for_previous::text, 'NULL'), coalesce(timeout::text, 'NULL')),
                  HINT = 'Leave them out for the defaults (false, 30 minutes).';
    END IF;
    previous := CASE step WHEN 'forecast' THEN 'stockml-refresh' WHEN 'monitor' THEN 'stockml-forecast' END;
    IF wait_for_previous AND previous IS NOT NULL AND EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_cron')
       AND NOT stockml.wait_for_cron_job(previous, started, timeout) THEN
        RAISE NOTICE 'stockml pipeline: % did not finish this run; % goes on with the data stored', previous, step;
    END IF;

    IF step = 'refresh' THEN
        SELECT count(*) INTO n FROM stockml.refresh();
        RETURN format('refresh: %s symbols', n);
    END IF;
    names := coalesce(models, ARRAY(SELECT DISTINCT a.name FROM stockml.model_aliases a
                                     WHERE a.alias = 'production' ORDER BY 1));
    -- one model's failure (a WARNING in the server log) does not stop the others
    n := 0;
    FOREACH m IN ARRAY names LOOP
        BEGIN
            IF step = 'forecast' THEN
                PERFORM stockml.forecast(m);
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
    RETURN format('%s: %s of %s models%s', step, n, cardinality(names),
                  CASE WHEN cardinality(failed) > 0 THEN '; failed: ' || array_to_string(failed, '; ') ELSE '' END);
END
$$;
COMMENT ON FUNCTION stockml.pipeline_step(text, text[], boolean, interval) IS
'one step of the pipeline (refresh, forecast or monitor; models NULL = every model with a production version); with wait_for_previous (as the pg_cron jobs call it) forecast and monitor first wait for the previous step''s pg_cron run of the same tick';

-- the one PL/pgSQL function that ran under its caller's search_path
CREATE OR REPLACE FUNCTION stockml.alias_history_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE' OR EXISTS (SELECT FROM stockml.models m WHERE m.name = OLD.name) THEN
        RAISE EXCEPTION 'stockml.alias_history is append-only'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Move an alias with stockml.deploy() or stockml.rollback(); stockml.drop_model() removes a model with its history.';
    END IF;
    RETURN OLD;
END $$;
