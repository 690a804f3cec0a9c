-- HTTP ingest and job queue: the documented signatures, the role, which settings
-- only a superuser may change, and that the jobs table refuses what it should.
BEGIN;
SELECT plan(24);

SELECT has_role('stockml_admin');
SELECT function_returns('stockml', 'ingest_yahoo', ARRAY['text', 'date', 'date'], 'stockml.ingest_log');
SELECT function_returns('stockml', 'ingest_stooq', ARRAY['text', 'date', 'date'], 'stockml.ingest_log');
SELECT function_returns('stockml', 'refresh', ARRAY['text[]'], 'setof stockml.ingest_log');
SELECT function_returns('stockml', 'submit', ARRAY['text', 'jsonb'], 'bigint');
SELECT function_returns('stockml', 'cancel_job', ARRAY['bigint'], 'boolean');
SELECT has_function('stockml', 'run_job_refresh', ARRAY['bigint', 'jsonb']);
SELECT has_function('stockml', 'report_job_progress', ARRAY['double precision']);
SELECT col_is_pk('stockml', 'corporate_actions', ARRAY['symbol', 'day', 'kind'], 'corporate actions keyed by (symbol, day, kind)');
SELECT has_view('stockml', 'job_status', 'view stockml.job_status');
SELECT columns_are('stockml', 'jobs', ARRAY['id', 'kind', 'args', 'status', 'attempts', 'max_attempts',
    'progress', 'submitted_at', 'submitted_by', 'run_after', 'started_at', 'finished_at',
    'worker_pid', 'result', 'error', 'worker_started_at']);

-- where stockml may connect, and how much it may read, is for superusers to say
SELECT is(context, 'superuser', name || ' is superuser-only') FROM pg_settings
 WHERE name IN ('stockml.allowed_hosts', 'stockml.yahoo_url', 'stockml.stooq_url',
                'stockml.max_response_bytes', 'stockml.job_retry_delay') ORDER BY name;
SELECT is(context, 'postmaster', 'stockml.database needs a restart') FROM pg_settings
 WHERE name = 'stockml.database';
SELECT is(boot_val, 'query1.finance.yahoo.com,query2.finance.yahoo.com,stooq.com,stooq.pl',
          'allowed_hosts defaults to Yahoo and Stooq') FROM pg_settings WHERE name = 'stockml.allowed_hosts';

-- the admin role may write prices, not drop them
SELECT ok(has_table_privilege('stockml_admin', 'stockml.prices', 'INSERT'), 'stockml_admin inserts prices');
SELECT ok(NOT has_table_privilege('stockml_admin', 'stockml.prices', 'DELETE'), 'stockml_admin deletes no prices');

-- the jobs table refuses malformed rows
SELECT throws_ok($$INSERT INTO stockml.jobs (kind) VALUES ('Bad Kind')$$, '23514', NULL, 'malformed kind refused');
SELECT throws_ok($$INSERT INTO stockml.jobs (kind, status) VALUES ('refresh', 'lost')$$, '23514', NULL, 'unknown status refused');
SELECT throws_ok($$INSERT INTO stockml.jobs (kind, progress) VALUES ('refresh', 1.5)$$, '23514', NULL, 'progress above 1 refused');
INSERT INTO stockml.symbols (symbol) VALUES ('TAPX');
SELECT throws_ok($$INSERT INTO stockml.corporate_actions (symbol, day, kind, amount, source)
                   VALUES ('TAPX', '2024-01-02', 'split', 1, 'yahoo')$$, '23514', NULL, 'a split without a ratio refused');

SELECT * FROM finish();
ROLLBACK;
