-- Price store: the watchlist, daily bars and the log of every ingest.

CREATE TABLE stockml.symbols (
    symbol      text PRIMARY KEY
                CONSTRAINT symbols_symbol_format CHECK (symbol ~ '^[A-Za-z0-9.^=_-]{1,32}$'),
    name        text,
    exchange    text,
    currency    text,
    timezone    text,
    source      text,
    active      boolean NOT NULL DEFAULT true,
    added_at    timestamptz NOT NULL DEFAULT now(),
    calendar    text
                CONSTRAINT symbols_calendar CHECK (calendar IN ('XNYS', 'weekdays', '24x7'))
);
COMMENT ON TABLE stockml.symbols IS 'the watchlist: one row per instrument; refresh() fetches the active ones';
COMMENT ON COLUMN stockml.symbols.symbol IS 'ticker as the source spells it (Yahoo: MSFT, ^GSPC, EURUSD=X; Stooq: msft.us); 1-32 of A-Z a-z 0-9 . ^ = _ -';
COMMENT ON COLUMN stockml.symbols.timezone IS 'exchange time zone (IANA name) in which a bar''s trading day is read';
COMMENT ON COLUMN stockml.symbols.source IS 'where refresh() fetches the symbol from: yahoo or stooq (NULL: yahoo); the source that first added it unless set by the user; csv or any other local source is never fetched by a bare refresh()';
COMMENT ON COLUMN stockml.symbols.calendar IS 'trading calendar of the symbol (stockml.trading_calendars); NULL: the exchange''s (stockml.exchange_calendar), XNYS when no exchange is known';
COMMENT ON COLUMN stockml.symbols.active IS 'false keeps the history but leaves the symbol out of refresh()';

CREATE TABLE stockml.prices (
    symbol      text NOT NULL REFERENCES stockml.symbols (symbol) ON DELETE CASCADE,
    day         date NOT NULL CONSTRAINT prices_day_finite CHECK (isfinite(day)),
    open        float8 NOT NULL,
    high        float8 NOT NULL,
    low         float8 NOT NULL,
    close       float8 NOT NULL,
    adj_close   float8,
    volume      bigint CONSTRAINT prices_volume_nonnegative CHECK (volume >= 0),
    source      text NOT NULL DEFAULT 'csv',
    ingested_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, day),
    -- 'Infinity' is above every finite float8 and NaN above 'Infinity' in PostgreSQL's
    -- ordering, so "< 'Infinity'" refuses both.
    CONSTRAINT prices_positive_finite CHECK (
        low > 0 AND high < 'Infinity'::float8 AND
        open < 'Infinity'::float8 AND close < 'Infinity'::float8),
    CONSTRAINT prices_ohlc_order CHECK (
        low <= open AND open <= high AND low <= close AND close <= high),
    CONSTRAINT prices_adj_close_positive_finite CHECK (
        adj_close > 0 AND adj_close < 'Infinity'::float8)
);
COMMENT ON TABLE stockml.prices IS 'daily OHLCV bars, one row per (symbol, day); re-ingesting a day updates it in place';
COMMENT ON COLUMN stockml.prices.day IS 'trading day in the exchange''s own time zone';
COMMENT ON COLUMN stockml.prices.adj_close IS 'close adjusted for splits and dividends when the source gives it, else NULL';
COMMENT ON COLUMN stockml.prices.volume IS 'shares traded; NULL or 0 for indices and currencies';
COMMENT ON COLUMN stockml.prices.source IS 'source of the last change to this bar';
COMMENT ON COLUMN stockml.prices.ingested_at IS 'when this bar was last inserted or changed';
COMMENT ON CONSTRAINT prices_positive_finite ON stockml.prices IS 'prices are finite and positive (low > 0 and low <= every price)';
COMMENT ON CONSTRAINT prices_ohlc_order ON stockml.prices IS 'low <= open, close <= high';
-- The primary key (symbol, day) is the index for per-symbol, time-ordered scans.

CREATE TABLE stockml.ingest_log (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    symbol        text NOT NULL,
    source        text NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    status        text NOT NULL
                  CONSTRAINT ingest_log_status CHECK (status IN ('running', 'ok', 'partial', 'failed')),
    http_status   integer,
    rows_inserted bigint NOT NULL DEFAULT 0,
    rows_updated  bigint NOT NULL DEFAULT 0,
    rows_rejected bigint NOT NULL DEFAULT 0,
    error         text
);
CREATE INDEX ingest_log_symbol_started_idx ON stockml.ingest_log (symbol, started_at);
COMMENT ON TABLE stockml.ingest_log IS 'one row per ingest or fetch, failed ones included';
COMMENT ON COLUMN stockml.ingest_log.status IS 'ok: every row stored; partial: some rows rejected; failed: nothing stored, every row rejected or the fetch failed (see error)';
COMMENT ON COLUMN stockml.ingest_log.http_status IS 'HTTP status of the last response, NULL for local input';
COMMENT ON COLUMN stockml.ingest_log.rows_updated IS 'stored days whose values changed; unchanged days count nowhere';
-- the watchlist, the bars and the log are the user's data: pg_dump keeps them, and the
-- identity sequence with them (so ids continue after a restore)
SELECT pg_catalog.pg_extension_config_dump('stockml.symbols', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.prices', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.ingest_log', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.ingest_log', 'id')::regclass, '');
COMMENT ON COLUMN stockml.ingest_log.error IS 'why the fetch failed, or the first rejected rows and why; for a refresh that found the provider''s history re-adjusted (a new split or dividend, an overlap day that disagrees), what it did: ''re-adjusted: split 2:1 on 2020-08-31; full history re-fetched, ...''';
COMMENT ON INDEX stockml.ingest_log_symbol_started_idx IS 'serves the latest ingests of a symbol';
