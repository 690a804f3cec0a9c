-- HTTP ingest and job queue: the documented signatures, the role, which settings
-- only a superuser may change, and that the jobs table refuses what it should;
-- submit() refuses, through the job kind's own checker, what the job would refuse
-- (issue 12 item 3), and the pipeline's step procedure names what failed.
-- test/t/030_worker.pl checks job_attempts as the workers write it, test/t/60_pipeline.pl
-- the pipelines on pg_cron.
BEGIN;
SELECT plan(61);

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

-- every attempt is kept, readable by those who read the jobs
SELECT columns_are('stockml', 'job_attempts', ARRAY['id', 'job_id', 'attempt', 'status', 'started_at',
    'finished_at', 'worker_pid', 'error']);
SELECT ok(has_table_privilege('stockml_admin', 'stockml.job_attempts', 'SELECT'), 'stockml_admin reads job_attempts');
SELECT ok(NOT has_table_privilege('stockml_admin', 'stockml.job_attempts', 'INSERT'), '... and writes none');
SELECT ok(EXISTS (SELECT FROM pg_extension e WHERE e.extname = 'stockml'
                   AND 'stockml.job_attempts'::regclass = ANY (e.extconfig)), 'job_attempts is dumped');
WITH j AS (INSERT INTO stockml.jobs (kind) VALUES ('refresh') RETURNING id)
INSERT INTO stockml.job_attempts (job_id, attempt) SELECT id, n FROM j, generate_series(1, 2) n;
DELETE FROM stockml.jobs WHERE id = (SELECT max(job_id) FROM stockml.job_attempts);
SELECT is((SELECT count(*) FROM stockml.job_attempts a WHERE NOT EXISTS (SELECT FROM stockml.jobs j WHERE j.id = a.job_id)),
          0::bigint, 'a deleted job''s attempts go with it');

-- submit() runs the kind's checker before queuing: nothing is queued for bad args
CREATE TEMP TABLE jobs_before AS SELECT count(*) AS n FROM stockml.jobs;
SELECT throws_ok($$SELECT stockml.submit('refresh', '{"symbol": ["MSFT"]}')$$, '22023',
    'unknown key in refresh job args: symbol', 'refresh: a misspelt key is named');
SELECT throws_ok($$SELECT stockml.submit('refresh', '{"symbols": ["MSFT", "MS FT"]}')$$, '22023',
    'invalid symbol "MS FT"', 'refresh: a malformed symbol is named');
SELECT throws_ok($$SELECT stockml.submit('refresh', '{"symbols": "MSFT"}')$$, '22023',
    '"symbols" of a refresh job must be an array of symbols, not "MSFT"', 'refresh: symbols must be an array');
SELECT throws_ok($$SELECT stockml.submit('forecast', '{"symbols": ["MSFT", 1]}')$$, '22023',
    '"symbols" of a forecast job must be an array of symbols, not ["MSFT", 1]', 'forecast: symbols must be names');
SELECT throws_ok($$SELECT stockml.submit('refresh', '[1]')$$, '22023',
    'the args of a refresh job must be a JSON object, not array', 'args must be an object');
SELECT throws_ok($$SELECT stockml.submit('train', '{"model_name": "m", "symbols": ["TAPX", "NOPE"]}')$$, '42704',
    'unknown symbol: NOPE', 'train: an unknown symbol is named');
SELECT throws_ok($$SELECT stockml.submit('train', '{"model_name": "m", "symbols": ["TAPX"], "params": {"alpah": 1}}')$$,
    '22023', 'unknown parameter "alpah" for algorithm "ridge"', 'train: a misspelt parameter is named');
SELECT throws_ok($$SELECT stockml.submit('train', '{"model_name": "m", "symbols": ["TAPX"], "algorithm": "rigde"}')$$,
    '22023', 'unknown algorithm "rigde"', 'train: an unknown algorithm is named');
SELECT throws_ok($$SELECT stockml.submit('train', '{"model_name": "m", "symbol": ["TAPX"]}')$$, '22023',
    'unknown key in train job args: symbol', 'train: a misspelt key is named');
SELECT throws_ok($$SELECT stockml.submit('train', '{"symbols": ["TAPX"]}')$$, '22023',
    'train job args need "model_name", a string, and "symbols", an array of symbols', 'train: a missing key');
SELECT throws_ok($$SELECT stockml.submit('train', '{"model_name": "m", "symbols": ["TAPX"], "horizon": "five"}')$$,
    '22023', '"horizon" of a train job must be a JSON number, not "five"', 'train: a value of the wrong type');
