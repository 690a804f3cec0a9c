# The job queue's background workers across failures: a submitted refresh runs,
# a job whose worker is killed (pg_terminate_backend), whose server restarts or
# crashes is retried and finishes, a cancelled job stays cancelled, and the
# launcher copes with its database missing, without the extension, dropped and
# recreated (it holds no connection while the queue is idle).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('worker');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'stockml'
stockml.database = 'stockml_jobs'
stockml.worker_naptime = 500
stockml.job_retry_delay = 100
max_worker_processes = 16
});
# the mock Yahoo server started by test/run.sh, if any
my $fixtures = ($ENV{STOCKML_TEST_TMP} // '') . '/fixtures.conf';
my $have_mock = -f $fixtures;
$node->append_conf('postgresql.conf', slurp_file($fixtures)) if $have_mock;
$node->start;

# the database does not exist yet: the launcher waits quietly
sleep 1;
ok($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'stockml launcher'") == 1,
	'launcher running while its database does not exist');

# the database without the extension: job workers come and go quietly
$node->safe_psql('postgres', 'CREATE DATABASE stockml_jobs');
sleep 1;
$node->safe_psql('stockml_jobs', 'CREATE EXTENSION stockml');

sub wait_status
{
	my ($id, $status) = @_;
	return $node->poll_query_until('stockml_jobs',
		"SELECT status = '$status' FROM stockml.jobs WHERE id = $id");
}

# 1. a submitted refresh runs
SKIP:
{
	skip 'no mock HTTP server (run through test/run.sh)', 2 unless $have_mock;
	my $id = $node->safe_psql('stockml_jobs',
		q{SELECT stockml.submit('refresh', '{"symbols": ["MSFT"]}')});
	ok(wait_status($id, 'done'), 'refresh job done');
	is($node->safe_psql('stockml_jobs', "SELECT count(*) FROM stockml.prices WHERE symbol = 'MSFT'"),
		'249', 'refresh job stored the bars');
}

# a job that is slow on its first attempt (or always, if asked), reporting progress
$node->safe_psql('stockml_jobs', q{
CREATE FUNCTION stockml.run_job_slow(job_id bigint, args jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE n int;
BEGIN
    SELECT attempts INTO n FROM stockml.jobs WHERE id = job_id;
    IF n = 1 OR (args->>'always')::boolean THEN
        FOR i IN 1 .. coalesce((args->>'ticks')::int, 600) LOOP
            PERFORM stockml.report_job_progress(i / coalesce((args->>'ticks')::float8, 600));
            PERFORM pg_sleep(0.1);
        END LOOP;
    END IF;
    RETURN 'finished on attempt ' || n;
END $$;
COMMENT ON FUNCTION stockml.run_job_slow(bigint, jsonb) IS 'test job';
});

sub submit_slow_and_wait_running
{
	my ($args) = @_;
	my $id = $node->safe_psql('stockml_jobs', "SELECT stockml.submit('slow', '$args')");
	$node->poll_query_until('stockml_jobs',
		"SELECT status = 'running' AND progress > 0 FROM stockml.job_status WHERE id = $id")
	  or die "job $id never ran";
	return $id;
}

sub check_retried
{
	my ($id, $what) = @_;
	ok(wait_status($id, 'done'), "$what: job retried and done");
	my $row = $node->safe_psql('stockml_jobs',
		"SELECT attempts, result, error LIKE 'interrupted: the worker running attempt 1 of 3 stopped%'"
		  . " FROM stockml.jobs WHERE id = $id");
	is($row, '2|finished on attempt 2|t', "$what: second attempt, the interruption recorded");
	is($node->safe_psql('stockml_jobs', qq{
		SELECT string_agg(attempt || ' ' || status || ' ' || (finished_at >= started_at)
		                  || ' ' || coalesce(error LIKE 'interrupted: %', false), ', ' ORDER BY attempt)
		  FROM stockml.job_attempts WHERE job_id = $id}),
		'1 interrupted true true, 2 done true false', "$what: both attempts kept in job_attempts");
}

# 2. progress is visible to other sessions; pg_terminate_backend of the job worker
my $id = submit_slow_and_wait_running('{}');
my $pid = $node->safe_psql('stockml_jobs', "SELECT worker_pid FROM stockml.job_status WHERE id = $id");
is($node->safe_psql('stockml_jobs',
	"SELECT backend_type FROM pg_stat_activity WHERE pid = $pid"),
	'stockml job worker', 'the job runs in a stockml job worker');
$node->safe_psql('stockml_jobs', "SELECT pg_terminate_backend($pid)");
check_retried($id, 'pg_terminate_backend');

# 3. server restart (fast shutdown) while the job runs
$id = submit_slow_and_wait_running('{}');
$node->restart;
check_retried($id, 'restart');

# 4. crash (immediate shutdown) while the job runs
$id = submit_slow_and_wait_running('{}');
$node->stop('immediate');
$node->start;
check_retried($id, 'crash');

# 5. cancel: the running job stops and is not retried
$id = submit_slow_and_wait_running('{"always": true}');
is($node->safe_psql('stockml_jobs', "SELECT stockml.cancel_job($id)"), 't', 'cancel_job');
ok(wait_status($id, 'cancelled'), 'cancelled job marked cancelled');
sleep 1;
is($node->safe_psql('stockml_jobs', "SELECT status, attempts FROM stockml.jobs WHERE id = $id"),
	'cancelled|1', 'cancelled job not retried');

is($node->safe_psql('stockml_jobs', "SELECT attempt, status FROM stockml.job_attempts WHERE job_id = $id"),
	'1|cancelled', 'the cancelled attempt kept as cancelled');

# 5a. every failed attempt keeps its own error, with its worker's pid
$node->safe_psql('stockml_jobs', q{
CREATE FUNCTION stockml.run_job_flaky(job_id bigint, args jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE n int;
BEGIN
    SELECT attempts INTO n FROM stockml.jobs WHERE id = job_id;
    IF n < 3 THEN
        RAISE EXCEPTION 'flaky failure number %', n;
    END IF;
    RETURN 'ok on attempt ' || n;
END $$;
COMMENT ON FUNCTION stockml.run_job_flaky(bigint, jsonb) IS 'test job';
});
$id = $node->safe_psql('stockml_jobs', q{SELECT stockml.submit('flaky')});
ok(wait_status($id, 'done'), 'a job failing twice is done on its third attempt');
is($node->safe_psql('stockml_jobs', qq{
	SELECT string_agg(attempt || ' ' || status || ' ' || coalesce(error, '-') || ' ' || (worker_pid > 0),
	                  ', ' ORDER BY attempt)
	  FROM stockml.job_attempts WHERE job_id = $id}),
	'1 failed flaky failure number 1 true, 2 failed flaky failure number 2 true, 3 done - true',
	'job_attempts keeps each attempt with its own error');
is($node->safe_psql('stockml_jobs', "SELECT attempts, error FROM stockml.jobs WHERE id = $id"),
	'3|flaky failure number 2', 'stockml.jobs keeps the last error, as before');

# 5a'. submit() checks the args with the kind's checker before queuing, as the job would
my ($rc, $out, $err) = $node->psql('stockml_jobs',
	q{SELECT stockml.submit('refresh', '{"symbols": ["MSFT"], "start": "2024-01-01"}')});
like($err, qr/unknown key in refresh job args: start/, 'submit refuses a bad key');
is($node->safe_psql('stockml_jobs', "SELECT count(*) FROM stockml.jobs WHERE args ? 'start'"), '0',
	'... and queues nothing');

# 5a''. submit() in a database the worker does not serve warns, naming the setting
$node->safe_psql('postgres', 'CREATE EXTENSION stockml');
($rc, $out, $err) = $node->psql('postgres', q{SELECT stockml.submit('refresh', '{"symbols": ["MSFT"]}')});
like($err, qr/WARNING:  job \d+ queued in database "postgres", but the stockml worker serves database "stockml_jobs".*HINT:  Set stockml.database = 'postgres' in postgresql.conf and restart the server/s,
	'submit warns when the worker serves another database');
($rc, $out, $err) = $node->psql('stockml_jobs', q{SELECT stockml.submit('slow', '{"always": true, "ticks": 1}')});
unlike($err, qr/WARNING/, '... and not in the database it serves');
# done before section 7 drops the database: no retry may be pending then
ok(wait_status($out, 'done'), '... where it runs');
$node->safe_psql('postgres', 'DROP EXTENSION stockml');

# 5b. a SIGINT that cancel_job() did not send for the running job (as when its
# cancel of the previous job arrives late) leaves the job alone
$id = submit_slow_and_wait_running('{"always": true, "ticks": 30}');
$pid = $node->safe_psql('stockml_jobs', "SELECT worker_pid FROM stockml.job_status WHERE id = $id");
is($node->safe_psql('stockml_jobs', "SELECT pg_cancel_backend($pid)"), 't', 'stray SIGINT sent');
ok(wait_status($id, 'done'), 'job hit by a stray SIGINT done');
is($node->safe_psql('stockml_jobs', "SELECT attempts, error IS NULL FROM stockml.jobs WHERE id = $id"),
	'1|t', 'on its first attempt, without error');

# 6. the launcher itself is terminated while a job runs: it comes back (5 s later),
# the running job finishes undisturbed, and new jobs still run
$id = submit_slow_and_wait_running('{"always": true, "ticks": 40}');
my $launcher = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'stockml launcher'");
$node->safe_psql('postgres', "SELECT pg_terminate_backend($launcher)");
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'stockml launcher' AND pid <> $launcher"),
	'launcher restarted');
ok(wait_status($id, 'done'), 'the job running meanwhile finished');
is($node->safe_psql('stockml_jobs', "SELECT attempts FROM stockml.jobs WHERE id = $id"), '1',
	'on its first attempt');
$id = $node->safe_psql('stockml_jobs', q{SELECT stockml.submit('slow', '{"always": true, "ticks": 1}')});
ok(wait_status($id, 'done'), 'the new launcher runs new jobs');

# 7. the idle queue holds no connection: its database can be dropped and recreated
$node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE datname = 'stockml_jobs'")
  or die 'job workers did not exit';
$node->safe_psql('postgres', 'DROP DATABASE stockml_jobs');
pass('DROP DATABASE of stockml.database while the queue is idle');
$node->safe_psql('postgres', 'CREATE DATABASE stockml_jobs');
$node->safe_psql('stockml_jobs', 'CREATE EXTENSION stockml');
$node->safe_psql('stockml_jobs', q{
CREATE FUNCTION stockml.run_job_echo(job_id bigint, args jsonb) RETURNS text
LANGUAGE sql AS $$ SELECT args->>'say' $$;
COMMENT ON FUNCTION stockml.run_job_echo(bigint, jsonb) IS 'test job';
});
$id = $node->safe_psql('stockml_jobs', q{SELECT stockml.submit('echo', '{"say": "again"}')});
ok(wait_status($id, 'done'), 'jobs run in the recreated database');
is($node->safe_psql('stockml_jobs', "SELECT result FROM stockml.jobs WHERE id = $id"), 'again',
	'its result');

# the only errors logged are the terminations and the refused submit this test caused
my @errors = grep { /\b(ERROR|FATAL|PANIC):/ && !/terminating (background worker "[^"]+"|connection) due to administrator command/
	  && !/ERROR:  unknown key in refresh job args: start/ }
  split /\n/, slurp_file($node->logfile);
is(scalar(@errors), 0, 'no other ERROR or FATAL in the server log') or diag(join("\n", @errors));

$node->stop;
done_testing();
