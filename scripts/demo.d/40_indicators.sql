-- indicators and features: the latest technical indicators of MSFT
\echo 'Window aggregates over the bars, the last 5 days:'
SELECT * FROM (
  SELECT day, close,
         round(stockml.sma(close, 20) OVER w::numeric, 2)              AS sma_20,
         round(stockml.ema(close, 20) OVER w::numeric, 2)              AS ema_20,
         round(stockml.rsi(close, 14) OVER w::numeric, 1)              AS rsi_14,
         round(stockml.macd(close, 12, 26) OVER w::numeric, 3)         AS macd,
         round(stockml.macd_signal(close, 12, 26, 9) OVER w::numeric, 3) AS signal,
         round(stockml.bb_pctb(close, 20, 2) OVER w::numeric, 3)       AS pctb,
         round(stockml.atr(high, low, close, 14) OVER w::numeric, 2)   AS atr_14,
         round(stockml.zscore(close, 20) OVER w::numeric, 2)           AS z_20,
         round(stockml.log_return(close) OVER w::numeric, 4)           AS ret_1,
         round(stockml.momentum(close, 10) OVER w::numeric, 4)         AS mom_10
    FROM stockml.prices WHERE symbol = 'MSFT'
  WINDOW w AS (PARTITION BY symbol ORDER BY day)
   ORDER BY day DESC LIMIT 5) last ORDER BY day;
\echo 'As a plain ordered aggregate: RSI(14) at the last bar'
SELECT round(stockml.rsi(close, 14 ORDER BY day)::numeric, 2) AS rsi_14 FROM stockml.prices WHERE symbol = 'MSFT';
\echo 'The default feature set: rows from the 50th bar on (warm-up), y = next log return:'
SELECT count(*) AS rows, min(day) AS first_day, max(day) AS last_day, count(y) AS with_y,
       stockml.feature_spec_warmup((SELECT spec FROM stockml.feature_sets WHERE name = 'default')) AS warmup
  FROM stockml.features('MSFT');
\echo 'The latest feature vector, by name:'
SELECT n.name, round(f.x[n.i]::numeric, 4) AS value
  FROM (SELECT * FROM stockml.features('MSFT') ORDER BY day DESC LIMIT 1) f,
       unnest((SELECT stockml.feature_names(spec) FROM stockml.feature_sets WHERE name = 'default'))
       WITH ORDINALITY n(name, i)
 ORDER BY n.i;
