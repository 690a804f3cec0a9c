# stockml without shared_preload_libraries: loading the module later (CREATE EXTENSION,
# then a function call in a new session) must not kill the session (a PGC_POSTMASTER
# setting defined after startup is FATAL), the functions work, and submit() says that
# no worker runs the queue instead of queuing in silence.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('no_preload');
$node->init;
$node->start;

my ($rc, $out, $err) = $node->psql('postgres', 'CREATE EXTENSION stockml');
is($rc, 0, 'CREATE EXTENSION works without shared_preload_libraries') or diag($err);

# a new session loads stockml.so at its first call
my $csv = slurp_file('data/MSFT.csv');
($rc, $out, $err) = $node->psql('postgres',
	"SELECT rows_inserted FROM stockml.ingest_csv('MSFT', \$csv\$$csv\$csv\$)");
is($rc, 0, 'a function call loads the module in a new session') or diag($err);
is($out, '249', 'ingest_csv stores the bars');

($rc, $out, $err) = $node->psql('postgres', 'SHOW stockml.database');
isnt($err, '', 'stockml.database is not defined when stockml is not preloaded');

($rc, $out, $err) = $node->psql('postgres',
	q{SELECT stockml.submit('refresh', '{"symbols": ["MSFT"]}')});
is($rc, 0, 'submit() works') or diag($err);
like($err, qr/no stockml worker runs in this server/, 'submit() warns that no worker runs the queue');
like($err, qr/shared_preload_libraries/, '... and says what to set');

$node->stop;
done_testing();
