-- Re-adjusted history stays consistent (issue 9 item 2): the mock's SPLIT (Yahoo) and
-- split.us (Stooq) change their whole history between two refreshes, as the providers do
-- on a 2:1 split (test/fixtures/mock_http.py, readjusting_history).  The first load is
-- the history as seen on 2020-08-27 (old scale), refresh() sees it after the split.
BEGIN;
SELECT plan(28);

-- ---------------------------------------------------------------- Yahoo: a new split event
SELECT is(status, 'ok', 'SPLIT up to 2020-08-27 loaded on the old scale')
  FROM stockml.ingest_yahoo('SPLIT', NULL, '2020-08-27');
CREATE TEMP TABLE old_bars AS SELECT day, close, adj_close, volume FROM stockml.prices WHERE symbol = 'SPLIT';
-- a bar older than the provider's history (loaded by hand): re-scaled like its neighbour
INSERT INTO stockml.prices (symbol, day, open, high, low, close, adj_close, volume, source)
VALUES ('SPLIT', '2019-12-31', 398, 401, 397, 400, 399, 500000, 'csv');

-- a forecast made on 2020-08-27 for two trading days ahead (2020-08-31, the split day),
-- on the scale of 2020-08-27 as then quoted; and one made and realized before the split
SELECT ok(version = 1, 'naive model on SPLIT trained')
  FROM stockml.train('readj_naive', ARRAY['SPLIT'], 'naive', horizon => 2);
SELECT version FROM stockml.deploy('readj_naive', 1, reason => 'score it') \g /dev/null
SELECT is(count(*)::int, 1, 'one forecast recorded') FROM stockml.forecast('readj_naive');
SELECT is(target_day, '2020-08-31'::date, 'it targets the split day') FROM stockml.predictions WHERE model_name = 'readj_naive';
INSERT INTO stockml.predictions (model_id, model_name, model_version, symbol, as_of, target_day, predicted_close, lower, upper)
SELECT l.model_id, l.model_name, l.model_version, l.symbol, '2020-08-24', '2020-08-26', p.close * 1.01, p.close * 0.9, p.close * 1.1
  FROM stockml.predictions l, stockml.prices p
 WHERE model_name = 'readj_naive' AND p.symbol = 'SPLIT' AND p.day = '2020-08-24';
CREATE TEMP TABLE old_ledger AS
SELECT as_of, predicted_close, actual_close FROM stockml.forecast_history WHERE model_name = 'readj_naive';

CREATE TEMP TABLE r1 AS SELECT * FROM stockml.refresh(ARRAY['SPLIT']);
SELECT is(count(*)::int, 1, 'refresh: one ingest_log row for SPLIT') FROM r1;
SELECT is(status, 'ok', 'refresh: status ok') FROM r1;
SELECT matches(error, '^re-adjusted: split 2:1 on 2020-08-31; full history re-fetched, 172 bars rewritten, 24 new, 1 stored bars the provider no longer sends re-scaled like their neighbours, 2 forecasts put on the new scale$',
               'the ingest_log row says what happened: ' || error) FROM r1;
SELECT is(rows_updated, (SELECT count(*) FROM old_bars), 'every stored bar was rewritten') FROM r1;
SELECT is(rows_inserted, (SELECT count(*) FROM stockml.prices WHERE symbol = 'SPLIT' AND day > '2020-08-27'),
          'the days after the stored history were added') FROM r1;

-- every stored bar is on the new scale: a full fetch now changes nothing
SELECT is(rows_updated, 0::bigint, 'a full fetch after the refresh changes no bar: all are on the new scale')
  FROM stockml.ingest_yahoo('SPLIT');
SELECT ok(bool_and(abs(p.close / o.close - 0.5) < 0.001) AND bool_and(p.volume = 2 * o.volume),
          'each old bar halved (price) and doubled (volume)')
  FROM stockml.prices p JOIN old_bars o USING (day) WHERE p.symbol = 'SPLIT';
SELECT ok(abs(close / 200 - (SELECT p.close / o.close FROM stockml.prices p JOIN old_bars o USING (day)
                                WHERE p.symbol = 'SPLIT' AND day = '2020-01-02') * 2) < 1e-9 AND volume = 1000000,
          'the older bar is re-scaled like the first bar the provider sent') FROM stockml.prices
 WHERE symbol = 'SPLIT' AND day = '2019-12-31';
SELECT is(amount, 0.41::float8, 'the dividend is restated on the new scale') FROM stockml.corporate_actions
 WHERE symbol = 'SPLIT' AND kind = 'dividend';

