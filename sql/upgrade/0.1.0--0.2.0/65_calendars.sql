-- Trading calendars (issue 9): stockml.symbols.calendar, the trading_calendars view and
-- the calendar functions; predict()'s target_day follows the symbol's calendar.

ALTER TABLE stockml.symbols ADD COLUMN calendar text
    CONSTRAINT symbols_calendar CHECK (calendar IN ('XNYS', 'weekdays', '24x7'));
COMMENT ON COLUMN stockml.symbols.calendar IS 'trading calendar of the symbol (stockml.trading_calendars); NULL: the exchange''s (stockml.exchange_calendar), XNYS when no exchange is known';

CREATE VIEW stockml.trading_calendars (calendar, description) AS
VALUES ('XNYS', 'NYSE and Nasdaq: weekends, the NYSE holidays with their weekend observance, Good Friday, and NYSE''s one-off closures'),
       ('weekdays', 'Monday to Friday: currencies, and exchanges whose holidays stockml does not know'),
       ('24x7', 'every day: crypto');
COMMENT ON VIEW stockml.trading_calendars IS 'the trading calendars is_trading_day(), next_trading_day() and stockml.symbols.calendar accept';
GRANT SELECT ON stockml.trading_calendars TO stockml_admin;

CREATE FUNCTION stockml.is_trading_day(calendar text, day date)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stockml_is_trading_day'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.is_trading_day(text, date) IS
'whether the market of the calendar (XNYS, weekdays, 24x7) trades on day';

CREATE FUNCTION stockml.next_trading_day(calendar text, day date, n integer DEFAULT 1)
RETURNS date
AS 'MODULE_PATHNAME', 'stockml_next_trading_day'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.next_trading_day(text, date, integer) IS
'the n-th trading day of the calendar after day (n < 0: before it; n = 0: day itself if it trades, else the next trading day)';

CREATE FUNCTION stockml.exchange_calendar(exchange text)
RETURNS text
AS 'MODULE_PATHNAME', 'stockml_exchange_calendar'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.exchange_calendar(text) IS
'the trading calendar of a Yahoo exchangeName: XNYS for US venues and indexes (NYQ, NMS, NGM, NCM, ASE, PCX, BTS, SNP, ...) and for NULL (no exchange known: CSV symbols), weekdays for CCY and unknown exchanges, 24x7 for CCC';

CREATE FUNCTION stockml.symbol_calendar(symbol text)
RETURNS text
AS 'MODULE_PATHNAME', 'stockml_symbol_calendar'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.symbol_calendar(text) IS
'the trading calendar of a stored symbol: stockml.symbols.calendar, else its exchange''s (exchange_calendar)';

-- target days follow the symbol's calendar (src/predict.c)
COMMENT ON COLUMN stockml.predictions.target_day IS 'the trading day forecast: horizon trading days after as_of in the symbol''s calendar (stockml.symbol_calendar)';

-- The ledger's forecasts were made for `horizon` weekdays after as_of: re-target them to
-- `horizon` trading days of their symbol's calendar, the bar their model's target is
-- (one made the day before a holiday targeted the holiday and was never scored).
UPDATE stockml.predictions p
   SET target_day = stockml.next_trading_day(coalesce(s.calendar, stockml.exchange_calendar(s.exchange)),
                                             p.as_of, m.horizon)
  FROM stockml.models m, stockml.symbols s
 WHERE m.id = p.model_id AND s.symbol = p.symbol AND p.as_of >= date '1900-01-01'
   AND p.target_day IS DISTINCT FROM
       stockml.next_trading_day(coalesce(s.calendar, stockml.exchange_calendar(s.exchange)), p.as_of, m.horizon);
