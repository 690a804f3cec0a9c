-- Worker and job-queue security (issue 16): a running job names its worker by pid and
-- backend start time (no advisory lock anyone could take); pipeline_step(NULL) is an ERROR
-- and a step waits only for the previous step's run of its own tick (pipeline_step() is
-- defined once, in its final form, by 90_jobs.sql).

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