-- no -50 % on the split day in the adjusted series, the features or the targets
SELECT ok(max(abs(x[1])) < 0.1 AND max(abs(y)) < 0.1, 'features: no split-sized return (max |ret_1| '
          || round(max(abs(x[1]))::numeric, 4) || ', max |y| ' || round(max(abs(y))::numeric, 4) || ')')
  FROM stockml.features('SPLIT');
SELECT ok(abs(ln(stockml.total_return('SPLIT', '2020-08-28', '2020-08-31'))) < 0.1,
          'total return over the split day is an ordinary move');

-- the ledger: forecasts put on the new scale, realized on it; the relative error is unchanged
SELECT ok(abs(n.predicted_close / o.predicted_close - 0.5) < 0.001, 'forecast of ' || n.as_of || ' halved')
  FROM stockml.forecast_history n JOIN old_ledger o USING (as_of) WHERE n.model_name = 'readj_naive' ORDER BY as_of;
SELECT ok(abs(n.predicted_close / n.actual_close - o.predicted_close / o.actual_close) < 1e-3,
          'forecast made and realized before the split keeps its relative error')
  FROM stockml.forecast_history n JOIN old_ledger o USING (as_of) WHERE n.model_name = 'readj_naive' AND n.as_of = '2020-08-24';
SELECT ok(abs(predicted_close / actual_close - 1) < 0.1,
          'forecast across the split is scored on one scale (predicted ' || round(predicted_close::numeric, 2)
          || ', realized ' || round(actual_close::numeric, 2) || ')')
  FROM stockml.forecast_history WHERE model_name = 'readj_naive' AND as_of = '2020-08-27';

-- a second refresh finds one scale: no re-adjustment
SELECT is(error, NULL, 'the next refresh re-adjusts nothing') FROM stockml.refresh(ARRAY['SPLIT']);

-- a re-adjustment whose full-history fetch fails stores nothing: one old scale stays
SELECT is(status, 'ok', 'SPLITFAIL up to 2020-08-27') FROM stockml.ingest_yahoo('SPLITFAIL', '2020-01-01', '2020-08-27');
CREATE TEMP TABLE fail_before AS SELECT day, close FROM stockml.prices WHERE symbol = 'SPLITFAIL';
CREATE TEMP TABLE r4 AS SELECT * FROM stockml.refresh(ARRAY['SPLITFAIL']);
SELECT ok(status = 'failed' AND error LIKE 're-adjustment needed (split 2:1 on 2020-08-31), but storing the full history failed: %; nothing stored, the stored bars keep their scale',
          'failed full fetch: ' || error) FROM r4;
SELECT is((SELECT count(*) FROM (SELECT day, close FROM stockml.prices WHERE symbol = 'SPLITFAIL') p
                FULL JOIN fail_before b USING (day) WHERE p.close IS DISTINCT FROM b.close)::int, 0,
          'its stored bars are unchanged');

-- ------------------------------------------------- Stooq: no event, the overlap disagrees
SELECT is(status, 'ok', 'split.us up to 2020-08-27 from Stooq') FROM stockml.ingest_stooq('split.us', '2020-01-01', '2020-08-27');
CREATE TEMP TABLE r2 AS SELECT * FROM stockml.refresh(ARRAY['split.us']);
SELECT matches(error, '^re-adjusted: overlap day 2020-08-24: close [0-9.]+ stored, [0-9.]+ fetched; full history re-fetched, [0-9]+ bars rewritten, [0-9]+ new$',
               'overlap disagreement without an event re-adjusts: ' || error) FROM r2;
SELECT ok(max(abs(x[1])) < 0.1 AND max(abs(y)) < 0.1, 'split.us features: no split-sized return')
  FROM stockml.features('split.us');

-- -------------------------------------------------- a rounding difference is not a split
SELECT is(status, 'ok', 'round.us up to 2020-08-27 from Stooq') FROM stockml.ingest_stooq('round.us', '2020-01-01', '2020-08-27');
CREATE TEMP TABLE r3 AS SELECT * FROM stockml.refresh(ARRAY['round.us']);
SELECT ok(error IS NULL AND rows_updated = (SELECT count(*) FROM stockml.prices WHERE symbol = 'round.us' AND day BETWEEN '2020-08-22' AND '2020-08-27'),
          'prices 0.004 higher on the overlap: updated in place, no re-adjustment (updated '
          || rows_updated || ', error ' || coalesce(error, 'none') || ')') FROM r3;

SELECT * FROM finish();
ROLLBACK;
