-- stockml.ingest_csv: the bundled MSFT sample, idempotence, every rejection rule,
-- strict mode and bodies that are not CSV.
\set msft `cat data/MSFT.csv`
SELECT symbol, source, status, http_status, rows_inserted, rows_updated, rows_rejected, error,
       finished_at >= started_at AS timed
  FROM stockml.ingest_csv('MSFT', :'msft');
SELECT count(*), min(day), max(day), count(DISTINCT source) FROM stockml.prices WHERE symbol = 'MSFT';
(SELECT day, open, high, low, close, adj_close, volume, source FROM stockml.prices
  WHERE symbol = 'MSFT' ORDER BY day LIMIT 2)
UNION ALL
(SELECT day, open, high, low, close, adj_close, volume, source FROM stockml.prices
  WHERE symbol = 'MSFT' ORDER BY day DESC LIMIT 2)
ORDER BY day;
SELECT symbol, source, active FROM stockml.symbols;

-- the same file again changes nothing
CREATE TEMP TABLE before AS SELECT * FROM stockml.prices;
SELECT status, rows_inserted, rows_updated, rows_rejected FROM stockml.ingest_csv('MSFT', :'msft');
SELECT count(*) AS changed_rows
  FROM (TABLE before EXCEPT SELECT * FROM stockml.prices) d;

