-- What a newcomer's first mistakes get (issue 12, item 5): an alias in the wrong case is a
-- clear ERROR that changes nothing, and an unknown symbol's hint names that symbol.
BEGIN;
SELECT plan(7);

INSERT INTO stockml.symbols (symbol) VALUES ('NEWA');
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT 'NEWA', DATE '2015-01-05' + ((i - 1) / 5) * 7 + (i - 1) % 5, c, c * 1.01, c * 0.99, c, 1000 + i
  FROM (SELECT i, 50 * exp(sum(0.01 * sin(i)) OVER (ORDER BY i)) AS c FROM generate_series(1, 300) i) w;
SELECT lives_ok($$SELECT stockml.train('new_m', ARRAY['NEWA'], 'ridge', params => '{"auto_deploy": false}')$$,
                'train a model');

-- an upper-case alias
SELECT throws_ok($$SELECT stockml.deploy('new_m', 1, 'Production')$$, '22023', 'invalid alias "Production"',
                 'deploy with an upper-case alias: invalid_parameter_value, not a CHECK violation');
CREATE FUNCTION pg_temp.hint_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    h text;
BEGIN
    EXECUTE sql;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
    RETURN h;
END $$;
SELECT is(pg_temp.hint_of($$SELECT stockml.deploy('new_m', 1, 'Production')$$),
          'Aliases are lower case: use ''production''.', 'the hint gives the lower-case alias');
SELECT is(pg_temp.hint_of($$SELECT stockml.deploy('new_m', 1, '1st choice')$$),
          'For example ''production'' or ''staging''.', 'an alias that no case fixes gets an example');
SELECT is((SELECT count(*) FROM stockml.alias_history WHERE name = 'new_m'), 0::bigint,
          'the refused deploys left no history');
SELECT is((SELECT count(*) FROM stockml.model_aliases WHERE name = 'new_m'), 0::bigint,
          'and no alias');

-- an unknown symbol: the hint names it, not some other ticker
SELECT is(pg_temp.hint_of($$SELECT stockml.train('new_m', ARRAY['NEWA', 'NOSUCH'])$$),
          'Load its prices first, e.g. SELECT * FROM stockml.ingest_yahoo(''NOSUCH'') or stockml.ingest_csv(''NOSUCH'', :''csv'').',
          'train() with an unknown symbol: the hint loads that symbol');

SELECT * FROM finish();
ROLLBACK;
