-- stockml.bar_changes beyond the bars (sql/install/32_bar_changes.sql, src/feature_state.c):
-- predict()'s kept state keeps the symbol's calendar with it, so a change of the symbol's
-- calendar or exchange in stockml.symbols must move write_id; every call here compares the
-- kept answer with the same call computed from all bars and the symbols row
-- (stockml.feature_state_cache_size = 0), on a feature set with calendar features, so a
-- stale calendar shows in target_day and in the features.  And a symbol's row goes with the
-- symbol: deleted with its bars, after its bars, renamed, truncated.
-- Each step commits (the state is per backend, kept across transactions), so this file runs
-- outside a transaction block and removes what it made at the end (and at the start).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(23);

DO $$ BEGIN
    IF EXISTS (SELECT FROM stockml.models WHERE name = 'bch_cal') THEN PERFORM stockml.drop_model('bch_cal'); END IF;
END $$;
DELETE FROM stockml.symbols WHERE symbol LIKE 'BCH%';
DELETE FROM stockml.bar_changes WHERE symbol LIKE 'BCH%';
DELETE FROM stockml.feature_sets WHERE name = 'bch_cal';

INSERT INTO stockml.feature_sets (name, spec) VALUES ('bch_cal', $${"features": [
  {"name": "r1", "indicator": "log_return", "k": 1}, {"name": "vol", "indicator": "volatility", "n": 9},
  {"name": "wd", "indicator": "weekday"}, {"name": "hol", "indicator": "days_since_holiday"}]}$$);
