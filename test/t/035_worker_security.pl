# The job queue's privileged paths against a hostile database owner and plain roles
# (issue 16, item 3):
# 1. search_path: the database owner sets search_path = evil, pg_catalog with a
#    planted now(), clock_timestamp() and text = text in schema evil that record who
#    called them; a job through the worker and a failed train() through the run
#    recorder never call them (while ordinary sessions do: the plant works).
#    A job cannot SET ROLE to the worker's session user (a superuser).
# 2. locks: a plain role holding the advisory locks workers and train() used to take
#    stalls neither the queue, nor cancel_job, nor train().
# 3. a job whose submitter was dropped fails at once, saying so.
# 4. kill -9 of a worker mid-train: after the crash restart the attempt is failed and
#    recorded as a failed run.
# 5. a worker that fails at every start is restarted with a growing backoff, not in a
#    tight loop (measured: exits in 6 s).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('worker_security');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'stockml'
stockml.database = 'sec'
stockml.worker_naptime = 500
stockml.job_retry_delay = 100
max_worker_processes = 16
restart_after_crash = on
});
$node->start;

$node->safe_psql('postgres', 'CREATE ROLE dbowner LOGIN; CREATE DATABASE sec OWNER dbowner');
$node->safe_psql('sec', 'CREATE EXTENSION stockml; CREATE ROLE alice LOGIN IN ROLE stockml_admin');

sub wait_status
{
	my ($id, $status) = @_;
	return $node->poll_query_until('sec',
		"SELECT status = '$status' FROM stockml.jobs WHERE id = $id");
}

# 20 bars: too few for train(), which then fails after its run has started
my @csv = split /\n/, slurp_file('data/MSFT.csv');
my $few = join("\n", @csv[0 .. 20]) . "\n";
$node->safe_psql('sec', "SELECT stockml.ingest_csv('MSFT', \$csv\$$few\$csv\$)");

