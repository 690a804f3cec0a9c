-- The contract other parts rely on (train, predict, monitoring): signatures, result
-- columns, the default set, and that a stored spec is what features_spec() reads.
BEGIN;
SELECT plan(16);

SELECT has_function('stockml', 'features', ARRAY['text', 'date', 'date', 'text', 'integer']);
SELECT has_function('stockml', 'features_spec', ARRAY['text', 'jsonb', 'date', 'date', 'integer']);
SELECT has_function('stockml', 'feature_names', ARRAY['jsonb']);
SELECT function_returns('stockml', 'feature_names', ARRAY['jsonb'], 'text[]');
SELECT volatility_is('stockml', 'features', ARRAY['text', 'date', 'date', 'text', 'integer'], 'stable');
SELECT is((SELECT pg_get_function_result('stockml.features(text, date, date, text, integer)'::regprocedure)),
          'TABLE(symbol text, day date, close double precision, x double precision[], y double precision)',
          'features() returns (symbol, day, close, x float8[], y float8)');
SELECT is((SELECT pg_get_function_result('stockml.features_spec(text, jsonb, date, date, integer)'::regprocedure)),
          'TABLE(symbol text, day date, close double precision, x double precision[], y double precision)',
          'features_spec() returns the same columns');
SELECT is((SELECT pg_get_function_arguments('stockml.features(text, date, date, text, integer)'::regprocedure)),
          'symbol text, start_day date DEFAULT NULL::date, end_day date DEFAULT NULL::date, feature_set text DEFAULT ''default''::text, horizon integer DEFAULT 1',
          'features() arguments and defaults as DESIGN.md says');
SELECT col_is_pk('stockml', 'feature_sets', ARRAY['name'], 'feature sets keyed by name');
SELECT ok((SELECT array_length(stockml.feature_names(spec), 1) BETWEEN 12 AND 20
             FROM stockml.feature_sets WHERE name = 'default'), 'the default set has 12 to 20 features');
SELECT is((SELECT count(*) FROM stockml.feature_sets f, jsonb_array_elements(f.spec -> 'features') e
            WHERE f.name = 'default' AND coalesce(e ->> 'description', '') = ''), 0::bigint,
          'every default feature is described');
SELECT is(stockml.feature_spec_warmup((SELECT spec FROM stockml.feature_sets WHERE name = 'default')), 50,
          'the default set is defined from the 50th bar');

INSERT INTO stockml.symbols (symbol) VALUES ('CONTRACT');
INSERT INTO stockml.prices (symbol, day, open, high, low, close)
SELECT 'CONTRACT', '2020-01-01'::date + i, c, c + 1, c - 1, c
  FROM generate_series(1, 80) i, LATERAL (SELECT 50 + 3 * sin(i / 6.0) AS c) v;
SELECT is((SELECT count(*) FROM stockml.features('CONTRACT')), 31::bigint,
          '80 bars - 49 warm-up bars = 31 rows, volume NULL included');
SELECT results_eq($$SELECT day, x, y FROM stockml.features('CONTRACT')$$,
                  $$SELECT day, x, y FROM stockml.features_spec('CONTRACT',
                      (SELECT spec FROM stockml.feature_sets WHERE name = 'default'))$$,
                  'features() of a set = features_spec() of its stored spec');

-- a spec stored with a model keeps working after the named set changes
CREATE TEMP TABLE kept AS SELECT spec FROM stockml.feature_sets WHERE name = 'default';
INSERT INTO stockml.feature_sets (name, spec)
VALUES ('contract', '{"features": [{"name": "r", "indicator": "range"}]}');
UPDATE stockml.feature_sets SET spec = '{"features": [{"name": "r1", "indicator": "log_return"}]}'
 WHERE name = 'contract';
SELECT is((SELECT count(*) FROM stockml.features('CONTRACT', feature_set => 'contract')), 79::bigint,
          'an updated set is read at call time');
SELECT is((SELECT array_length(x, 1) FROM stockml.features_spec('CONTRACT', (SELECT spec FROM kept)) LIMIT 1), 16,
          'a kept spec gives its own width');

SELECT * FROM finish();
ROLLBACK;
