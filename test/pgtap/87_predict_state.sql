-- predict(model, symbol) from its kept feature state (issue 13 item 1, src/feature_state.c):
-- over random histories of two symbols (one with an adjusted close like Yahoo's, one without,
-- with splits and dividends in corporate_actions) and 400 random steps — appends (some with a
-- new adj_close / close ratio), edits of old bars, inserts in the middle, deletions, a
-- re-adjustment of the whole history, corporate actions, writes rolled back, writes and a
-- predict in the same transaction — every predict() of two models (the default set; a set of
-- every indicator kind and the calendar features) equals, bit for bit (float8 =, which is
-- exact), the same call computed from all bars (stockml.feature_state_cache_size = 0).
-- Each step commits: the state is per backend and kept across transactions, so this file runs
-- outside a transaction block and removes what it made at the end (and at the start, after a
-- failed run).  The counts of stockml.feature_state_stats() show every path was taken, and a
-- write the triggers do not see (trigger disabled) is caught by the same comparison.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(12);

-- leftovers of an earlier run
DO $$
BEGIN
    IF EXISTS (SELECT FROM stockml.models WHERE name = 'pst_default') THEN PERFORM stockml.drop_model('pst_default'); END IF;
    IF EXISTS (SELECT FROM stockml.models WHERE name = 'pst_all') THEN PERFORM stockml.drop_model('pst_all'); END IF;
END $$;
DELETE FROM stockml.symbols WHERE symbol IN ('PSTA', 'PSTB');
DELETE FROM stockml.feature_sets WHERE name = 'pst_all';
-- a deletion leaves last_day where it was, so later inserts would all count as edits
DELETE FROM stockml.bar_changes WHERE symbol IN ('PSTA', 'PSTB');

INSERT INTO stockml.feature_sets (name, spec) VALUES ('pst_all', $${"features": [
  {"name": "r1", "indicator": "log_return", "k": 1}, {"name": "r3", "indicator": "log_return", "k": 3},
  {"name": "mom", "indicator": "momentum", "n": 7}, {"name": "vol", "indicator": "volatility", "n": 9},
  {"name": "sma", "indicator": "sma_ratio", "n": 8}, {"name": "ema", "indicator": "ema_ratio", "n": 11},
  {"name": "rsi", "indicator": "rsi", "n": 6}, {"name": "macd", "indicator": "macd", "fast": 5, "slow": 13},
  {"name": "sig", "indicator": "macd_signal", "fast": 5, "slow": 13, "signal": 4},
  {"name": "bb", "indicator": "bb_pctb", "n": 10, "k": 1.5}, {"name": "atr", "indicator": "atr", "n": 5},
  {"name": "z", "indicator": "zscore", "n": 12}, {"name": "vz", "indicator": "volume_zscore", "n": 6},
  {"name": "range", "indicator": "range"}, {"name": "wd", "indicator": "weekday"},
  {"name": "me", "indicator": "days_to_month_end"}, {"name": "hol", "indicator": "days_since_holiday"}]}$$);
INSERT INTO stockml.symbols (symbol, calendar) VALUES ('PSTA', 'XNYS'), ('PSTB', 'weekdays');

-- the next bar after (day, close): the next weekday, a random move; PSTA's adj_close = close
CREATE FUNCTION pg_temp.next_weekday(d date) RETURNS date LANGUAGE sql AS
$$ SELECT CASE extract(isodow FROM d) WHEN 5 THEN d + 3 WHEN 6 THEN d + 2 ELSE d + 1 END $$;
CREATE FUNCTION pg_temp.add_bars(sym text, n int, ratio float8 DEFAULT 1) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    d date;
    c float8;
    h float8;
    l float8;
BEGIN
    SELECT p.day, p.close INTO d, c FROM stockml.prices p WHERE p.symbol = sym ORDER BY p.day DESC LIMIT 1;
    IF d IS NULL THEN d := DATE '2015-01-02'; c := 50; END IF;
    FOR i IN 1 .. n LOOP
        d := pg_temp.next_weekday(d);
        c := c * exp(0.03 * (random() - 0.5));
        h := c * (1 + 0.01 * random());
        l := c * (1 - 0.01 * random());
        INSERT INTO stockml.prices (symbol, day, open, high, low, close, adj_close, volume)
        VALUES (sym, d, l + (h - l) * random(), h, l, c,
                CASE WHEN sym = 'PSTA' THEN c * ratio END, floor(random() * 1e6)::bigint);
    END LOOP;