# a job kind that does some SQL of its own, as its submitter
$node->safe_psql('sec', q{
CREATE FUNCTION stockml.run_job_probe(job_id bigint, args jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE t text := 'probed at ' || now();
BEGIN
    IF (args->>'set_role')::boolean THEN
        -- the worker's session user is a superuser: the job must not become it
        PERFORM set_config('role', (SELECT rolname FROM pg_roles WHERE oid = 10), false);
    END IF;
    IF (args->>'set_path')::boolean THEN
        -- a session-level SET inside a job must not outlive it
        PERFORM set_config('search_path', 'evil, pg_catalog', false);
    END IF;
    RETURN t;
END $$;
COMMENT ON FUNCTION stockml.run_job_probe(bigint, jsonb) IS 'test job';
CREATE FUNCTION stockml.run_job_sleepy(job_id bigint, args jsonb) RETURNS text
LANGUAGE sql AS $$ SELECT pg_sleep(600)::text $$;
COMMENT ON FUNCTION stockml.run_job_sleepy(bigint, jsonb) IS 'test job';
});

# --- 1. the database owner's trap ------------------------------------------
$node->safe_psql('sec', q{
CREATE SCHEMA evil;
CREATE TABLE evil.calls (who name, backend text, what text);
GRANT INSERT ON evil.calls TO PUBLIC;
CREATE FUNCTION evil.record(what text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO evil.calls
    SELECT current_user, a.backend_type, what
      FROM pg_catalog.pg_stat_activity a WHERE a.pid = pg_catalog.pg_backend_pid()
$$;
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.record('now'); RETURN pg_catalog.now(); END $$;
CREATE FUNCTION evil.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.record('clock_timestamp'); RETURN pg_catalog.clock_timestamp(); END $$;
CREATE FUNCTION evil.texteq(a text, b text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.record('='); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.texteq);
GRANT USAGE ON SCHEMA evil TO PUBLIC;
ALTER DATABASE sec SET search_path = evil, pg_catalog;
}, extra_params => [ '-U', 'dbowner' ]);

# the plant works: an ordinary session calls it
$node->safe_psql('sec', 'SELECT now()');
is($node->safe_psql('sec', "SELECT count(*) > 0 FROM evil.calls WHERE backend = 'client backend'"),
	't', 'the planted now() runs in an ordinary session');

# jobs submitted by alice, a member of stockml_admin
my $id = $node->safe_psql('sec', q{SELECT stockml.submit('probe', '{"set_path": true}')},
	extra_params => [ '-U', 'alice' ]);
ok(wait_status($id, 'done'), 'a job runs under the hostile database setting');
$id = $node->safe_psql('sec', q{SELECT stockml.submit('probe')}, extra_params => [ '-U', 'alice' ]);
ok(wait_status($id, 'done'), '... and the next one, after a job that SET search_path');
$id = $node->safe_psql('sec', q{SET stockml.job_max_attempts = 1;
	SELECT stockml.submit('train', '{"model_name": "m_job", "symbols": ["MSFT"]}')});
ok(wait_status($id, 'failed'), 'a train job that fails runs through the worker');
my ($rc, $out, $err) = $node->psql('sec', q{SELECT * FROM stockml.train('m_direct', ARRAY['MSFT'])});
like($err, qr/usable days|too little|history/i, 'train() in a session fails after its run started');
is($node->safe_psql('sec', q{SELECT string_agg(model_name, ',' ORDER BY model_name) FROM stockml.runs WHERE status = 'failed'}),
	'm_direct,m_job', 'both failed runs were written by the run recorder');
is($node->safe_psql('sec', q{
	SELECT coalesce(string_agg(DISTINCT who || ' in ' || backend || ': ' || what, '; '), 'none')
	  FROM evil.calls WHERE backend <> 'client backend'}),
	'none', 'no planted function or operator ran in a worker or the run recorder');

# a job cannot SET ROLE to the worker's session user, a superuser
$id = $node->safe_psql('sec', q{SET stockml.job_max_attempts = 1; SELECT stockml.submit('probe', '{"set_role": true}')},
	extra_params => [ '-U', 'alice' ]);
ok(wait_status($id, 'failed'), "a job that tries SET ROLE to the worker's superuser fails");
like($node->safe_psql('sec', "SELECT error FROM stockml.jobs WHERE id = $id"),
	qr/cannot set parameter "role"/, '... refused by PostgreSQL');

# the hostile setting stays: everything below runs under it too

# --- 2. locks any role can take ----------------------------------------------
my $all = join("\n", @csv) . "\n";
$node->safe_psql('sec', "CREATE ROLE mallory LOGIN; SELECT stockml.ingest_csv('AAPL', \$csv\$$all\$csv\$)");
my $mallory = $node->background_psql('sec', extra_params => [ '-U', 'mallory' ]);
$mallory->query_safe(q{
	SELECT count(pg_advisory_lock(1398033740, g)) FROM generate_series(1, 1000) g;
	SELECT pg_advisory_lock(hashtext('stockml.models'), hashtext('m_lock'))});
$id = $node->safe_psql('sec', q{SELECT stockml.submit('probe')}, extra_params => [ '-U', 'alice' ]);
ok(wait_status($id, 'done'), 'a plain role holding the old job advisory locks does not stall the queue');
$id = $node->safe_psql('sec', q{SELECT stockml.submit('sleepy')}, extra_params => [ '-U', 'alice' ]);
$node->poll_query_until('sec', "SELECT status = 'running' FROM stockml.jobs WHERE id = $id")
  or die 'sleepy job never ran';
is($node->safe_psql('sec', "SET statement_timeout = '20s'; SELECT stockml.cancel_job($id)"), 't',
	'cancel_job of a running job returns at once');
ok(wait_status($id, 'cancelled'), '... and the job is cancelled');
is($node->safe_psql('sec', q{SET statement_timeout = '60s';
	SELECT version FROM stockml.train('m_lock', ARRAY['AAPL'])}),
	'1', 'train() is not stalled by the advisory lock it used to take');
$mallory->quit;

# --- 3. a dropped submitter ----------------------------------------------------
$node->safe_psql('sec', q{
	CREATE ROLE bob IN ROLE stockml_admin;
	BEGIN;
	SET ROLE bob;
	SELECT stockml.submit('probe');
	RESET ROLE;
	DROP ROLE bob;
	COMMIT});
$id = $node->safe_psql('sec', q{SELECT max(id) FROM stockml.jobs});
ok(wait_status($id, 'failed'), 'a job whose submitter no longer exists fails');
like($node->safe_psql('sec', "SELECT attempts || ' ' || error FROM stockml.jobs WHERE id = $id"),
	qr/^1 the role that submitted job \d+ \(OID \d+\) no longer exists$/,
	'... on its first attempt, saying why');

# --- 4. kill -9 of a worker in the middle of train() ---------------------------
# train() waits for the experiment's row, held here, after its run has started
$node->safe_psql('sec', q{INSERT INTO stockml.experiments (name) VALUES ('m_kill')});
my $holder = $node->background_psql('sec', on_error_stop => 0);
$holder->query_safe(q{BEGIN; SELECT FROM stockml.experiments WHERE name = 'm_kill' FOR UPDATE});
$id = $node->safe_psql('sec', q{SET stockml.job_max_attempts = 1;
	SELECT stockml.submit('train', '{"model_name": "m_kill", "symbols": ["AAPL"]}')},
	extra_params => [ '-U', 'alice' ]);
$node->poll_query_until('sec', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE backend_type = 'stockml job worker' AND wait_event_type = 'Lock'})
  or die 'the train job never waited for the row';
my $pid = $node->safe_psql('sec', q{
	SELECT pid FROM pg_stat_activity WHERE backend_type = 'stockml job worker' AND wait_event_type = 'Lock'});
kill 'KILL', $pid;
eval { $holder->quit; };
$node->poll_query_until('sec', 'SELECT 1', '1') or die 'no restart after the crash';
ok(wait_status($id, 'failed'), 'the killed train job is failed after the restart');
is($node->safe_psql('sec', q{
	SELECT status || ' ' || (error LIKE 'interrupted: the worker running attempt 1 of 1 stopped%')
	  FROM stockml.runs WHERE model_name = 'm_kill'}),
	'failed true', '... and its attempt is recorded as a failed run');

# --- 5. a worker failing at every start backs off --------------------------------
$node->safe_psql('sec', q{
CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
CREATE TRIGGER refuse BEFORE UPDATE ON stockml.jobs FOR EACH ROW
    WHEN (NEW.status = 'running') EXECUTE FUNCTION public.refuse();
});
my $log_start = -s $node->logfile;
$id = $node->safe_psql('sec', q{SELECT stockml.submit('probe')}, extra_params => [ '-U', 'alice' ]);
sleep 6;
my $log = slurp_file($node->logfile, $log_start);
my $exits = () = $log =~ /background worker "stockml job worker" \(PID \d+\) exited with exit code 1/g;
note("failing job worker exits in 6 s: $exits");
cmp_ok($exits, '>=', 2, 'the failing worker is restarted');
cmp_ok($exits, '<=', 8, '... with a backoff, not in a tight loop');
like($log, qr/stockml job worker stopped with an error \d+ times in a row; next start in \d+ ms/,
	'... which the launcher logs');
$node->safe_psql('sec', 'DROP TRIGGER refuse ON stockml.jobs');
ok(wait_status($id, 'done'), 'once the cause is gone the job runs');

$node->stop;
done_testing();
