-- Job queue: submit, the worker running jobs in this database (stockml.database is
-- contrib_regression in the test cluster), retries, cancel, live progress, privileges.
CREATE FUNCTION pg_temp.wait_job(job bigint, wanted text[], seconds int DEFAULT 60)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE s text;
BEGIN
    FOR i IN 1 .. seconds * 20 LOOP
        SELECT status INTO s FROM stockml.job_status WHERE id = job;
        IF s = ANY (wanted) THEN RETURN s; END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN 'timed out waiting, status ' || s;
END $$;

CREATE FUNCTION stockml.run_job_regress_echo(job_id bigint, args jsonb) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stockml.report_job_progress(0.5);
    RETURN 'job ' || (job_id > 0) || ' says ' || (args->>'say') || ' as ' || current_user;
END $$;
CREATE FUNCTION stockml.run_job_regress_fail(job_id bigint, args jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'regress_fail always fails' USING DETAIL = 'on purpose';
END $$;
CREATE FUNCTION stockml.run_job_regress_sleep(job_id bigint, args jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stockml.report_job_progress(0.25);
    PERFORM pg_sleep(60);
END $$;

-- unknown or malformed kinds are refused, naming the kinds that exist
\set VERBOSITY terse
SELECT stockml.submit('nonesuch', '{}');
SELECT stockml.submit('Bad Kind!', '{}');
SELECT stockml.submit(NULL, '{}');
\set VERBOSITY default
DO $$
BEGIN
    PERFORM stockml.submit('nonesuch');
EXCEPTION WHEN invalid_parameter_value THEN
    DECLARE d text;
    BEGIN
        GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
        RAISE NOTICE 'detail lists regress_echo: %, regress_fail: %',
            d LIKE '%regress_echo%', d LIKE '%regress_fail%';
    END;
END $$;
SELECT count(*) AS jobs_after_refusals FROM stockml.jobs WHERE kind LIKE 'regress%' OR kind = 'nonesuch';

-- the worker runs a job: result, progress 1, one attempt
SELECT stockml.submit('regress_echo', '{"say": "hello"}') AS echo_id \gset
SELECT pg_temp.wait_job(:echo_id, '{done,failed}');
SELECT kind, args, status, attempts, progress, result, error, worker_pid,
       started_at >= submitted_at AND finished_at >= started_at AS times_ordered
  FROM stockml.jobs WHERE id = :echo_id;

-- a failing job is retried with backoff, then failed with the last error
SET stockml.job_max_attempts = 2;
SELECT stockml.submit('regress_fail') AS fail_id \gset
RESET stockml.job_max_attempts;
SELECT pg_temp.wait_job(:fail_id, '{failed,done}');
SELECT status, attempts, max_attempts, error, finished_at IS NOT NULL AS finished
  FROM stockml.jobs WHERE id = :fail_id;

-- a queued job is cancelled at once (here before the worker can see it)
BEGIN;
SELECT stockml.submit('regress_echo', '{"say": "never"}') AS queued_id \gset
SELECT stockml.cancel_job(:queued_id);
COMMIT;
SELECT status, attempts, result, error FROM stockml.jobs WHERE id = :queued_id;
SET client_min_messages = warning;   -- the NOTICE names the job id
SELECT stockml.cancel_job(:queued_id) AS cancel_again;   -- already finished: false
RESET client_min_messages;
SELECT stockml.cancel_job(-1);

-- a running job shows live progress to other sessions and can be cancelled
SELECT stockml.submit('regress_sleep') AS sleep_id \gset
SELECT pg_temp.wait_job(:sleep_id, '{running}');
DO $$
BEGIN
    FOR i IN 1 .. 400 LOOP
        EXIT WHEN (SELECT progress FROM stockml.job_status WHERE id = currval(pg_get_serial_sequence('stockml.jobs', 'id'))) = 0.25;
        PERFORM pg_sleep(0.05);
    END LOOP;
END $$;
SELECT status, progress, worker_pid IS NOT NULL AS has_worker,
       (SELECT count(*) FROM stockml.running_jobs() r WHERE r.job_id = s.id) AS in_shared_memory,
       (SELECT progress FROM stockml.jobs j WHERE j.id = s.id) AS committed_progress
  FROM stockml.job_status s WHERE id = :sleep_id;
SELECT stockml.cancel_job(:sleep_id);
SELECT pg_temp.wait_job(:sleep_id, '{cancelled,failed,done,queued}');
SELECT status, attempts, error FROM stockml.jobs WHERE id = :sleep_id;

-- the refresh kind: the worker fetches from the mock server, as the submitter
SELECT stockml.submit('refresh', '{"symbols": ["NOEVT", "NOPE"]}') AS refresh_id \gset
SELECT pg_temp.wait_job(:refresh_id, '{done,failed}');
SELECT status, attempts, result, error FROM stockml.jobs WHERE id = :refresh_id;
SELECT symbol, status, rows_inserted FROM stockml.ingest_log WHERE symbol IN ('NOEVT', 'NOPE') ORDER BY symbol;
SELECT count(*) FROM stockml.prices WHERE symbol = 'NOEVT';
-- every symbol failed: the job fails (and would be retried), its attempt kept
SET stockml.job_max_attempts = 1;
SELECT stockml.submit('refresh', '{"symbols": ["NOPE"]}') AS refresh_id \gset
SELECT pg_temp.wait_job(:refresh_id, '{done,failed}');
SELECT status, attempts, result, error FROM stockml.jobs WHERE id = :refresh_id;
SELECT attempt, status, finished_at >= started_at AS ended, worker_pid > 0 AS has_pid, error
  FROM stockml.job_attempts WHERE job_id = :refresh_id;
-- bad args are refused by submit(), through the kind's checker: nothing is queued
SELECT stockml.submit('refresh', '{"symbols": "NOEVT"}');
SELECT count(*) FROM stockml.jobs WHERE args -> 'symbols' = '"NOEVT"';
RESET stockml.job_max_attempts;
DELETE FROM stockml.symbols WHERE symbol = 'NOEVT';
DELETE FROM stockml.ingest_log WHERE symbol IN ('NOEVT', 'NOPE');
DELETE FROM stockml.jobs WHERE kind = 'refresh';
-- their attempts went with them
SELECT count(*) FROM stockml.job_attempts a WHERE NOT EXISTS (SELECT FROM stockml.jobs j WHERE j.id = a.job_id);

-- only superusers and stockml_admin members submit; only they or the submitter cancel
CREATE ROLE stockml_regress_user;
GRANT USAGE ON SCHEMA stockml TO stockml_regress_user;
SET ROLE stockml_regress_user;
SELECT stockml.submit('regress_echo');
RESET ROLE;
-- a member submits; the job runs as that member, who cannot forge submitted_by
GRANT stockml_admin TO stockml_regress_user;
SET ROLE stockml_regress_user;
SELECT stockml.submit('regress_echo', '{"say": "hi"}') AS member_id \gset
INSERT INTO stockml.jobs (kind, submitted_by) VALUES ('regress_echo', 'postgres');
UPDATE stockml.jobs SET submitted_by = 'postgres' WHERE id = :member_id;
RESET ROLE;
SELECT pg_temp.wait_job(:member_id, '{done,failed}');
SELECT status, submitted_by, result FROM stockml.jobs WHERE id = :member_id;
-- a member cannot run code with the owner's privileges by shadowing the
-- types submit() and cancel_job() use with domains in pg_temp
SET ROLE stockml_regress_user;
CREATE FUNCTION pg_temp.escalate(v pg_catalog.oid) RETURNS bool LANGUAGE plpgsql AS
$$BEGIN EXECUTE 'ALTER ROLE stockml_regress_user SUPERUSER'; RETURN true; END$$;
CREATE DOMAIN pg_temp.oid AS pg_catalog.oid CHECK (pg_temp.escalate(VALUE));
CREATE DOMAIN pg_temp.regrole AS pg_catalog.oid CHECK (pg_temp.escalate(VALUE));
SELECT stockml.submit('regress_echo') AS shadow_id \gset
SELECT stockml.cancel_job(:shadow_id);
DROP DOMAIN pg_temp.oid;
DROP DOMAIN pg_temp.regrole;
DROP FUNCTION pg_temp.escalate(pg_catalog.oid);
RESET ROLE;
SELECT rolsuper FROM pg_roles WHERE rolname = 'stockml_regress_user';
REVOKE stockml_admin FROM stockml_regress_user;
-- and a non-member may neither cancel nor probe another's job
SELECT stockml.submit('regress_echo') AS superuser_job \gset
SET ROLE stockml_regress_user;
\set VERBOSITY sqlstate
SELECT stockml.cancel_job(:superuser_job);
\set VERBOSITY default
SELECT stockml.cancel_job(-1);
RESET ROLE;

-- clean up
DELETE FROM stockml.jobs WHERE kind LIKE 'regress%';
DROP FUNCTION stockml.run_job_regress_echo(bigint, jsonb);
DROP FUNCTION stockml.run_job_regress_fail(bigint, jsonb);
DROP FUNCTION stockml.run_job_regress_sleep(bigint, jsonb);
REVOKE USAGE ON SCHEMA stockml FROM stockml_regress_user;
DROP ROLE stockml_regress_user;