INSERT INTO stockml.symbols (symbol, calendar) VALUES ('BCHA', 'XNYS'), ('BCHB', NULL), ('BCHC', NULL), ('BCHD', NULL);
SELECT setseed(0.77);
-- weekdays up to Thursday 2020-12-31: the next trading day is 2021-01-04 in XNYS (New
-- Year's Day), 2021-01-01 on weekdays and 24x7
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT s, d::date, c, c * 1.01, c * 0.99, c, 1000
  FROM unnest(ARRAY['BCHA', 'BCHB', 'BCHC']) s,
       LATERAL (SELECT d, 100 * exp(sum(0.02 * (random() - 0.5)) OVER (ORDER BY d)) AS c
                  FROM generate_series(DATE '2019-06-03', DATE '2020-12-31', '1 day') d
                 WHERE extract(isodow FROM d) < 6) b;
SELECT is((SELECT count(*) FROM stockml.train('bch_cal', ARRAY['BCHA'], feature_set => 'bch_cal',
                                               params => '{"auto_deploy": false}')), 1::bigint, 'model with calendar features');

-- one call kept and from all bars, and how the kept one was served
CREATE TEMP TABLE calls (step text, kept jsonb, full_ jsonb, served text);
CREATE FUNCTION pg_temp.call(step text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    before record;
    after record;
    kept jsonb;
    full_ jsonb;
BEGIN
    SELECT * INTO before FROM stockml.feature_state_stats();
    SELECT to_jsonb(p) INTO kept FROM stockml.predict('bch_cal', 'BCHA', version => 1) p;
    SELECT * INTO after FROM stockml.feature_state_stats();
    PERFORM set_config('stockml.feature_state_cache_size', '0', true);
    SELECT to_jsonb(p) INTO full_ FROM stockml.predict('bch_cal', 'BCHA', version => 1) p;
    PERFORM set_config('stockml.feature_state_cache_size', '1024', true);
    INSERT INTO calls VALUES (step, kept, full_,
        CASE WHEN after.hits > before.hits THEN 'hit' WHEN after.appends > before.appends THEN 'append'
             WHEN after.rebuilds > before.rebuilds THEN 'rebuild' ELSE 'bypassed' END);
    -- for a call in a transaction rolled back, which takes the row along
    RETURN (SELECT format('%s %s %s', c.kept ->> 'target_day', c.served, c.kept = c.full_)
              FROM calls c WHERE c.step = call.step);
END $$;
CREATE FUNCTION pg_temp.write_id() RETURNS bigint LANGUAGE sql AS
$$ SELECT write_id FROM stockml.bar_changes WHERE symbol = 'BCHA' $$;

SELECT pg_temp.call('warm'), pg_temp.call('xnys');
SELECT is((SELECT kept ->> 'target_day' || ' ' || served FROM calls WHERE step = 'xnys'), '2021-01-04 hit',
          'XNYS: served from the kept state with its calendar');

UPDATE stockml.symbols SET calendar = '24x7' WHERE symbol = 'BCHA';
SELECT pg_temp.call('24x7');
SELECT is((SELECT kept ->> 'target_day' FROM calls WHERE step = '24x7'), '2021-01-01', 'calendar 24x7 followed');
SELECT is((SELECT served FROM calls WHERE step = '24x7'), 'append', 'the state continued (no bar to read), not rebuilt');

UPDATE stockml.symbols SET calendar = NULL, exchange = 'NYQ' WHERE symbol = 'BCHA';
SELECT pg_temp.call('nyq'), pg_temp.call('nyq again');
SELECT is((SELECT kept ->> 'target_day' FROM calls WHERE step = 'nyq'), '2021-01-04', 'no calendar, exchange NYQ: XNYS');
SELECT is((SELECT served FROM calls WHERE step = 'nyq again'), 'hit', 'then served with no read');

UPDATE stockml.symbols SET exchange = 'CCY' WHERE symbol = 'BCHA';
SELECT pg_temp.call('ccy');
SELECT is((SELECT kept ->> 'target_day' FROM calls WHERE step = 'ccy'), '2021-01-01', 'exchange CCY: weekdays');

-- a write that changes neither leaves write_id
SELECT pg_temp.write_id() AS w \gset
UPDATE stockml.symbols SET active = false, timezone = 'Europe/London', calendar = calendar WHERE symbol = 'BCHA';
SELECT is(pg_temp.write_id(), :w::bigint, 'a write of other columns (or the same calendar) leaves write_id');

-- a change rolled back: the kept calendar serves again
BEGIN;
UPDATE stockml.symbols SET calendar = 'XNYS' WHERE symbol = 'BCHA';
SELECT pg_temp.call('own') AS own \gset
ROLLBACK;
SELECT pg_temp.call('rolled back');
SELECT is(:'own'::text, '2021-01-04 bypassed t', 'the writer''s own uncommitted calendar, read from the table');
SELECT is((SELECT kept ->> 'target_day' || ' ' || served FROM calls WHERE step = 'rolled back'), '2021-01-01 hit',
          'rolled back: the kept calendar again');

-- Friday 2021-01-01: an append; the next day is Saturday in 24x7, Monday on weekdays
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume) VALUES ('BCHA', '2021-01-01', 100, 101, 99, 100, 1000);
UPDATE stockml.symbols SET calendar = '24x7' WHERE symbol = 'BCHA';
SELECT pg_temp.call('append 24x7');
SELECT is((SELECT kept ->> 'target_day' FROM calls WHERE step = 'append 24x7'), '2021-01-02', 'an append and a calendar change');

SELECT is((SELECT count(*) FROM calls WHERE kept IS DISTINCT FROM full_), 0::bigint,
          'every kept answer = the answer from all bars and the symbols row (every column)');

-- the comparison catches a stale calendar: a change the trigger does not see
ALTER TABLE stockml.symbols DISABLE TRIGGER symbols_calendar_changed;
UPDATE stockml.symbols SET calendar = 'weekdays' WHERE symbol = 'BCHA';
ALTER TABLE stockml.symbols ENABLE ALWAYS TRIGGER symbols_calendar_changed;
SELECT pg_temp.call('hidden');
SELECT is((SELECT (kept ->> 'target_day') || ' ' || (full_ ->> 'target_day') FROM calls WHERE step = 'hidden'),
          '2021-01-02 2021-01-04', 'a calendar change hidden from bar_changes is served stale (the comparison can fail)');
UPDATE stockml.symbols SET calendar = 'XNYS' WHERE symbol = 'BCHA';
SELECT pg_temp.call('after hidden');
SELECT is((SELECT (kept = full_)::text || ' ' || (kept ->> 'target_day') FROM calls WHERE step = 'after hidden'),
          'true 2021-01-04', 'the next change seen moves it on');

-- a symbol's row goes with the symbol
SELECT is((SELECT count(*) FROM stockml.bar_changes WHERE symbol IN ('BCHB', 'BCHC')), 2::bigint, 'rows of the symbols with bars');
DELETE FROM stockml.symbols WHERE symbol = 'BCHB';
SELECT is((SELECT count(*) FROM stockml.bar_changes WHERE symbol = 'BCHB'), 0::bigint,
          'deleted with its bars (the cascade''s trigger does not write it back)');
INSERT INTO stockml.corporate_actions (symbol, day, kind, amount, source) VALUES ('BCHC', '2020-06-01', 'dividend', 0.5, 'test');
DELETE FROM stockml.prices WHERE symbol = 'BCHC';
SELECT is((SELECT count(*) FROM stockml.bar_changes WHERE symbol = 'BCHC'), 1::bigint, 'bars deleted: the row stays (the symbol does)');
DELETE FROM stockml.symbols WHERE symbol = 'BCHC';
SELECT is((SELECT count(*) FROM stockml.bar_changes WHERE symbol = 'BCHC'), 0::bigint,
          'then the symbol deleted (its corporate action with it): the row goes');
-- a symbol without bars that had some: renamed
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume) VALUES ('BCHD', '2020-01-02', 1, 1, 1, 1, 1);
DELETE FROM stockml.prices WHERE symbol = 'BCHD';
UPDATE stockml.symbols SET symbol = 'BCHE' WHERE symbol = 'BCHD';
SELECT is((SELECT count(*) FROM stockml.bar_changes WHERE symbol IN ('BCHD', 'BCHE')), 0::bigint, 'renamed: the old name''s row goes');
SELECT is((SELECT count(*) FROM stockml.bar_changes b WHERE NOT EXISTS (SELECT FROM stockml.symbols s WHERE s.symbol = b.symbol)),
          0::bigint, 'no row of a symbol that is not stored');
BEGIN;
SET LOCAL lock_timeout = '20s';
TRUNCATE stockml.symbols CASCADE;
SELECT is((SELECT count(*) FROM stockml.bar_changes), 0::bigint, 'TRUNCATE stockml.symbols CASCADE: no row left');
ROLLBACK;
SELECT is((SELECT count(*) FROM stockml.bar_changes WHERE symbol = 'BCHA'), 1::bigint, '(rolled back)');

-- after all of it, the kept answer is still the full one
SELECT pg_temp.call('end');
SELECT is((SELECT kept FROM calls WHERE step = 'end'), (SELECT full_ FROM calls WHERE step = 'end'), 'the last call too');

DO $$ BEGIN PERFORM stockml.drop_model('bch_cal'); END $$;
DELETE FROM stockml.symbols WHERE symbol LIKE 'BCH%';
DELETE FROM stockml.feature_sets WHERE name = 'bch_cal';
SELECT * FROM finish();
