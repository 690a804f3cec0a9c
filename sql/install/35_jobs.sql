-- Job queue and background worker (src/jobs.c, src/worker.c).

CREATE TABLE stockml.jobs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text NOT NULL CONSTRAINT jobs_kind_format CHECK (kind ~ '^[a-z][a-z0-9_]{0,39}$'),
    args          jsonb NOT NULL DEFAULT '{}',
    status        text NOT NULL DEFAULT 'queued'
                  CONSTRAINT jobs_status CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    attempts      integer NOT NULL DEFAULT 0,
    max_attempts  integer NOT NULL DEFAULT 3 CONSTRAINT jobs_max_attempts CHECK (max_attempts >= 1),
    progress      float8 CONSTRAINT jobs_progress CHECK (progress >= 0 AND progress <= 1),
    submitted_at  timestamptz NOT NULL DEFAULT now(),
    submitted_by  regrole NOT NULL DEFAULT current_user::regrole,
    run_after     timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz,
    worker_pid    integer,
    result        text,
    error         text,
    worker_started_at timestamptz
);
CREATE INDEX jobs_queued_idx ON stockml.jobs (run_after, id) WHERE status = 'queued';
COMMENT ON TABLE stockml.jobs IS 'the queue the background worker consumes: a job of kind K runs stockml.run_job_K(id, args) in its own transaction';
COMMENT ON COLUMN stockml.jobs.status IS 'queued (waiting, also between retries), running, done, failed (after max_attempts), cancelled';
COMMENT ON COLUMN stockml.jobs.attempts IS 'runs started so far, the current one included';
COMMENT ON COLUMN stockml.jobs.progress IS 'fraction done when the job last finished; live value while running in stockml.job_status';
COMMENT ON COLUMN stockml.jobs.submitted_by IS 'role the job runs as';
COMMENT ON COLUMN stockml.jobs.worker_pid IS 'pid of the worker running the job (NULL when not running)';
COMMENT ON COLUMN stockml.jobs.worker_started_at IS 'backend start of worker_pid: a running job whose pid and start time match no backend lost its worker (pids are reused)';
COMMENT ON COLUMN stockml.jobs.run_after IS 'not started before this time (retry backoff)';
COMMENT ON COLUMN stockml.jobs.result IS 'what run_job_K returned, as text';
COMMENT ON COLUMN stockml.jobs.error IS 'error of the last failed attempt (kept when a retry succeeds); every attempt''s in stockml.job_attempts';
COMMENT ON INDEX stockml.jobs_queued_idx IS 'serves the worker''s claim of the next due job';
-- the queue's history is the user's data (pg_dump keeps it, and the ids continue)
SELECT pg_catalog.pg_extension_config_dump('stockml.jobs', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.jobs', 'id')::regclass, '');

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

CREATE FUNCTION stockml.submit(kind text, args jsonb DEFAULT '{}')
RETURNS bigint
AS 'MODULE_PATHNAME', 'stockml_submit'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml.submit(text, jsonb) IS
'queue a job of a kind K for which stockml.run_job_K(bigint, jsonb) exists, after its checker stockml.check_job_K(jsonb) (when there is one) accepted the args; wakes the worker at commit (WARNING when no worker serves this database); returns the job id';

CREATE FUNCTION stockml.cancel_job(id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stockml_cancel_job'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml.cancel_job(bigint) IS
'cancel a queued job, or interrupt a running one (marked cancelled, not retried); false if it had finished';

CREATE FUNCTION stockml.running_jobs(OUT job_id bigint, OUT pid integer, OUT progress float8,
                                     OUT started_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'stockml_running_jobs'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION stockml.running_jobs() IS
'jobs the workers of this server run now, with their live progress (from shared memory)';

CREATE FUNCTION stockml.report_job_progress(fraction float8)
RETURNS void
AS 'MODULE_PATHNAME', 'stockml_report_job_progress'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION stockml.report_job_progress(float8) IS
'report the running job''s progress (0..1), visible at once in stockml.job_status; no-op outside a job';

CREATE VIEW stockml.job_status AS
SELECT j.id, j.kind, j.args, j.status, j.attempts, j.max_attempts,
       coalesce(r.progress, j.progress) AS progress,
       j.submitted_at, j.submitted_by, j.run_after, j.started_at, j.finished_at,
       coalesce(r.pid, j.worker_pid) AS worker_pid, j.result, j.error
  FROM stockml.jobs j
  LEFT JOIN stockml.running_jobs() r ON r.job_id = j.id;
COMMENT ON VIEW stockml.job_status IS 'stockml.jobs with the live progress of running jobs';

-- read-only: a job runs as its submitted_by, which only submit() may set
GRANT SELECT ON stockml.jobs TO stockml_admin;
GRANT SELECT ON stockml.job_status TO stockml_admin;
GRANT SELECT ON stockml.job_attempts TO stockml_admin;
