# The job queue's privileged paths against a hostile database owner and plain roles
# (issue 16, item 3):
# 1. search_path: the database owner sets search_path = evil, pg_catalog with a
#    planted now(), clock_timestamp() and text = text in schema evil that record who
#    called them; a job through the worker and a failed train() through the run
#    recorder never call them (while ordinary sessions do: the plant works).
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
    IF (args->>'set_path')::boolean THEN
        -- a session-level SET inside a job must not outlive it
        PERFORM set_config('search_path', 'evil, pg_catalog', false);
    END IF;
    RETURN t;
END $$;
COMMENT ON FUNCTION stockml.run_job_probe(bigint, jsonb) IS 'test job';
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

$node->stop;
done_testing();
