-- Trading calendars: XNYS against an independent list of NYSE closures 2000-2030
-- (test/reference/nyse_holidays.py wrote test/reference/nyse_holidays.csv), the days
-- around holidays, weekdays and 24x7, exchanges and symbols, and bad input.
SET datestyle = 'ISO, YMD';
CREATE TEMP TABLE nyse_ref (day date PRIMARY KEY, holiday text);
\copy nyse_ref FROM 'test/reference/nyse_holidays.csv' WITH (FORMAT csv, HEADER true)
SELECT count(*) AS reference_closures FROM nyse_ref;
-- every weekday of 2000-2030 that XNYS closes is in the reference, and the other way round
SELECT coalesce(c.day, r.day) AS day, r.holiday, c.day IS NOT NULL AS closed_by_stockml
  FROM (SELECT d::date AS day FROM generate_series(date '2000-01-01', date '2030-12-31', '1 day') d
         WHERE extract(isodow FROM d) < 6 AND NOT stockml.is_trading_day('XNYS', d::date)) c
  FULL JOIN nyse_ref r ON r.day = c.day
 WHERE c.day IS NULL OR r.day IS NULL;
-- weekends never trade on XNYS or weekdays; 24x7 always trades
SELECT count(*) FILTER (WHERE stockml.is_trading_day('XNYS', d::date)) AS xnys_weekend,
       count(*) FILTER (WHERE stockml.is_trading_day('weekdays', d::date)) AS weekdays_weekend,
       count(*) FILTER (WHERE NOT stockml.is_trading_day('24x7', d::date)) AS closed_24x7
  FROM generate_series(date '1990-01-01', date '2040-12-31', '1 day') d
 WHERE extract(isodow FROM d) >= 6;
-- the day after: before Independence Day, Thanksgiving, Good Friday, Christmas; a Saturday
-- New Year's Day (2022) leaves Friday 2021-12-31 open; a Sunday one closes Monday
SELECT d AS day, to_char(d, 'Dy') AS dow,
       stockml.next_trading_day('XNYS', d) AS xnys, stockml.next_trading_day('weekdays', d) AS weekdays,
       stockml.next_trading_day('24x7', d) AS "24x7"
  FROM unnest(ARRAY[date '2024-07-03', '2024-11-27', '2024-03-28', '2024-12-24', '2021-12-30',
                    '2021-12-31', '2022-12-30', '2026-07-02', '2027-06-17', '2001-09-10',
                    '2012-10-26', '2022-06-17', '2021-06-18', '1997-01-17', '1998-01-16']) d;
-- n: several days, backwards, 0 (the day itself when it trades, else the next)
SELECT stockml.next_trading_day('XNYS', '2024-12-20', 5) AS plus5,
       stockml.next_trading_day('XNYS', '2024-12-26', -5) AS minus5,
       stockml.next_trading_day('XNYS', '2024-12-25', 0) AS zero_holiday,
       stockml.next_trading_day('XNYS', '2024-12-24', 0) AS zero_trading,
       stockml.next_trading_day('XNYS', '2024-12-25', -1) AS minus1,
       stockml.next_trading_day('XNYS', '2024-01-01', 252) AS plus252,
       stockml.next_trading_day('weekdays', '2024-01-05', 1) AS weekdays_fri,
       stockml.next_trading_day('24x7', '2024-01-05', -7) AS "24x7_minus7";
-- trading days per year: 252 in 2024, 250 in 2025 (with Carter's day)
SELECT extract(year FROM d) AS year, count(*) AS xnys_days
  FROM generate_series(date '2023-01-01', date '2026-12-31', '1 day') d
 WHERE stockml.is_trading_day('XNYS', d::date)
 GROUP BY 1 ORDER BY 1;
-- every listed calendar is accepted
SELECT calendar, stockml.is_trading_day(calendar, '2024-07-04') AS july_4 FROM stockml.trading_calendars;
-- exchanges (Yahoo's exchangeName)
SELECT e AS exchange, stockml.exchange_calendar(e) AS calendar
  FROM unnest(ARRAY['NYQ', 'NMS', 'NGM', 'NCM', 'ASE', 'PCX', 'BTS', 'SNP', 'CCY', 'CCC', 'LSE', NULL]) e;
-- symbols: own calendar, else the exchange's, else XNYS
BEGIN;
INSERT INTO stockml.symbols (symbol, exchange, calendar) VALUES
    ('CAL_A', 'NMS', NULL), ('CAL_B', 'CCC', NULL), ('CAL_C', NULL, NULL), ('CAL_D', 'NYQ', '24x7'),
    ('CAL_E', 'CCY', NULL);
SELECT symbol, stockml.symbol_calendar(symbol) FROM stockml.symbols WHERE symbol LIKE 'CAL\_%' ORDER BY 1;
ROLLBACK;
-- NULLs
SELECT stockml.is_trading_day(NULL, '2024-01-02'), stockml.next_trading_day('XNYS', NULL),
       stockml.next_trading_day('XNYS', '2024-01-02', NULL);
-- bad input
SELECT stockml.is_trading_day('NYSE', '2024-01-02');
SELECT stockml.next_trading_day('xnys', '2024-01-02');
SELECT stockml.next_trading_day('XNYS', 'infinity');
SELECT stockml.is_trading_day('XNYS', '1899-12-29');
SELECT stockml.next_trading_day('XNYS', '1900-01-02', -1);
SELECT stockml.next_trading_day('24x7', '5874897-12-31', 1);
SELECT stockml.symbol_calendar('NO_SUCH');
\set VERBOSITY terse
INSERT INTO stockml.symbols (symbol, calendar) VALUES ('CAL_X', 'NYSE');
\set VERBOSITY default
-- predict() and forecast(): target_day is the next trading day in the symbol's calendar.
-- MSFT's bars from 2000-09-27, cut at Friday 2000-12-22 (Monday 2000-12-25 is Christmas)
\set msft `cat data/MSFT.csv`
SELECT status FROM stockml.ingest_csv('CALP', :'msft');
SELECT version FROM stockml.train('cal_model', ARRAY['CALP'], horizon => 3);
SELECT version FROM stockml.deploy('cal_model', 1);
DELETE FROM stockml.prices WHERE symbol = 'CALP' AND day > '2000-12-22';
SELECT stockml.symbol_calendar('CALP') AS csv_symbol;
SELECT as_of, target_day FROM stockml.predict('cal_model', 'CALP');
UPDATE stockml.symbols SET calendar = 'weekdays' WHERE symbol = 'CALP';
SELECT as_of, target_day FROM stockml.predict('cal_model', 'CALP');
UPDATE stockml.symbols SET calendar = '24x7' WHERE symbol = 'CALP';
SELECT as_of, target_day FROM stockml.predict('cal_model', 'CALP');
UPDATE stockml.symbols SET calendar = NULL WHERE symbol = 'CALP';
-- the forecast ledger records the XNYS target day
SELECT count(*) AS forecasts FROM stockml.forecast('cal_model');
SELECT as_of, target_day FROM stockml.predictions WHERE model_name = 'cal_model';
SELECT stockml.drop_model('cal_model');
DELETE FROM stockml.prices WHERE symbol = 'CALP';
DELETE FROM stockml.ingest_log WHERE symbol = 'CALP';
DELETE FROM stockml.symbols WHERE symbol = 'CALP';
