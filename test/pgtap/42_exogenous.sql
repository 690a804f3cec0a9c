-- Exogenous and calendar features (issue 9 item 6, doc/features.md): a feature may read another
-- symbol's bars ("symbol": "^EXO"), aligned by trading day without look-ahead (the other
-- symbol's value at its last bar on or before the day), and calendar features of the symbol's
-- calendar, checked against test/reference/calendar_features.py.
BEGIN;
SELECT plan(22);

INSERT INTO stockml.symbols (symbol) VALUES ('EXOS'), ('^EXO'), ('CALS');
-- EXOS: 300 XNYS trading days from 2023-01-03
CREATE TEMP TABLE tdays AS
SELECT row_number() OVER (ORDER BY d)::int AS i, d::date AS day
  FROM generate_series('2023-01-03'::date, '2024-06-30', '1 day') d
 WHERE stockml.is_trading_day('XNYS', d::date) ORDER BY d LIMIT 300;
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT 'EXOS', day, c, c * 1.01, c * 0.98, c, 1000 + i FROM tdays,
       LATERAL (SELECT 100 * exp(0.03 * sin(i / 5.0) + 0.0005 * i) AS c) v;
-- ^EXO: starts 10 days later, no bar on every 17th day (but on the last), its own path
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT '^EXO', day, c, c * 1.005, c * 0.99, c, 0 FROM tdays,
       LATERAL (SELECT 4000 * exp(0.02 * cos(i / 7.0) - 0.0002 * i) AS c) v
 WHERE i > 10 AND (i % 17 <> 0 OR i = 300);

CREATE TEMP TABLE spec AS SELECT '{"features": [
    {"name": "ret_1", "indicator": "log_return"},
    {"name": "exo_ret_1", "indicator": "log_return", "symbol": "^EXO"},
    {"name": "exo_rsi", "indicator": "rsi", "n": 5, "symbol": "^EXO"},
    {"name": "dow", "indicator": "weekday"},
    {"name": "to_month_end", "indicator": "days_to_month_end"},
    {"name": "since_holiday", "indicator": "days_since_holiday"}]}'::jsonb AS spec;
CREATE TEMP TABLE full_x AS SELECT * FROM stockml.features_spec('EXOS', (SELECT spec FROM spec));

-- the other symbol's log return at its last bar on or before each day, by SQL
CREATE TEMP VIEW exo_ref AS
SELECT f.day, ln(e.close / e.prev) AS r
  FROM full_x f
  CROSS JOIN LATERAL (SELECT close, lag(close) OVER (ORDER BY day) AS prev, day
                        FROM stockml.prices WHERE symbol = '^EXO' ORDER BY day) e
 WHERE e.day = (SELECT max(day) FROM stockml.prices WHERE symbol = '^EXO' AND day <= f.day);
SELECT is((SELECT count(*) FROM full_x f JOIN exo_ref r USING (day) WHERE abs(f.x[2] - r.r) > 1e-12)::int, 0,
          'exo_ret_1 = ln(close/previous close) of ^EXO at its last bar on or before the day');
SELECT is((SELECT count(*) FROM exo_ref)::int, (SELECT count(*) FROM full_x)::int, 'every row has its reference');
SELECT is((SELECT min(day) FROM full_x), (SELECT day FROM tdays WHERE i = 16),
          'rows start where rsi(5) of ^EXO is defined (its 6th bar: day 16 of EXOS)');
SELECT ok((SELECT count(*) FROM full_x WHERE day NOT IN (SELECT day FROM stockml.prices WHERE symbol = '^EXO')) >= 10,
          'some days have no ^EXO bar');
SELECT is((SELECT count(*) FROM (SELECT day, x, lag(x) OVER (ORDER BY day) AS px FROM full_x) f
            WHERE day NOT IN (SELECT day FROM stockml.prices WHERE symbol = '^EXO')
              AND (x[2] <> px[2] OR x[3] <> px[3]))::int, 0,
          'on a day without a ^EXO bar its features carry the last known value');

-- train and predict with the spec
INSERT INTO stockml.feature_sets (name, spec) SELECT 'exo_test', spec FROM spec;
SELECT ok(version = 1, 'ridge trained on a spec with exogenous and calendar features')
  FROM stockml.train('exo_ridge', ARRAY['EXOS'], 'ridge', feature_set => 'exo_test');
SELECT version FROM stockml.deploy('exo_ridge', 1, reason => 'test') \g /dev/null
SELECT is(as_of, (SELECT max(day) FROM tdays), 'predict works when ^EXO has the latest bar')
  FROM stockml.predict('exo_ridge', 'EXOS');
SELECT ok(abs(stockml.predict('exo_ridge', (SELECT x FROM full_x ORDER BY day DESC LIMIT 1))
              - (SELECT ln(predicted_close / (SELECT close FROM stockml.prices WHERE symbol = 'EXOS' ORDER BY day DESC LIMIT 1))
                   FROM stockml.predict('exo_ridge', 'EXOS'))) < 1e-9,
          'predict(model, symbol) uses the same last row as features_spec()');
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT 'EXOS', stockml.next_trading_day('XNYS', max(day), 1), 150, 151, 149, 150, 1 FROM tdays;
SELECT throws_like($$SELECT * FROM stockml.predict('exo_ridge', 'EXOS')$$,
                   'feature "exo_ret_1" needs the bar of symbol "^EXO" of %, the latest bar of "EXOS"',
                   'predict: a clear ERROR when the other symbol lacks the latest bar');
DELETE FROM stockml.prices WHERE symbol = 'EXOS' AND day > (SELECT max(day) FROM tdays);