SELECT throws_ok($$SELECT stockml.submit('train', '{"model_name": "m", "symbols": ["TAPX"], "horizon": 1.5}')$$,
    '22023', 'train job args: "horizon" must be a whole number and "train_end" a date, not 1.5 and NULL',
    'train: a horizon that is no whole number');
SELECT throws_ok($$SELECT stockml.submit('train', '{"model_name": "m", "symbols": ["TAPX"], "feature_set": "nope"}')$$,
    NULL, NULL, 'train: an unknown feature set');
SELECT throws_ok($$SELECT stockml.submit('monitor', '{"model_name": "nope"}')$$, '42704',
    'the monitor job names no model: ''nope'' does not exist', 'monitor: an unknown model is named');
SELECT throws_ok($$SELECT stockml.submit('monitor', '{"window_days": 1}')$$, '22023',
    '"window_days" of a monitor job must be a whole number from 2 to 3660, not 1', 'monitor: window_days out of range');
SELECT throws_ok($$SELECT stockml.submit('monitor', '{"models": ["a", 1]}')$$, '22023',
    '"models" of a monitor job must be an array of model names', 'monitor: models must be names');
SELECT throws_ok($$SELECT stockml.submit('forecast', '{"models": ["nope", "nope2"]}')$$, '42704',
    'the forecast job names no model: ''nope'', ''nope2'' does not exist', 'forecast: unknown models are named');
SELECT throws_ok($$SELECT stockml.submit('forecast', '{"symbols": ["TAPX", "NOPE"]}')$$, '42704',
    'unknown symbol in forecast job args: NOPE', 'forecast: an unknown symbol is named');
SELECT throws_ok($$SELECT stockml.submit('forecast', '{"model": "x"}')$$, '22023',
    'unknown key in forecast job args: model', 'forecast: a misspelt key is named');
SELECT is((SELECT count(*) FROM stockml.jobs), (SELECT n FROM jobs_before), '... and none of them was queued');

-- good args are queued; the job runs the same checker (one function, not a copy)
SELECT lives_ok($$SELECT stockml.submit('train', '{"model_name": "m", "symbols": ["TAPX"], "params": {"alpha": 2}}')$$,
    'train args that train() accepts are queued');
SELECT lives_ok($$SELECT stockml.submit('refresh', '{"symbols": ["TAPX", "NEW.SYM"]}')$$,
    'refresh of a well-formed symbol not yet stored is queued');
SELECT is((SELECT count(*) FROM stockml.jobs), (SELECT n + 2 FROM jobs_before), '... two jobs');
SELECT throws_ok($$SELECT stockml.run_job_train(0, '{"model_name": "m", "symbols": ["NOPE"]}')$$, '42704',
    'unknown symbol: NOPE', 'the train job refuses what submit() refuses, with the same error');
SELECT throws_ok($$SELECT stockml.run_job_refresh(0, '{"symbol": []}')$$, '22023',
    'unknown key in refresh job args: symbol', '... and so does the refresh job');
SELECT ok((SELECT bool_and(p.prosrc LIKE '%stockml.check_job_' || substr(p.proname, 9) || '(args)%')
             FROM pg_proc p WHERE p.pronamespace = 'stockml'::regnamespace AND p.proname LIKE 'run\_job\_%'),
          'every built-in job kind runs its checker first');

-- pipelines: job names from the pipeline's name; a failed step names what failed
SELECT is(stockml.pipeline_job_name('default', 'refresh'), 'stockml-refresh', 'the default pipeline keeps its job names');
SELECT is(stockml.pipeline_job_name('nightly', 'monitor'), 'stockml-nightly-monitor', 'a named pipeline''s job name');
SELECT throws_ok($$SELECT stockml.pipeline_job_name('Night Run', 'refresh')$$, '22023',
    'invalid pipeline name ''Night Run''', 'a malformed pipeline name is refused');
SELECT throws_ok($$SELECT stockml.pipeline_job_name('nightly', 'train')$$, '22023',
    'unknown pipeline step "train"', 'an unknown step is refused');
SELECT throws_like($$CALL stockml.run_pipeline_step('nightly', 'forecast', ARRAY['nope'])$$,
    'stockml pipeline "nightly": step forecast failed for 1: nope (%',
    'a step that failed ends with an ERROR naming what failed');
SELECT alike(stockml.pipeline_step('forecast', ARRAY['nope']), 'forecast: 0 of 1 models; failed: nope (%',
    'pipeline_step() returns the failure in its summary');

SELECT * FROM finish();
ROLLBACK;