END $$;
-- every predict() of both models on both symbols, kept state against all bars
-- a call's whole row as jsonb: float8 in its shortest exact form, so jsonb = is float8 =
CREATE TEMP TABLE compared (step int, model text, symbol text, kept jsonb, full_ jsonb);
CREATE FUNCTION pg_temp.compare(step int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    m record;
    s text;
    kept jsonb;
    full_ jsonb;
BEGIN
    FOR m IN SELECT name, max(version) AS version FROM stockml.models WHERE name IN ('pst_default', 'pst_all') GROUP BY name LOOP
        FOREACH s IN ARRAY ARRAY['PSTA', 'PSTB'] LOOP
            SELECT to_jsonb(p) INTO kept FROM stockml.predict(m.name, s, version => m.version) p;
            PERFORM set_config('stockml.feature_state_cache_size', '0', true);
            SELECT to_jsonb(p) INTO full_ FROM stockml.predict(m.name, s, version => m.version) p;
            PERFORM set_config('stockml.feature_state_cache_size', '1024', true);
            INSERT INTO compared VALUES (step, m.name, s, kept, full_);
        END LOOP;
    END LOOP;
END $$;

SELECT setseed(0.1313);
SELECT pg_temp.add_bars('PSTA', 300), pg_temp.add_bars('PSTB', 300);
SELECT is((SELECT count(*) FROM stockml.train('pst_default', ARRAY['PSTA', 'PSTB'])), 1::bigint, 'model on the default set');
SELECT is((SELECT count(*) FROM stockml.train('pst_all', ARRAY['PSTA', 'PSTB'], feature_set => 'pst_all')), 1::bigint,
          'model on every indicator kind and the calendar features');

CREATE PROCEDURE pg_temp.run(steps int) LANGUAGE plpgsql AS $$
DECLARE
    op float8;
    sym text;
    d date;
BEGIN
    FOR step IN 1 .. steps LOOP
        sym := CASE WHEN random() < 0.5 THEN 'PSTA' ELSE 'PSTB' END;
        op := random();
        -- a random stored day of sym, not among its last 5 nor its first 60
        SELECT p.day INTO d FROM stockml.prices p WHERE p.symbol = sym
         ORDER BY p.day OFFSET 60 + floor(random() * greatest((SELECT count(*) FROM stockml.prices q WHERE q.symbol = sym) - 66, 1)) LIMIT 1;
        IF op < 0.40 THEN
            PERFORM pg_temp.add_bars(sym, 1 + floor(random() * 3)::int);
        ELSIF op < 0.44 THEN
            -- a new adjusted-close ratio: earlier bars rescale
            PERFORM pg_temp.add_bars(sym, 1, 0.97 + 0.02 * random());
        ELSIF op < 0.52 THEN
            UPDATE stockml.prices SET close = close * 1.01, high = high * 1.02 WHERE symbol = sym AND day = d;
        ELSIF op < 0.58 THEN
            DELETE FROM stockml.prices WHERE symbol = sym AND day = d;
        ELSIF op < 0.64 THEN
            -- a missing weekday inside the history (left by a deletion), inserted again
            INSERT INTO stockml.prices (symbol, day, open, high, low, close, adj_close, volume)
            SELECT sym, g.day, p.close, p.high, p.low, p.close, p.adj_close, p.volume
              FROM stockml.prices p, LATERAL (SELECT pg_temp.next_weekday(p.day) AS day) g
             WHERE p.symbol = sym AND p.day > d
               AND NOT EXISTS (SELECT FROM stockml.prices q WHERE q.symbol = sym AND q.day = g.day)
               AND g.day < (SELECT max(day) FROM stockml.prices q WHERE q.symbol = sym)
             ORDER BY p.day LIMIT 1;
        ELSIF op < 0.66 THEN
            -- the provider re-adjusted the whole history (what refresh()'s readjust.c stores)
            UPDATE stockml.prices SET open = open / 2, high = high / 2, low = low / 2, close = close / 2,
                                      volume = volume * 2
             WHERE symbol = sym;
        ELSIF op < 0.70 THEN
            IF random() < 0.5 THEN
                INSERT INTO stockml.corporate_actions (symbol, day, kind, numerator, denominator, source)
                VALUES (sym, d, 'split', 3, 2, 'test') ON CONFLICT DO NOTHING;
            ELSE
                INSERT INTO stockml.corporate_actions (symbol, day, kind, amount, source)
                VALUES (sym, d, 'dividend', 0.05, 'test') ON CONFLICT DO NOTHING;
            END IF;
        ELSIF op < 0.76 THEN
            -- written, served in the same transaction, rolled back
            PERFORM pg_temp.add_bars(sym, 2);
            UPDATE stockml.prices SET close = close * 0.99, low = low * 0.98 WHERE symbol = sym AND day = d;
            PERFORM pg_temp.compare(step);
            ROLLBACK;
        ELSIF op < 0.80 THEN
            -- written and served in one transaction, committed
            PERFORM pg_temp.add_bars(sym, 1);
            PERFORM pg_temp.compare(step);
        END IF;
        COMMIT;
        PERFORM pg_temp.compare(step);
        COMMIT;
    END LOOP;
END $$;

CALL pg_temp.run(400);

SELECT is((SELECT count(*) FROM compared WHERE kept ->> 'as_of' IS NULL OR jsonb_typeof(kept -> 'predicted_close') IS DISTINCT FROM 'number'), 0::bigint,
          'every call gave a forecast');
SELECT is((SELECT count(*) FROM compared WHERE kept IS DISTINCT FROM full_), 0::bigint,
          'kept state = all bars, bit for bit, in every call (every column: as_of, target_day, predicted_close, lower, upper, p_up)');
SELECT cmp_ok((SELECT count(*) FROM compared), '>=', 1600::bigint, 'at least 400 steps x 4 calls compared');
SELECT cmp_ok((SELECT count(DISTINCT (kept ->> 'as_of')) FROM compared WHERE symbol = 'PSTA'), '>', 50::bigint,
              'the last bar moved along');
SELECT cmp_ok((SELECT count(*) FROM compared WHERE (kept ->> 'lower')::float8 < (kept ->> 'upper')::float8), '>', 0::bigint,
              'the volatility-scaled interval was compared too');
SELECT cmp_ok((SELECT hits FROM stockml.feature_state_stats()), '>', 100::bigint, 'calls served with no bar read');
SELECT cmp_ok((SELECT appends FROM stockml.feature_state_stats()), '>', 50::bigint, 'calls that read only appended bars');
SELECT cmp_ok((SELECT rebuilds FROM stockml.feature_state_stats()), '>', 50::bigint,
              'calls that rebuilt the state after an edit, a rescale or a corporate action');
SELECT cmp_ok((SELECT bypassed FROM stockml.feature_state_stats()), '>', 50::bigint,
              'calls that read every bar (own uncommitted writes, cache size 0)');

-- the comparison catches a stale state: an edit the triggers do not see
SELECT pg_temp.compare(-1);
ALTER TABLE stockml.prices DISABLE TRIGGER bars_updated;
UPDATE stockml.prices SET close = close * 1.05, high = high * 1.05 WHERE symbol = 'PSTB'
   AND day = (SELECT day FROM stockml.prices WHERE symbol = 'PSTB' ORDER BY day DESC OFFSET 10 LIMIT 1);
ALTER TABLE stockml.prices ENABLE ALWAYS TRIGGER bars_updated;
SELECT pg_temp.compare(-2);
SELECT cmp_ok((SELECT count(*) FROM compared WHERE step = -2 AND symbol = 'PSTB' AND kept IS DISTINCT FROM full_), '>', 0::bigint,
              'an edit hidden from bar_changes shows as a difference (the comparison can fail)');

DO $$ BEGIN PERFORM stockml.drop_model('pst_default'); PERFORM stockml.drop_model('pst_all'); END $$;
DELETE FROM stockml.symbols WHERE symbol IN ('PSTA', 'PSTB');
DELETE FROM stockml.feature_sets WHERE name = 'pst_all';
DELETE FROM stockml.bar_changes WHERE symbol IN ('PSTA', 'PSTB');
SELECT * FROM finish();