-- a revision updates the day in place; rows may come in any order, with Adj Close
SELECT status, rows_inserted, rows_updated, rows_rejected FROM stockml.ingest_csv('MSFT',
'Date,Open,High,Low,Close,Adj Close,Volume
2001-09-27,50.1,50.68,48,49.90,49.5,40595600
2000-09-27,63.4375,63.5625,59.8125,60.625,30.1,53077800
2001-09-28,50,51,49,50.5,50.1,100
', 'yahoo');
SELECT day, close, adj_close, source FROM stockml.prices
 WHERE symbol = 'MSFT' AND day IN ('2000-09-27', '2001-09-27', '2001-09-28') ORDER BY day;
-- a later source without Adj Close keeps the stored adjusted close
SELECT status, rows_inserted, rows_updated FROM stockml.ingest_csv('MSFT',
'Date,Open,High,Low,Close,Volume
2001-09-28,50,51,49,50.5,100');
SELECT day, adj_close FROM stockml.prices WHERE symbol = 'MSFT' AND day = '2001-09-28';

-- each rejection rule, one row at a time: counted, explained, not stored
SET client_min_messages = warning;
SELECT rule, r.status, r.rows_inserted, r.rows_rejected, r.error
  FROM (VALUES ('month 13',          '2024-13-01,10,11,9,10.5,1000'),
               ('no such day',       '2024-02-30,10,11,9,10.5,1000'),
               ('US date',           '01/03/2024,10,11,9,10.5,1000'),
               ('word for number',   '2024-01-04,ten,11,9,10.5,1000'),
               ('NaN',               '2024-01-05,NaN,11,9,10.5,1000'),
               ('infinity',          '2024-01-08,10,inf,9,10.5,1000'),
               ('negative price',    '2024-01-09,-1,11,9,10.5,1000'),
               ('zero price',        '2024-01-09,0,11,0,10.5,1000'),
               ('high below low',    '2024-01-10,10,9,11,10,1000'),
               ('close above high',  '2024-01-12,10,11,9,12,1000'),
               ('negative volume',   '2024-01-11,10,11,9,10,-5'),
               ('fractional volume', '2024-01-18,10,11,9,10,1.5'),
               ('null prices',       '2024-01-16,null,null,null,null,null'),
               ('empty close',       '2024-01-16,10,11,9,,100'),
               ('missing field',     '2024-01-17,10,11,9,10'),
               ('trailing junk',     '2024-01-17,10,11,9,10x,1')) AS t(rule, line),
       LATERAL stockml.ingest_csv('TEST', 'Date,Open,High,Low,Close,Volume' || chr(10) || line) r;
RESET client_min_messages;
SELECT count(*) AS stored FROM stockml.prices WHERE symbol = 'TEST';

-- in one body: CRLF, lower-case header, quotes, an empty volume and a duplicate
-- day (the first one given is kept); the NOTICE names the first rejections
SELECT status, rows_inserted, rows_updated, rows_rejected, error FROM stockml.ingest_csv('TEST',
E'date,open,high,low,close,volume\r
2024-01-02,10,11,9,10.5,1000\r
2024-01-05,NaN,11,9,10.5,1000\r
2024-01-02,10,12,9,11,1000\r
2024-01-19,10,11,9,10,\r
"2024-01-22","10","11","9","10.25","2000"\r
');
SELECT day, open, high, low, close, volume FROM stockml.prices WHERE symbol = 'TEST' ORDER BY day;
SELECT symbol, status, rows_rejected, left(error, 60) AS error_starts
  FROM stockml.ingest_log WHERE symbol = 'TEST' AND rows_inserted > 0;
-- more rejections than the message shows end in "..."
SELECT rows_rejected, right(error, 5) FROM stockml.ingest_csv('TEST',
  'Date,Open,High,Low,Close' || chr(10) || repeat('2024-01-02,1,1,1,x' || chr(10), 7));

-- strict: any rejection is an ERROR and nothing is stored
SELECT count(*) FROM stockml.prices WHERE symbol = 'TEST2';
SELECT * FROM stockml.ingest_csv('TEST2', E'Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10,1\n2024-01-03,10,9,11,10,1\n', strict => true);
SELECT count(*) FROM stockml.prices WHERE symbol = 'TEST2';
SELECT count(*) FROM stockml.symbols WHERE symbol = 'TEST2';
SELECT status, rows_inserted FROM stockml.ingest_csv('TEST2', E'Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10,1\n', strict => true);

-- bodies that are not price CSV: ERROR, nothing written
CREATE TEMP TABLE log_before AS SELECT count(*) AS n FROM stockml.ingest_log;
SELECT * FROM stockml.ingest_csv('JUNK', '');
SELECT * FROM stockml.ingest_csv('JUNK', E'\n\n');
SELECT * FROM stockml.ingest_csv('JUNK', 'No data');
SELECT * FROM stockml.ingest_csv('JUNK', '<html><body>Service unavailable</body></html>');
SELECT * FROM stockml.ingest_csv('JUNK', E'\x01\x02\x7f\u00e9binary,junk');
SELECT * FROM stockml.ingest_csv('JUNK', 'Date,Open,High,Close,Volume');
SELECT * FROM stockml.ingest_csv('bad symbol!', :'msft');
SELECT * FROM stockml.ingest_csv(NULL, :'msft');
SELECT count(*) FROM stockml.symbols WHERE symbol = 'JUNK';
SELECT (SELECT count(*) FROM stockml.ingest_log) - n AS new_log_rows FROM log_before;

-- a header alone is a valid, empty ingest; so is a Stooq-style file
SELECT status, rows_inserted, rows_rejected FROM stockml.ingest_csv('EMPTY', 'Date,Open,High,Low,Close,Volume');
SELECT status, rows_inserted FROM stockml.ingest_csv('msft.us', E'\xEF\xBB\xBFDate,Open,High,Low,Close,Volume\n2024-01-02,370.87,376.0,366.5,370.6,25258621\n', 'stooq');

-- every row rejected: failed, and the error names the first rejected row
SELECT status, rows_inserted, rows_rejected, error FROM stockml.ingest_csv('USDATE',
  E'Date,Open,High,Low,Close,Volume\n9/27/2000,10,11,9,10,1\n9/28/2000,10,11,9,10.5,1\n');
SELECT count(*) FROM stockml.symbols WHERE symbol = 'USDATE';
-- date_format: US and EU forms, one-digit month and day when separated
SELECT status, rows_inserted, rows_rejected FROM stockml.ingest_csv('USDATE',
  E'Date,Open,High,Low,Close,Volume\n9/27/2000,10,11,9,10,1\n09/28/2000,10,11,9,10.5,1\n',
  date_format => 'MM/DD/YYYY');
SELECT status, rows_inserted, rows_rejected, error FROM stockml.ingest_csv('EUDATE',
  E'Date,Open,High,Low,Close\n27.09.2000,10,11,9,10\n28.9.2000,10,11,9,10.5\n29.09.00,10,11,9,10\n30.13.2000,10,11,9,10\n',
  date_format => 'DD.MM.YYYY');
SELECT status, rows_inserted FROM stockml.ingest_csv('EUDATE',
  E'Date,Open,High,Low,Close\n02/10/2000,10,11,9,10\n', date_format => 'DD/MM/YYYY');
SELECT status, rows_inserted FROM stockml.ingest_csv('EUDATE',
  E'Date,Open,High,Low,Close\n20001003,10,11,9,10\n2000104,10,11,9,10\n', date_format => 'YYYYMMDD');
SELECT symbol, day FROM stockml.prices WHERE symbol IN ('USDATE', 'EUDATE') ORDER BY symbol, day;
-- a day/month order that does not exist for a row is rejected, not guessed
SELECT status, rows_rejected, error FROM stockml.ingest_csv('USDATE',
  E'Date,Open,High,Low,Close\n27/09/2000,10,11,9,10\n', date_format => 'MM/DD/YYYY');
-- a format stockml does not read is an ERROR before anything is stored
SELECT * FROM stockml.ingest_csv('USDATE', :'msft', date_format => 'MM/DD/YY');
SELECT * FROM stockml.ingest_csv('USDATE', :'msft', date_format => 'YYYY-MM/DD');
SELECT * FROM stockml.ingest_csv('USDATE', :'msft', date_format => 'DD-DD-YYYY');
SELECT status, rows_inserted FROM stockml.ingest_csv('USDATE',
  E'Date,Open,High,Low,Close\n2000-10-02,10,11,9,10\n', date_format => NULL);
DELETE FROM stockml.symbols WHERE symbol IN ('USDATE', 'EUDATE');
DELETE FROM stockml.ingest_log WHERE symbol IN ('USDATE', 'EUDATE');

-- leave nothing behind for the next test
DELETE FROM stockml.symbols WHERE symbol IN ('MSFT', 'TEST', 'TEST2', 'EMPTY', 'msft.us');
DELETE FROM stockml.ingest_log WHERE symbol IN ('MSFT', 'TEST', 'TEST2', 'EMPTY', 'msft.us');