-- no look-ahead: changing, adding and deleting ^EXO's bars after t changes no row up to t
CREATE TEMP TABLE cut AS SELECT day AS t FROM tdays WHERE i = 150;
UPDATE stockml.prices SET open = open * 1.5, high = high * 1.7, low = low * 1.4, close = close * 1.6
 WHERE symbol = '^EXO' AND day > (SELECT t FROM cut) AND extract(day FROM day)::int % 3 = 0;
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT '^EXO', day, 10, 11, 9, 10, 0 FROM tdays WHERE i > 150 AND i % 17 = 0;
SELECT is((SELECT count(*) FROM full_x o JOIN stockml.features_spec('EXOS', (SELECT spec FROM spec)) n USING (day)
            WHERE day <= (SELECT t FROM cut) AND o.x IS DISTINCT FROM n.x)::int, 0,
          'x up to t unchanged after changing and adding ^EXO bars after t');
SELECT ok((SELECT count(*) FROM full_x o JOIN stockml.features_spec('EXOS', (SELECT spec FROM spec)) n USING (day)
            WHERE day > (SELECT t FROM cut) AND o.x IS DISTINCT FROM n.x) > 0,
          'x after t did change (the test sees changes)');
DELETE FROM stockml.prices WHERE symbol = '^EXO' AND day > (SELECT t FROM cut);
SELECT is((SELECT count(*) FROM full_x o JOIN stockml.features_spec('EXOS', (SELECT spec FROM spec)) n USING (day)
            WHERE day <= (SELECT t FROM cut) AND o.x IS DISTINCT FROM n.x)::int, 0,
          'x up to t unchanged after deleting ^EXO bars after t');
SELECT is((SELECT count(DISTINCT x[2]) FROM stockml.features_spec('EXOS', (SELECT spec FROM spec)) WHERE day >= (SELECT t FROM cut))::int, 1,
          'after ^EXO''s last bar its value is carried forward');
SELECT is((SELECT count(*) FROM full_x o JOIN stockml.features_spec('EXOS', (SELECT spec FROM spec)) n USING (day)
            WHERE o.x[1] IS DISTINCT FROM n.x[1] OR o.x[4:6] IS DISTINCT FROM n.x[4:6])::int, 0,
          'the symbol''s own and calendar features do not depend on ^EXO');

-- calendar features against the independent computation (every NYSE trading day 2000-2030;
-- the reference's holiday list starts in 2000, so days_since_holiday is compared from its
-- first holiday on)
CREATE TEMP TABLE cal_ref (day date, weekday int, days_to_month_end int, days_since_holiday int);
\copy cal_ref FROM 'test/reference/calendar_features.csv' WITH (FORMAT csv, HEADER true)
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT 'CALS', day, 10, 10, 10, 10, 0 FROM cal_ref;
CREATE TEMP TABLE cal_x AS SELECT * FROM stockml.features_spec('CALS', '{"features": [
    {"name": "dow", "indicator": "weekday"}, {"name": "to_month_end", "indicator": "days_to_month_end"},
    {"name": "since_holiday", "indicator": "days_since_holiday"}]}');
SELECT is((SELECT count(*) FROM cal_x)::int, (SELECT count(*) FROM cal_ref)::int, 'one row per reference day (7794)');
SELECT is((SELECT count(*) FROM cal_x JOIN cal_ref USING (day)
            WHERE x[1] <> weekday OR x[2] <> days_to_month_end
               OR (day >= '2000-01-17' AND x[3] <> days_since_holiday))::int, 0,
          'weekday, days_to_month_end, days_since_holiday equal the python computation');
SELECT ok((SELECT count(DISTINCT x[3]) FROM cal_x) > 50 AND (SELECT max(x[2]) FROM cal_x) >= 20,
          'the reference exercises the features (many distinct values)');

-- a known symbol without bars has no rows, whatever the spec reads
INSERT INTO stockml.symbols (symbol) VALUES ('EXEMPTY');
SELECT is((SELECT count(*) FROM stockml.features_spec('EXEMPTY', (SELECT spec FROM spec)))::int, 0,
          'a symbol without bars: no rows');

-- bars from XNYS's first day on: the holiday walk does not look before the calendar's start
INSERT INTO stockml.symbols (symbol) VALUES ('OLD');
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT 'OLD', d, 10, 10, 10, 10, 0 FROM generate_series('1900-01-02'::date, '1900-01-12', '1 day') d
 WHERE extract(isodow FROM d) < 6;
SELECT is((SELECT count(*) FROM stockml.features_spec('OLD', '{"features": [{"name": "h", "indicator": "days_since_holiday"}]}'))::int,
          9, 'calendar features of bars from 1900-01-02 on');

-- bad specs
SELECT throws_ok($$SELECT * FROM stockml.features_spec('EXOS', '{"features": [{"name": "a", "indicator": "log_return", "symbol": "^NONE"}]}')$$,
                 'P0002', 'feature "a" reads symbol "^NONE", which has no stored bars', 'an unknown other symbol is an ERROR');
SELECT throws_like($$SELECT stockml.feature_spec_check('{"features": [{"name": "a", "indicator": "weekday", "symbol": "^EXO"}]}')$$,
                   '%calendar feature weekday takes no "symbol"%', 'a calendar feature takes no symbol');
SELECT throws_like($$SELECT stockml.feature_spec_check('{"features": [{"name": "a", "indicator": "rsi", "symbol": "no space"}]}')$$,
                   '%"symbol" must be a symbol%', 'an invalid symbol is refused');

SELECT * FROM finish();
ROLLBACK;
