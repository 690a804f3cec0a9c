-- stockml extension script, assembled by the Makefile from sql/install/*.sql in name order.
\echo Use "CREATE EXTENSION stockml" to load this file. \quit

CREATE SCHEMA stockml;
COMMENT ON SCHEMA stockml IS 'stockml: prices, indicators, models and monitoring for stock-price prediction';
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
    added_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE stockml.symbols IS 'the watchlist: one row per instrument; refresh() fetches the active ones';
COMMENT ON COLUMN stockml.symbols.symbol IS 'ticker as the source spells it (Yahoo: MSFT, ^GSPC, EURUSD=X; Stooq: msft.us); 1-32 of A-Z a-z 0-9 . ^ = _ -';
COMMENT ON COLUMN stockml.symbols.timezone IS 'exchange time zone (IANA name) in which a bar''s trading day is read';
COMMENT ON COLUMN stockml.symbols.source IS 'source that first added the symbol (csv, yahoo, stooq, ...)';
COMMENT ON COLUMN stockml.symbols.active IS 'false keeps the history but leaves the symbol out of refresh()';

CREATE TABLE stockml.prices (
    symbol      text NOT NULL REFERENCES stockml.symbols (symbol) ON UPDATE CASCADE ON DELETE CASCADE,
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
COMMENT ON COLUMN stockml.ingest_log.status IS 'ok: every row stored; partial: some rows rejected; failed: nothing stored (see error)';
COMMENT ON COLUMN stockml.ingest_log.http_status IS 'HTTP status of the last response, NULL for local input';
COMMENT ON COLUMN stockml.ingest_log.rows_updated IS 'stored days whose values changed; unchanged days count nowhere';
COMMENT ON COLUMN stockml.ingest_log.error IS 'why the fetch failed, or the first rejected rows and why';
COMMENT ON INDEX stockml.ingest_log_symbol_started_idx IS 'serves the latest ingests of a symbol';
-- CSV ingest (src/ingest_csv.c).

CREATE FUNCTION stockml.ingest_csv(symbol text, csv text, source text DEFAULT 'csv',
                                   strict boolean DEFAULT false)
RETURNS stockml.ingest_log
AS 'MODULE_PATHNAME', 'stockml_ingest_csv'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml.ingest_csv(text, text, text, boolean) IS
'upsert Yahoo/Stooq-style daily CSV (Date,Open,High,Low,Close[,Adj Close],Volume) for one symbol; returns its ingest_log row';
-- Roles (src/roles.c): stockml_admin may fetch over the network and queue jobs.
-- Roles belong to the cluster, not to a database, so the role survives DROP EXTENSION
-- and is created only if an earlier CREATE EXTENSION (in any database) has not done so.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'stockml_admin') THEN
        CREATE ROLE stockml_admin NOLOGIN;
        COMMENT ON ROLE stockml_admin IS 'stockml: may fetch prices over HTTP (allowed hosts only), refresh, and submit jobs';
    END IF;
END
$$;
GRANT USAGE ON SCHEMA stockml TO stockml_admin;
GRANT SELECT, INSERT, UPDATE ON stockml.symbols, stockml.prices TO stockml_admin;
GRANT SELECT, INSERT ON stockml.ingest_log TO stockml_admin;
-- Prices over HTTP (src/http_client.c, ingest_http.c, ingest_yahoo.c, ingest_stooq.c, refresh.c).

CREATE TABLE stockml.corporate_actions (
    symbol      text NOT NULL REFERENCES stockml.symbols (symbol) ON UPDATE CASCADE ON DELETE CASCADE,
    day         date NOT NULL,
    kind        text NOT NULL CONSTRAINT corporate_actions_kind CHECK (kind IN ('dividend', 'split')),
    amount      float8 CONSTRAINT corporate_actions_amount CHECK (amount >= 0 AND amount < 'Infinity'::float8),
    numerator   float8 CONSTRAINT corporate_actions_numerator CHECK (numerator > 0 AND numerator < 'Infinity'::float8),
    denominator float8 CONSTRAINT corporate_actions_denominator CHECK (denominator > 0 AND denominator < 'Infinity'::float8),
    source      text NOT NULL,
    ingested_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, day, kind),
    CONSTRAINT corporate_actions_shape CHECK (
        CASE kind WHEN 'dividend' THEN amount IS NOT NULL AND numerator IS NULL AND denominator IS NULL
                  ELSE amount IS NULL AND numerator IS NOT NULL AND denominator IS NOT NULL END)
);
COMMENT ON TABLE stockml.corporate_actions IS 'dividends and splits reported by the source (Yahoo''s chart events), one row per (symbol, day, kind)';
COMMENT ON COLUMN stockml.corporate_actions.day IS 'ex-date, as a trading day in the exchange''s time zone';
COMMENT ON COLUMN stockml.corporate_actions.amount IS 'dividend per share, in the symbol''s currency (dividends only)';
COMMENT ON COLUMN stockml.corporate_actions.numerator IS 'split ratio numerator: a 4:1 split is 4 / 1 (splits only)';
COMMENT ON COLUMN stockml.corporate_actions.denominator IS 'split ratio denominator (splits only)';
COMMENT ON CONSTRAINT corporate_actions_shape ON stockml.corporate_actions IS 'a dividend has an amount, a split a ratio, nothing else';

CREATE FUNCTION stockml.ingest_yahoo(symbol text, start_day date DEFAULT NULL,
                                     end_day date DEFAULT current_date)
RETURNS stockml.ingest_log
AS 'MODULE_PATHNAME', 'stockml_ingest_yahoo'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml.ingest_yahoo(text, date, date) IS
'fetch daily bars (and dividends, splits) of [start_day, end_day] from Yahoo''s chart API and upsert them; returns the ingest_log row; an HTTP or body error is an ERROR and writes nothing';

CREATE FUNCTION stockml.ingest_stooq(symbol text, start_day date DEFAULT NULL,
                                     end_day date DEFAULT current_date)
RETURNS stockml.ingest_log
AS 'MODULE_PATHNAME', 'stockml_ingest_stooq'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml.ingest_stooq(text, date, date) IS
'fetch daily bars of [start_day, end_day] from Stooq''s CSV download (symbols like msft.us) and upsert them; returns the ingest_log row';

CREATE FUNCTION stockml.refresh(symbols text[] DEFAULT NULL)
RETURNS SETOF stockml.ingest_log
AS 'MODULE_PATHNAME', 'stockml_refresh'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 10;
COMMENT ON FUNCTION stockml.refresh(text[]) IS
'fetch, in parallel, the days missing since each symbol''s last stored day (active watchlist, or the given symbols); one ingest_log row per symbol, failed ones included';

CREATE FUNCTION stockml.run_job_refresh(job_id bigint, args jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    symbols text[];
    summary text;
    total bigint;
    failed bigint;
    first_error text;
BEGIN
    IF args ? 'symbols' AND jsonb_typeof(args->'symbols') <> 'null' THEN
        IF jsonb_typeof(args->'symbols') <> 'array' THEN
            RAISE EXCEPTION 'args.symbols of a refresh job must be an array of symbols, not a %',
                            jsonb_typeof(args->'symbols')
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'For example: stockml.submit(''refresh'', ''{"symbols": ["MSFT"]}'').';
        END IF;
        symbols := ARRAY(SELECT jsonb_array_elements_text(args->'symbols'));
    END IF;
    SELECT format('%s symbols: %s ok, %s partial, %s failed; %s rows inserted, %s updated',
                  count(*), count(*) FILTER (WHERE status = 'ok'),
                  count(*) FILTER (WHERE status = 'partial'), count(*) FILTER (WHERE status = 'failed'),
                  coalesce(sum(rows_inserted), 0), coalesce(sum(rows_updated), 0)),
           count(*), count(*) FILTER (WHERE status = 'failed'),
           min(symbol || ': ' || error) FILTER (WHERE status = 'failed')
      INTO summary, total, failed, first_error
      FROM stockml.refresh(symbols);
    -- nothing worked (the network is down?): fail, so that the job is retried
    IF total > 0 AND failed = total THEN
        RAISE EXCEPTION 'refresh failed for all % symbols', total USING DETAIL = first_error;
    END IF;
    RETURN summary;
END
$$;
COMMENT ON FUNCTION stockml.run_job_refresh(bigint, jsonb) IS
'job kind refresh: args {"symbols": [...]} (optional; default the active watchlist); returns a summary; fails (and is retried) only when every symbol failed';

GRANT SELECT, INSERT, UPDATE ON stockml.corporate_actions TO stockml_admin;
-- Job queue and background worker (src/jobs.c, src/worker.c).

CREATE TABLE stockml.jobs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text NOT NULL CONSTRAINT jobs_kind_format CHECK (kind ~ '^[a-z][a-z0-9_]{0,39}$'),
    args          jsonb NOT NULL DEFAULT '{}',
    status        text NOT NULL DEFAULT 'queued'
                  CONSTRAINT jobs_status CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    attempts      integer NOT NULL DEFAULT 0,
    max_attempts  integer NOT NULL DEFAULT 3 CONSTRAINT jobs_max_attempts CHECK (max_attempts >= 1),
    progress      float8 CONSTRAINT jobs_progress CHECK (progress >= 0 AND progress <= 1),
    submitted_at  timestamptz NOT NULL DEFAULT now(),
    submitted_by  regrole NOT NULL DEFAULT current_user::regrole,
    run_after     timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz,
    worker_pid    integer,
    result        text,
    error         text
);
CREATE INDEX jobs_queued_idx ON stockml.jobs (run_after, id) WHERE status = 'queued';
COMMENT ON TABLE stockml.jobs IS 'the queue the background worker consumes: a job of kind K runs stockml.run_job_K(id, args) in its own transaction';
COMMENT ON COLUMN stockml.jobs.status IS 'queued (waiting, also between retries), running, done, failed (after max_attempts), cancelled';
COMMENT ON COLUMN stockml.jobs.attempts IS 'runs started so far, the current one included';
COMMENT ON COLUMN stockml.jobs.progress IS 'fraction done when the job last finished; live value while running in stockml.job_status';
COMMENT ON COLUMN stockml.jobs.submitted_by IS 'role the job runs as';
COMMENT ON COLUMN stockml.jobs.run_after IS 'not started before this time (retry backoff)';
COMMENT ON COLUMN stockml.jobs.result IS 'what run_job_K returned, as text';
COMMENT ON COLUMN stockml.jobs.error IS 'error of the last failed attempt (kept when a retry succeeds)';
COMMENT ON INDEX stockml.jobs_queued_idx IS 'serves the worker''s claim of the next due job';

CREATE FUNCTION stockml.submit(kind text, args jsonb DEFAULT '{}')
RETURNS bigint
AS 'MODULE_PATHNAME', 'stockml_submit'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml.submit(text, jsonb) IS
'queue a job of a kind K for which stockml.run_job_K(bigint, jsonb) exists; wakes the worker at commit; returns the job id';

CREATE FUNCTION stockml.cancel_job(id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stockml_cancel_job'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml.cancel_job(bigint) IS
'cancel a queued job, or interrupt a running one (marked cancelled, not retried); false if it had finished';

CREATE FUNCTION stockml.running_jobs(OUT job_id bigint, OUT pid integer, OUT progress float8,
                                     OUT started_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'stockml_running_jobs'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION stockml.running_jobs() IS
'jobs the workers of this server run now, with their live progress (from shared memory)';

CREATE FUNCTION stockml.report_job_progress(fraction float8)
RETURNS void
AS 'MODULE_PATHNAME', 'stockml_report_job_progress'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION stockml.report_job_progress(float8) IS
'report the running job''s progress (0..1), visible at once in stockml.job_status; no-op outside a job';

CREATE VIEW stockml.job_status AS
SELECT j.id, j.kind, j.args, j.status, j.attempts, j.max_attempts,
       coalesce(r.progress, j.progress) AS progress,
       j.submitted_at, j.submitted_by, j.run_after, j.started_at, j.finished_at,
       coalesce(r.pid, j.worker_pid) AS worker_pid, j.result, j.error
  FROM stockml.jobs j
  LEFT JOIN stockml.running_jobs() r ON r.job_id = j.id;
COMMENT ON VIEW stockml.job_status IS 'stockml.jobs with the live progress of running jobs';

-- read-only: a job runs as its submitted_by, which only submit() may set
GRANT SELECT ON stockml.jobs TO stockml_admin;
GRANT SELECT ON stockml.job_status TO stockml_admin;
-- Technical indicators as window aggregates (src/indicators.c).
-- Each is used as stockml.f(...) OVER (PARTITION BY symbol ORDER BY day) with the
-- default frame, or as an ordered aggregate stockml.f(x, n ORDER BY day) giving the
-- value at the last row.  NULL until warmed up; a NULL input is a missing row.
-- Transition functions are not strict (the state is internal and NULL inputs are
-- skipped in C); every function is immutable and parallel safe.  There is no
-- combine function: the indicators depend on row order.

CREATE FUNCTION stockml.indicator_finalfn(internal) RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_indicator_finalfn'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.indicator_finalfn(internal) IS
'final function of the indicator aggregates: the value at the last row, NULL until warmed up (reads the state only)';

CREATE FUNCTION stockml.sma_transfn(internal, float8, integer) RETURNS internal
AS 'MODULE_PATHNAME', 'stockml_sma_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.sma_transfn(internal, float8, integer) IS
'transition function of stockml.sma(float8, integer)';
CREATE AGGREGATE stockml.sma(x float8, n integer) (
    SFUNC = stockml.sma_transfn, STYPE = internal,
    FINALFUNC = stockml.indicator_finalfn, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE stockml.sma(float8, integer) IS
'simple moving average of the last n values; NULL until n values';

CREATE FUNCTION stockml.ema_transfn(internal, float8, integer) RETURNS internal
AS 'MODULE_PATHNAME', 'stockml_ema_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.ema_transfn(internal, float8, integer) IS
'transition function of stockml.ema(float8, integer)';
CREATE AGGREGATE stockml.ema(x float8, n integer) (
    SFUNC = stockml.ema_transfn, STYPE = internal,
    FINALFUNC = stockml.indicator_finalfn, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE stockml.ema(float8, integer) IS
'exponential moving average, alpha = 2/(n+1), seeded with the SMA of the first n values; first value at row n';

CREATE FUNCTION stockml.rsi_transfn(internal, float8) RETURNS internal
AS 'MODULE_PATHNAME', 'stockml_rsi_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.rsi_transfn(internal, float8) IS
'transition function of stockml.rsi(float8)';
CREATE AGGREGATE stockml.rsi(x float8) (
    SFUNC = stockml.rsi_transfn, STYPE = internal,
    FINALFUNC = stockml.indicator_finalfn, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE stockml.rsi(float8) IS
'relative strength index over 14 rows (Wilder smoothing, seeded with the mean of the first 14 changes); first value at row 15';

CREATE FUNCTION stockml.rsi_transfn(internal, float8, integer) RETURNS internal
AS 'MODULE_PATHNAME', 'stockml_rsi_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.rsi_transfn(internal, float8, integer) IS
'transition function of stockml.rsi(float8, integer)';
CREATE AGGREGATE stockml.rsi(x float8, n integer) (
    SFUNC = stockml.rsi_transfn, STYPE = internal,
    FINALFUNC = stockml.indicator_finalfn, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE stockml.rsi(float8, integer) IS
'relative strength index over n rows: Wilder smoothing (alpha = 1/n) of gains and losses, seeded with the mean of the first n changes, 100*U/(U+D) (50 when U+D = 0); first value at row n+1';

CREATE FUNCTION stockml.macd_transfn(internal, float8) RETURNS internal
AS 'MODULE_PATHNAME', 'stockml_macd_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.macd_transfn(internal, float8) IS
'transition function of stockml.macd(float8)';
CREATE AGGREGATE stockml.macd(x float8) (
    SFUNC = stockml.macd_transfn, STYPE = internal,
    FINALFUNC = stockml.indicator_finalfn, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE stockml.macd(float8) IS
'MACD line ema(x,12) - ema(x,26); first value at row 26';

CREATE FUNCTION stockml.macd_transfn(internal, float8, integer, integer) RETURNS internal
AS 'MODULE_PATHNAME', 'stockml_macd_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.macd_transfn(internal, float8, integer, integer) IS
'transition function of stockml.macd(float8, integer, integer)';
CREATE AGGREGATE stockml.macd(x float8, fast integer, slow integer) (
    SFUNC = stockml.macd_transfn, STYPE = internal,
    FINALFUNC = stockml.indicator_finalfn, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE stockml.macd(float8, integer, integer) IS
'MACD line ema(x,fast) - ema(x,slow); first value at row slow';

CREATE FUNCTION stockml.macd_signal_transfn(internal, float8) RETURNS internal
AS 'MODULE_PATHNAME', 'stockml_macd_signal_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.macd_signal_transfn(internal, float8) IS
'transition function of stockml.macd_signal(float8)';
CREATE AGGREGATE stockml.macd_signal(x float8) (
    SFUNC = stockml.macd_signal_transfn, STYPE = internal,
    FINALFUNC = stockml.indicator_finalfn, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE stockml.macd_signal(float8) IS
'MACD signal line: ema(9) of macd(x,12,26) with SMA seeding; first value at row 34';

CREATE FUNCTION stockml.macd_signal_transfn(internal, float8, integer, integer, integer) RETURNS internal
AS 'MODULE_PATHNAME', 'stockml_macd_signal_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.macd_signal_transfn(internal, float8, integer, integer, integer) IS
'transition function of stockml.macd_signal(float8, integer, integer, integer)';
CREATE AGGREGATE stockml.macd_signal(x float8, fast integer, slow integer, signal integer) (
    SFUNC = stockml.macd_signal_transfn, STYPE = internal,
    FINALFUNC = stockml.indicator_finalfn, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE stockml.macd_signal(float8, integer, integer, integer) IS
'MACD signal line: ema(signal) of macd(x,fast,slow) with SMA seeding; first value at row slow+signal-1';

CREATE FUNCTION stockml.bb_pctb_transfn(internal, float8) RETURNS internal
AS 'MODULE_PATHNAME', 'stockml_bb_pctb_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.bb_pctb_transfn(internal, float8) IS
'transition function of stockml.bb_pctb(float8)';
CREATE AGGREGATE stockml.bb_pctb(x float8) (
    SFUNC = stockml.bb_pctb_transfn, STYPE = internal,
    FINALFUNC = stockml.indicator_finalfn, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE stockml.bb_pctb(float8) IS
'Bollinger %B over 20 rows with bands SMA +/- 2 population sigma; 0.5 when sigma = 0; first value at row 20';

CREATE FUNCTION stockml.bb_pctb_transfn(internal, float8, integer) RETURNS internal
AS 'MODULE_PATHNAME', 'stockml_bb_pctb_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.bb_pctb_transfn(internal, float8, integer) IS
'transition function of stockml.bb_pctb(float8, integer)';
CREATE AGGREGATE stockml.bb_pctb(x float8, n integer) (
    SFUNC = stockml.bb_pctb_transfn, STYPE = internal,
    FINALFUNC = stockml.indicator_finalfn, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE stockml.bb_pctb(float8, integer) IS
'Bollinger %B over n rows with bands SMA +/- 2 population sigma; 0.5 when sigma = 0; first value at row n';

CREATE FUNCTION stockml.bb_pctb_transfn(internal, float8, integer, float8) RETURNS internal
AS 'MODULE_PATHNAME', 'stockml_bb_pctb_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.bb_pctb_transfn(internal, float8, integer, float8) IS
'transition function of stockml.bb_pctb(float8, integer, float8)';
CREATE AGGREGATE stockml.bb_pctb(x float8, n integer, k float8) (
    SFUNC = stockml.bb_pctb_transfn, STYPE = internal,
    FINALFUNC = stockml.indicator_finalfn, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE stockml.bb_pctb(float8, integer, float8) IS
'Bollinger %B (x - lower)/(upper - lower) with bands SMA(n) +/- k population sigma; 0.5 when sigma = 0; first value at row n';

CREATE FUNCTION stockml.atr_transfn(internal, float8, float8, float8) RETURNS internal
AS 'MODULE_PATHNAME', 'stockml_atr_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.atr_transfn(internal, float8, float8, float8) IS
'transition function of stockml.atr(float8, float8, float8)';
CREATE AGGREGATE stockml.atr(high float8, low float8, close float8) (
    SFUNC = stockml.atr_transfn, STYPE = internal,
    FINALFUNC = stockml.indicator_finalfn, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE stockml.atr(float8, float8, float8) IS
'average true range (high, low, close) over 14 rows, Wilder-smoothed; first value at row 15';

CREATE FUNCTION stockml.atr_transfn(internal, float8, float8, float8, integer) RETURNS internal
AS 'MODULE_PATHNAME', 'stockml_atr_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.atr_transfn(internal, float8, float8, float8, integer) IS
'transition function of stockml.atr(float8, float8, float8, integer)';
CREATE AGGREGATE stockml.atr(high float8, low float8, close float8, n integer) (
    SFUNC = stockml.atr_transfn, STYPE = internal,
    FINALFUNC = stockml.indicator_finalfn, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE stockml.atr(float8, float8, float8, integer) IS
'average true range (high, low, close, n): max(H, C-1) - min(L, C-1), Wilder-smoothed, seeded with the mean of the first n true ranges; first value at row n+1';

CREATE FUNCTION stockml.rolling_std_transfn(internal, float8, integer) RETURNS internal
AS 'MODULE_PATHNAME', 'stockml_rolling_std_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.rolling_std_transfn(internal, float8, integer) IS
'transition function of stockml.rolling_std(float8, integer)';
CREATE AGGREGATE stockml.rolling_std(x float8, n integer) (
    SFUNC = stockml.rolling_std_transfn, STYPE = internal,
    FINALFUNC = stockml.indicator_finalfn, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE stockml.rolling_std(float8, integer) IS
'sample standard deviation (n-1) of the last n values (n >= 2); first value at row n';

CREATE FUNCTION stockml.zscore_transfn(internal, float8, integer) RETURNS internal
AS 'MODULE_PATHNAME', 'stockml_zscore_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.zscore_transfn(internal, float8, integer) IS
'transition function of stockml.zscore(float8, integer)';
CREATE AGGREGATE stockml.zscore(x float8, n integer) (
    SFUNC = stockml.zscore_transfn, STYPE = internal,
    FINALFUNC = stockml.indicator_finalfn, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE stockml.zscore(float8, integer) IS
'(x - sma(x,n)) / rolling_std(x,n), 0 when the window is constant (n >= 2); first value at row n';

CREATE FUNCTION stockml.log_return_transfn(internal, float8) RETURNS internal
AS 'MODULE_PATHNAME', 'stockml_log_return_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.log_return_transfn(internal, float8) IS
'transition function of stockml.log_return(float8)';
CREATE AGGREGATE stockml.log_return(x float8) (
    SFUNC = stockml.log_return_transfn, STYPE = internal,
    FINALFUNC = stockml.indicator_finalfn, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE stockml.log_return(float8) IS
'ln(x / previous x); first value at row 2';

CREATE FUNCTION stockml.log_return_transfn(internal, float8, integer) RETURNS internal
AS 'MODULE_PATHNAME', 'stockml_log_return_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.log_return_transfn(internal, float8, integer) IS
'transition function of stockml.log_return(float8, integer)';
CREATE AGGREGATE stockml.log_return(x float8, k integer) (
    SFUNC = stockml.log_return_transfn, STYPE = internal,
    FINALFUNC = stockml.indicator_finalfn, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE stockml.log_return(float8, integer) IS
'ln(x / x k rows before); x must be positive; first value at row k+1';

CREATE FUNCTION stockml.momentum_transfn(internal, float8, integer) RETURNS internal
AS 'MODULE_PATHNAME', 'stockml_momentum_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.momentum_transfn(internal, float8, integer) IS
'transition function of stockml.momentum(float8, integer)';
CREATE AGGREGATE stockml.momentum(x float8, n integer) (
    SFUNC = stockml.momentum_transfn, STYPE = internal,
    FINALFUNC = stockml.indicator_finalfn, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE stockml.momentum(float8, integer) IS
'x / x n rows before - 1; first value at row n+1';
-- Feature sets and the leakage-safe feature matrix (src/features.c).

CREATE FUNCTION stockml.feature_spec_check(spec jsonb) RETURNS boolean
AS 'MODULE_PATHNAME', 'stockml_feature_spec_check'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.feature_spec_check(jsonb) IS
'true for a valid feature spec; otherwise an ERROR saying which feature is wrong and why (used by the CHECK on feature_sets)';

CREATE FUNCTION stockml.feature_names(spec jsonb) RETURNS text[]
AS 'MODULE_PATHNAME', 'stockml_feature_names'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.feature_names(jsonb) IS
'the feature names of a spec, in the order of the x array of features()';

CREATE FUNCTION stockml.feature_spec_warmup(spec jsonb) RETURNS integer
AS 'MODULE_PATHNAME', 'stockml_feature_spec_warmup'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.feature_spec_warmup(jsonb) IS
'the first stored bar (counting from 1) at which every feature of the spec is defined: features() starts there';

CREATE TABLE stockml.feature_sets (
    name        text PRIMARY KEY
                CONSTRAINT feature_sets_name_format CHECK (name ~ '^[A-Za-z0-9_.-]{1,63}$'),
    spec        jsonb NOT NULL
                CONSTRAINT feature_sets_spec_valid CHECK (stockml.feature_spec_check(spec)),
    description text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE stockml.feature_sets IS 'named feature specifications read by features() and train(); a spec is checked when stored';
COMMENT ON COLUMN stockml.feature_sets.spec IS '{"features": [{"name", "indicator", parameters n/k/fast/slow/signal, "description"}, ...]} (README, "Feature sets")';
COMMENT ON CONSTRAINT feature_sets_spec_valid ON stockml.feature_sets IS 'refuses unknown indicators, unknown keys, bad parameters and repeated names';

INSERT INTO stockml.feature_sets (name, description, spec) VALUES ('default',
'16 scale-free daily features a practitioner starts from; defined from the 50th stored bar; needs no volume',
$${"features": [
  {"name": "ret_1",          "indicator": "log_return",    "k": 1,   "description": "log return over 1 bar"},
  {"name": "ret_2",          "indicator": "log_return",    "k": 2,   "description": "log return over 2 bars"},
  {"name": "ret_5",          "indicator": "log_return",    "k": 5,   "description": "log return over a week"},
  {"name": "ret_20",         "indicator": "log_return",    "k": 20,  "description": "log return over a month"},
  {"name": "mom_10",         "indicator": "momentum",      "n": 10,  "description": "close / close 10 bars before - 1"},
  {"name": "vol_5",          "indicator": "volatility",    "n": 5,   "description": "sample sd of the last 5 one-bar log returns"},
  {"name": "vol_20",         "indicator": "volatility",    "n": 20,  "description": "sample sd of the last 20 one-bar log returns"},
  {"name": "rsi_14",         "indicator": "rsi",           "n": 14,  "description": "Wilder RSI(14) / 100"},
  {"name": "macd",           "indicator": "macd",          "fast": 12, "slow": 26, "description": "MACD(12, 26) / close"},
  {"name": "macd_signal",    "indicator": "macd_signal",   "fast": 12, "slow": 26, "signal": 9, "description": "MACD signal(9) / close"},
  {"name": "bb_pctb_20",     "indicator": "bb_pctb",       "n": 20, "k": 2, "description": "Bollinger %B(20, 2)"},
  {"name": "atr_14",         "indicator": "atr",           "n": 14,  "description": "ATR(14) / close"},
  {"name": "sma_ratio_10",   "indicator": "sma_ratio",     "n": 10,  "description": "close / SMA(10) - 1"},
  {"name": "sma_ratio_50",   "indicator": "sma_ratio",     "n": 50,  "description": "close / SMA(50) - 1"},
  {"name": "volume_z_20",    "indicator": "volume_zscore", "n": 20,  "description": "z-score of ln(1 + volume) over 20 bars; 0 without volume"},
  {"name": "range",          "indicator": "range",                   "description": "(high - low) / close"}
]}$$);

-- user-defined sets are the user's data: pg_dump keeps them, the built-in one comes from the script
SELECT pg_catalog.pg_extension_config_dump('stockml.feature_sets', $$WHERE name <> 'default'$$);

CREATE FUNCTION stockml.features(symbol text, start_day date DEFAULT NULL, end_day date DEFAULT NULL,
                                 feature_set text DEFAULT 'default', horizon integer DEFAULT 1)
RETURNS TABLE (symbol text, day date, close float8, x float8[], y float8)
AS 'MODULE_PATHNAME', 'stockml_features'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.features(text, date, date, text, integer) IS
'feature matrix of one symbol for a stored feature set: x at day t uses bars up to t only; y = ln(close[t+horizon]/close[t]) in stored bars, NULL at the end; rows from the warm-up on';

CREATE FUNCTION stockml.features_spec(symbol text, spec jsonb, start_day date DEFAULT NULL,
                                      end_day date DEFAULT NULL, horizon integer DEFAULT 1)
RETURNS TABLE (symbol text, day date, close float8, x float8[], y float8)
AS 'MODULE_PATHNAME', 'stockml_features_spec'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.features_spec(text, jsonb, date, date, integer) IS
'features() for an explicit spec (e.g. the one stored with a model) instead of a named feature set';
-- Models on matrices (src/model*.c, src/linalg.c): fit, evaluate and inspect the model
-- bytea without the registry.  Algorithms: naive, ridge, elastic_net.

CREATE FUNCTION stockml.fit(algorithm text, x float8[], y float8[], params jsonb DEFAULT '{}')
RETURNS bytea
AS 'MODULE_PATHNAME', 'stockml_fit'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.fit(text, float8[], float8[], jsonb) IS
'fit a model on a raw feature matrix x (2-D, one row per observation) and targets y; returns the model bytea (standardization included)';

CREATE FUNCTION stockml.model_predict(model bytea, x float8[])
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_model_predict'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.model_predict(bytea, float8[]) IS
'evaluate a model bytea on one raw feature vector; a damaged or foreign blob is an ERROR';

CREATE FUNCTION stockml.model_describe(model bytea)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'stockml_model_describe'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.model_describe(bytea) IS
'what a model bytea holds: algorithm, feature count, parameters, intercept, coefficients, standardization';
-- Model registry and tracking (src/train.c, src/registry.c): experiments, runs and their
-- metrics, versioned models, aliases with an append-only history, and the forecast ledger.

CREATE TABLE stockml.experiments (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON INDEX stockml.experiments_name_key IS 'one experiment per model name';
COMMENT ON TABLE stockml.experiments IS 'one experiment per model name: the runs that trained (or tried to train) its versions';

CREATE TABLE stockml.runs (
    id            bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    experiment_id bigint NOT NULL REFERENCES stockml.experiments (id) ON DELETE CASCADE,
    model_name    text NOT NULL,
    algorithm     text NOT NULL,
    symbols       text[] NOT NULL,
    horizon       integer NOT NULL,
    feature_set   text NOT NULL,
    train_end     date,
    params        jsonb NOT NULL,
    status        text NOT NULL
                  CONSTRAINT runs_status CHECK (status IN ('running', 'finished', 'failed')),
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    error         text,
    model_version integer
);
CREATE INDEX runs_experiment_idx ON stockml.runs (experiment_id, started_at);
COMMENT ON TABLE stockml.runs IS 'one row per train() call: parameters, status, times and error; a failed run has no model';
COMMENT ON COLUMN stockml.runs.id IS 'run id; a failed run keeps the id its train() call drew';
COMMENT ON COLUMN stockml.runs.params IS 'the parameters as given to train()';
COMMENT ON COLUMN stockml.runs.status IS 'running (only inside the training transaction), finished or failed';
COMMENT ON COLUMN stockml.runs.error IS 'why the run failed (the ERROR train() raised)';
COMMENT ON COLUMN stockml.runs.model_version IS 'the version the run produced (finished runs)';
COMMENT ON INDEX stockml.runs_experiment_idx IS 'serves the runs of one model name in time order';

CREATE TABLE stockml.run_metrics (
    run_id      bigint NOT NULL REFERENCES stockml.runs (id) ON DELETE CASCADE,
    key         text NOT NULL,
    step        integer NOT NULL,
    value       float8,
    logged_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, key, step)
);
COMMENT ON TABLE stockml.run_metrics IS 'metrics of a run: step = walk-forward fold (1..folds); step 0 = all folds pooled';

CREATE TABLE stockml.models (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL
                  CONSTRAINT models_name_format CHECK (name ~ '^[A-Za-z0-9_.-]{1,63}$'),
    version       integer NOT NULL CONSTRAINT models_version_positive CHECK (version > 0),
    algorithm     text NOT NULL,
    symbols       text[] NOT NULL,
    horizon       integer NOT NULL,
    feature_set   text NOT NULL,
    feature_spec  jsonb NOT NULL,
    params        jsonb NOT NULL,
    metrics       jsonb NOT NULL,
    train_start   date NOT NULL,
    train_end     date NOT NULL,
    n_rows        bigint NOT NULL,
    reference     jsonb NOT NULL,
    model         bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    run_id        bigint REFERENCES stockml.runs (id) ON DELETE SET NULL,
    UNIQUE (name, version)
);
COMMENT ON INDEX stockml.models_name_version_key IS 'one row per version of a model name';
COMMENT ON TABLE stockml.models IS 'trained models, one row per (name, version); the model itself is the bytea column';
COMMENT ON COLUMN stockml.models.feature_spec IS 'the feature spec the model was trained with (a copy: predict() uses it, never the current feature set)';
COMMENT ON COLUMN stockml.models.params IS 'algorithm parameters with defaults filled in, and train()''s own (folds, auto_deploy, reference_rows)';
COMMENT ON COLUMN stockml.models.metrics IS 'walk-forward out-of-sample metrics: mae, rmse, mape, directional_accuracy, the same prefixed naive_, skill = 1 - mae/naive_mae, n_test, folds';
COMMENT ON COLUMN stockml.models.train_start IS 'first day of the training rows';
COMMENT ON COLUMN stockml.models.train_end IS 'last day of the training rows (their targets end at most at the train_end asked for)';
COMMENT ON COLUMN stockml.models.reference IS '{"names": [...], "rows": [[...], ...], "abs_residuals": [...]}: up to reference_rows training rows for drift, and quantiles of out-of-sample |log error| for intervals';
COMMENT ON COLUMN stockml.models.model IS 'the model bytea (README, "The model format")';
COMMENT ON CONSTRAINT models_name_format ON stockml.models IS 'model names are 1-63 of A-Z a-z 0-9 _ . -';

CREATE TABLE stockml.model_aliases (
    name        text NOT NULL,
    alias       text NOT NULL CONSTRAINT model_aliases_alias_format CHECK (alias ~ '^[a-z][a-z0-9_]{0,62}$'),
    version     integer NOT NULL,
    PRIMARY KEY (name, alias),
    FOREIGN KEY (name, version) REFERENCES stockml.models (name, version)
);
COMMENT ON TABLE stockml.model_aliases IS 'which version an alias (production, staging, ...) points to; moved by deploy(), rollback() and train()';

CREATE TABLE stockml.alias_history (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name             text NOT NULL,
    alias            text NOT NULL,
    version          integer NOT NULL,
    previous_version integer,
    action           text NOT NULL CONSTRAINT alias_history_action CHECK (action IN ('deploy', 'auto', 'rollback')),
    set_at           timestamptz NOT NULL DEFAULT now(),
    set_by           text NOT NULL DEFAULT current_user,
    reason           text
);
CREATE INDEX alias_history_name_idx ON stockml.alias_history (name, alias, id);
COMMENT ON TABLE stockml.alias_history IS 'append-only log of every alias move: who, when, why; rows go only with drop_model()';
COMMENT ON COLUMN stockml.alias_history.action IS 'deploy (by hand), auto (train() after a better skill) or rollback';
COMMENT ON INDEX stockml.alias_history_name_idx IS 'serves the history of one alias in order';

CREATE TABLE stockml.predictions (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_id        bigint NOT NULL REFERENCES stockml.models (id) ON DELETE CASCADE,
    model_name      text NOT NULL,
    model_version   integer NOT NULL,
    symbol          text NOT NULL,
    as_of           date NOT NULL,
    target_day      date NOT NULL,
    predicted_close float8 NOT NULL,
    lower           float8,
    upper           float8,
    made_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (model_id, symbol, as_of)
);
CREATE INDEX predictions_symbol_target_idx ON stockml.predictions (symbol, target_day);
COMMENT ON INDEX stockml.predictions_model_id_symbol_as_of_key IS 'one forecast per model version, symbol and as_of day: forecast() replaces a repeat';
COMMENT ON TABLE stockml.predictions IS 'the forecast ledger written by forecast(): one row per model version, symbol and as_of day';
COMMENT ON COLUMN stockml.predictions.as_of IS 'day of the last bar the forecast used';
COMMENT ON COLUMN stockml.predictions.target_day IS 'the trading day forecast (horizon weekdays after as_of)';
COMMENT ON COLUMN stockml.predictions.lower IS 'lower end of the interval at stockml.interval_level, NULL when the model has no residuals';
COMMENT ON INDEX stockml.predictions_symbol_target_idx IS 'joins forecasts with the realized bar (symbol, day)';

-- registry rows are the user's data
SELECT pg_catalog.pg_extension_config_dump('stockml.experiments', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.runs', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.run_metrics', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.models', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.model_aliases', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.alias_history', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.predictions', '');

-- alias_history is append-only while the model exists
CREATE FUNCTION stockml.alias_history_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' OR EXISTS (SELECT FROM stockml.models m WHERE m.name = OLD.name) THEN
        RAISE EXCEPTION 'stockml.alias_history is append-only'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Move an alias with stockml.deploy() or stockml.rollback(); stockml.drop_model() removes a model with its history.';
    END IF;
    RETURN OLD;
END $$;
COMMENT ON FUNCTION stockml.alias_history_guard() IS
'trigger: refuses UPDATE of alias_history, and DELETE while a model of that name exists';
CREATE TRIGGER alias_history_append_only BEFORE UPDATE OR DELETE ON stockml.alias_history
    FOR EACH ROW EXECUTE FUNCTION stockml.alias_history_guard();

-- every backend's model cache forgets what it knows when aliases or models change
CREATE FUNCTION stockml.models_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'stockml_models_changed'
LANGUAGE C;
COMMENT ON FUNCTION stockml.models_changed() IS
'trigger: sends a relcache invalidation at commit so every backend drops its cached models (predict)';
CREATE TRIGGER model_aliases_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON stockml.model_aliases
    FOR EACH STATEMENT EXECUTE FUNCTION stockml.models_changed();
CREATE TRIGGER models_changed AFTER UPDATE OR DELETE OR TRUNCATE ON stockml.models
    FOR EACH STATEMENT EXECUTE FUNCTION stockml.models_changed();

-- versions with their metrics side by side
CREATE VIEW stockml.model_versions AS
SELECT m.name, m.version, m.algorithm,
       coalesce((SELECT array_agg(a.alias ORDER BY a.alias) FROM stockml.model_aliases a
                  WHERE a.name = m.name AND a.version = m.version), '{}') AS aliases,
       m.symbols, m.horizon, m.feature_set, m.train_start, m.train_end, m.n_rows,
       (m.metrics ->> 'skill')::float8 AS skill,
       (m.metrics ->> 'mae')::float8 AS mae,
       (m.metrics ->> 'naive_mae')::float8 AS naive_mae,
       (m.metrics ->> 'rmse')::float8 AS rmse,
       (m.metrics ->> 'naive_rmse')::float8 AS naive_rmse,
       (m.metrics ->> 'mape')::float8 AS mape,
       (m.metrics ->> 'naive_mape')::float8 AS naive_mape,
       (m.metrics ->> 'directional_accuracy')::float8 AS directional_accuracy,
       (m.metrics ->> 'naive_directional_accuracy')::float8 AS naive_directional_accuracy,
       (m.metrics ->> 'n_test')::bigint AS n_test,
       m.params, m.created_at, m.run_id
  FROM stockml.models m;
COMMENT ON VIEW stockml.model_versions IS
'every model version with its aliases and walk-forward metrics beside the naive baseline''s';

CREATE FUNCTION stockml.deploy(model_name text, version integer, alias text DEFAULT 'production',
                               reason text DEFAULT NULL)
RETURNS stockml.alias_history
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    result stockml.alias_history;
BEGIN
    PERFORM stockml._set_alias(model_name, version, alias, 'deploy', coalesce(reason, 'deployed by hand'));
    SELECT * INTO result FROM stockml.alias_history h
     WHERE h.name = model_name AND h.alias = deploy.alias ORDER BY h.id DESC LIMIT 1;
    RETURN result;
END $$;
COMMENT ON FUNCTION stockml.deploy(text, integer, text, text) IS
'point an alias (default production) at a version; logged in alias_history with who, when and why';

CREATE FUNCTION stockml._set_alias(model_name text, version integer, alias text, action text, reason text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    previous integer;
BEGIN
    IF model_name IS NULL OR version IS NULL OR alias IS NULL THEN
        RAISE EXCEPTION 'model_name, version and alias must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT FROM stockml.models m WHERE m.name = model_name) THEN
        RAISE EXCEPTION 'model "%" does not exist', model_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT name, version FROM stockml.model_versions lists the models.';
    END IF;
    IF NOT EXISTS (SELECT FROM stockml.models m WHERE m.name = model_name AND m.version = _set_alias.version) THEN
        RAISE EXCEPTION 'model "%" has no version %', model_name, version
            USING ERRCODE = 'undefined_object',
                  HINT = format('Its versions: %s.', (SELECT string_agg(m.version::text, ', ' ORDER BY m.version)
                                                        FROM stockml.models m WHERE m.name = model_name));
    END IF;
    -- one alias move at a time per model name, so the history is a clean sequence
    PERFORM pg_advisory_xact_lock(hashtext('stockml.model_aliases'), hashtext(model_name));
    SELECT a.version INTO previous FROM stockml.model_aliases a
     WHERE a.name = model_name AND a.alias = _set_alias.alias;
    INSERT INTO stockml.model_aliases AS a (name, alias, version)
    VALUES (model_name, alias, version)
    ON CONFLICT ON CONSTRAINT model_aliases_pkey DO UPDATE SET version = excluded.version;
    INSERT INTO stockml.alias_history (name, alias, version, previous_version, action, reason)
    VALUES (model_name, alias, version, previous, action, reason);
END $$;
COMMENT ON FUNCTION stockml._set_alias(text, integer, text, text, text) IS
'internal: move an alias and append the history row (deploy, rollback and train use it)';

CREATE FUNCTION stockml.rollback(model_name text, alias text DEFAULT 'production', reason text DEFAULT NULL)
RETURNS stockml.alias_history
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    stack integer[] := '{}';
    h record;
    target integer;
    current integer;
    result stockml.alias_history;
BEGIN
    -- replay the history: deploy and auto push a version, rollback pops one
    FOR h IN SELECT * FROM stockml.alias_history ah
              WHERE ah.name = model_name AND ah.alias = rollback.alias ORDER BY ah.id LOOP
        IF h.action = 'rollback' THEN
            stack := stack[1:cardinality(stack) - 1];
        ELSE
            stack := stack || h.version;
        END IF;
    END LOOP;
    SELECT a.version INTO current FROM stockml.model_aliases a
     WHERE a.name = model_name AND a.alias = rollback.alias;
    IF current IS NULL THEN
        RAISE EXCEPTION 'model "%" has no alias "%"', model_name, alias
            USING ERRCODE = 'undefined_object',
                  HINT = 'stockml.deploy(name, version, alias) sets one.';
    END IF;
    IF cardinality(stack) < 2 THEN
        RAISE EXCEPTION 'alias "%" of model "%" has no earlier version to roll back to', alias, model_name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('It points to version %s, the first it was given.', current),
                  HINT = 'stockml.deploy(name, version, alias) sets any version.';
    END IF;
    target := stack[cardinality(stack) - 1];
    PERFORM stockml._set_alias(model_name, target, alias, 'rollback',
                               coalesce(reason, format('rolled back from version %s', current)));
    SELECT * INTO result FROM stockml.alias_history ah
     WHERE ah.name = model_name AND ah.alias = rollback.alias ORDER BY ah.id DESC LIMIT 1;
    RETURN result;
END $$;
COMMENT ON FUNCTION stockml.rollback(text, text, text) IS
'move an alias back to the version it pointed to before its last deploy (repeatable: each call goes one further back)';

CREATE FUNCTION stockml.drop_model(model_name text)
RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n integer;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('stockml.model_aliases'), hashtext(model_name));
    DELETE FROM stockml.model_aliases a WHERE a.name = model_name;
    DELETE FROM stockml.models m WHERE m.name = model_name;
    GET DIAGNOSTICS n = ROW_COUNT;
    DELETE FROM stockml.alias_history h WHERE h.name = model_name;
    DELETE FROM stockml.experiments e WHERE e.name = model_name;
    RETURN n;
END $$;
COMMENT ON FUNCTION stockml.drop_model(text) IS
'remove every version of a model with its aliases, alias history, runs and forecasts; returns the number of versions removed';
-- Training, prediction and forecasts (src/train.c, src/predict.c).

CREATE FUNCTION stockml.train(model_name text, symbols text[], algorithm text DEFAULT 'ridge',
                              horizon integer DEFAULT 1, params jsonb DEFAULT '{}',
                              feature_set text DEFAULT 'default', train_end date DEFAULT NULL,
                              OUT model_name text, OUT version integer, OUT metrics jsonb,
                              OUT deployed boolean)
RETURNS record
AS 'MODULE_PATHNAME', 'stockml_train'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml.train(text, text[], text, integer, jsonb, text, date) IS
'train a new version: walk-forward folds (expanding window, gap = horizon), refit on all rows, register it with its run and metrics; production moves to it only when its skill beats the current one''s';

CREATE FUNCTION stockml.predict(model_name text, symbol text,
                                OUT symbol text, OUT as_of date, OUT target_day date,
                                OUT predicted_close float8, OUT lower float8, OUT upper float8,
                                OUT model_version integer)
RETURNS record
AS 'MODULE_PATHNAME', 'stockml_predict_symbol'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.predict(text, text) IS
'the production version''s forecast of the close horizon weekdays after the symbol''s last stored bar, from features computed with the spec stored in the model';

CREATE FUNCTION stockml.predict(model_name text, x float8[])
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_predict_vector'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.predict(text, float8[]) IS
'the production version''s predicted log return for one raw feature vector (x of stockml.features), for batch use';

CREATE FUNCTION stockml.forecast(model_name text, symbols text[] DEFAULT NULL)
RETURNS SETOF stockml.predictions
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s text;
    p record;
BEGIN
    IF symbols IS NULL THEN
        SELECT m.symbols INTO symbols
          FROM stockml.model_aliases a JOIN stockml.models m ON m.name = a.name AND m.version = a.version
         WHERE a.name = forecast.model_name AND a.alias = 'production';
    END IF;
    FOR s IN SELECT DISTINCT u FROM unnest(coalesce(symbols, ARRAY[NULL::text])) u ORDER BY 1 LOOP
        SELECT * INTO p FROM stockml.predict(forecast.model_name, coalesce(s, ''));
        RETURN QUERY
        INSERT INTO stockml.predictions AS t (model_id, model_name, model_version, symbol, as_of,
                                             target_day, predicted_close, lower, upper)
        SELECT m.id, m.name, m.version, p.symbol, p.as_of, p.target_day, p.predicted_close, p.lower, p.upper
          FROM stockml.models m WHERE m.name = forecast.model_name AND m.version = p.model_version
        ON CONFLICT ON CONSTRAINT predictions_model_id_symbol_as_of_key DO UPDATE
           SET target_day = excluded.target_day, predicted_close = excluded.predicted_close,
               lower = excluded.lower, upper = excluded.upper, made_at = now()
        RETURNING t.*;
    END LOOP;
END $$;
COMMENT ON FUNCTION stockml.forecast(text, text[]) IS
'predict each symbol (default: the production model''s own) and record it in stockml.predictions; a repeat on the same as_of day replaces the row';

CREATE FUNCTION stockml.run_job_train(job_id bigint, args jsonb)
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
    unknown text;
BEGIN
    SELECT string_agg(k, ', ') INTO unknown FROM jsonb_object_keys(args) k
     WHERE k NOT IN ('model_name', 'symbols', 'algorithm', 'horizon', 'params', 'feature_set', 'train_end');
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown key in train job args: %', unknown
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Keys: model_name, symbols, algorithm, horizon, params, feature_set, train_end.';
    END IF;
    IF jsonb_typeof(args -> 'symbols') IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'train job args need "symbols", an array of symbols'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example {"model_name": "msft_ridge", "symbols": ["MSFT"]}.';
    END IF;
    SELECT * INTO r FROM stockml.train(
        args ->> 'model_name',
        ARRAY(SELECT jsonb_array_elements_text(args -> 'symbols')),
        coalesce(args ->> 'algorithm', 'ridge'),
        coalesce((args ->> 'horizon')::integer, 1),
        coalesce(args -> 'params', '{}'),
        coalesce(args ->> 'feature_set', 'default'),
        (args ->> 'train_end')::date);
    RETURN format('%s version %s%s, skill %s', r.model_name, r.version,
                  CASE WHEN r.deployed THEN ' (deployed to production)' ELSE '' END,
                  round((r.metrics ->> 'skill')::numeric, 4));
END $$;
COMMENT ON FUNCTION stockml.run_job_train(bigint, jsonb) IS
'job kind train: args {"model_name", "symbols": [...], optional "algorithm", "horizon", "params", "feature_set", "train_end"}; returns the version trained';

-- stockml_admin runs the model lifecycle: train (also as a job, e.g. a retrain monitor()
-- enqueued), deploy, rollback, forecast.  Removing models (drop_model) stays with the owner.
GRANT SELECT, INSERT ON stockml.experiments, stockml.run_metrics, stockml.models,
                        stockml.alias_history TO stockml_admin;
GRANT SELECT, INSERT, UPDATE ON stockml.runs, stockml.model_aliases, stockml.predictions TO stockml_admin;
GRANT USAGE ON SEQUENCE stockml.runs_id_seq TO stockml_admin;
GRANT SELECT ON stockml.feature_sets TO stockml_admin;
-- Drift statistics (src/drift.c): each takes the reference sample and the current
-- sample as float8[]; NULL, NaN and infinite elements are dropped.

CREATE FUNCTION stockml.ks_test(ref float8[], cur float8[],
                                OUT statistic float8, OUT p_value float8)
AS 'MODULE_PATHNAME', 'stockml_ks_test'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.ks_test(float8[], float8[]) IS
'two-sample Kolmogorov-Smirnov test: (statistic, p_value) as scipy.stats.ks_2samp (exact p-value up to 10000 values per sample, else asymptotic)';

CREATE FUNCTION stockml.wasserstein(ref float8[], cur float8[])
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_wasserstein'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.wasserstein(float8[], float8[]) IS
'1-D earth mover''s distance divided by max(population standard deviation of ref, 0.001), as Evidently''s wasserstein test';

CREATE FUNCTION stockml.psi(ref float8[], cur float8[])
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_psi'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.psi(float8[], float8[]) IS
'population stability index over Evidently''s bins (Sturges bins over both samples when ref has more than 20 distinct values, else one bin per value)';

CREATE FUNCTION stockml.kl_div(ref float8[], cur float8[])
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_kl_div'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.kl_div(float8[], float8[]) IS
'Kullback-Leibler divergence KL(ref || cur), natural log, over Evidently''s bins';

CREATE FUNCTION stockml.jensen_shannon(ref float8[], cur float8[])
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_jensen_shannon'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.jensen_shannon(float8[], float8[]) IS
'Jensen-Shannon distance (square root of the divergence, natural log) over Evidently''s bins, as scipy.spatial.distance.jensenshannon';

CREATE FUNCTION stockml.drift_test(ref float8[], cur float8[],
                                   method text DEFAULT 'auto', threshold float8 DEFAULT NULL,
                                   OUT method text, OUT statistic float8, OUT p_value float8,
                                   OUT threshold float8, OUT drifted boolean)
AS 'MODULE_PATHNAME', 'stockml_drift_test'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.drift_test(float8[], float8[], text, float8) IS
'one drift test with Evidently''s defaults: auto = ks when ref has at most 1000 values (drift when p < 0.05), else wasserstein (drift when >= 0.1); psi, kl_div, jensen_shannon drift at >= 0.1';
-- Monitoring: retrain policies, what monitor() measures (drift_metrics, performance_metrics)
-- and the retrains it asks for (retrain_events).  monitor() and the monitor / forecast job
-- kinds are PL/pgSQL over the C statistics of src/drift.c.

CREATE TABLE stockml.retrain_policies (
    model_name      text PRIMARY KEY,
    window_days     integer NOT NULL DEFAULT 60
                    CONSTRAINT retrain_policies_window_days CHECK (window_days BETWEEN 2 AND 3660),
    drift_method    text NOT NULL DEFAULT 'auto'
                    CONSTRAINT retrain_policies_drift_method
                    CHECK (drift_method IN ('auto', 'ks', 'wasserstein', 'psi', 'kl_div', 'jensen_shannon')),
    drift_threshold float8
                    CONSTRAINT retrain_policies_drift_threshold
                    CHECK (drift_threshold >= 0 AND drift_threshold < 'Infinity'::float8),
    max_drift_share float8 DEFAULT 0.5
                    CONSTRAINT retrain_policies_max_drift_share CHECK (max_drift_share BETWEEN 0 AND 1),
    min_skill       float8 DEFAULT 0
                    CONSTRAINT retrain_policies_min_skill CHECK (min_skill <= 1),
    min_forecasts   integer NOT NULL DEFAULT 20
                    CONSTRAINT retrain_policies_min_forecasts CHECK (min_forecasts >= 1),
    max_model_age   interval DEFAULT '90 days'
                    CONSTRAINT retrain_policies_max_model_age CHECK (max_model_age > '0'::interval),
    enabled         boolean NOT NULL DEFAULT true,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE stockml.retrain_policies IS 'per model: how monitor() measures drift and when it enqueues a retrain; monitor() adds a row with the defaults for a model that has none';
COMMENT ON COLUMN stockml.retrain_policies.window_days IS 'the recent window compared with the reference: the last window_days calendar days up to the latest stored bar';
COMMENT ON COLUMN stockml.retrain_policies.drift_method IS 'auto (Evidently''s default: ks up to 1000 reference values, wasserstein above), ks, wasserstein, psi, kl_div or jensen_shannon';
COMMENT ON COLUMN stockml.retrain_policies.drift_threshold IS 'a feature drifts when p < threshold (ks) or statistic >= threshold (others); NULL: the method''s default (0.05 for ks, 0.1 for the others)';
COMMENT ON COLUMN stockml.retrain_policies.max_drift_share IS 'retrain when the share of drifted features exceeds this; NULL: never for drift';
COMMENT ON COLUMN stockml.retrain_policies.min_skill IS 'retrain when realized skill (1 - MAE/MAE_naive) over the window falls below this; NULL: never for skill';
COMMENT ON COLUMN stockml.retrain_policies.min_forecasts IS 'realized forecasts the window must hold before min_skill is applied';
COMMENT ON COLUMN stockml.retrain_policies.max_model_age IS 'retrain when the monitored version is older than this; NULL: never for age';
COMMENT ON COLUMN stockml.retrain_policies.enabled IS 'false: monitor() still measures but never enqueues a retrain';

CREATE TABLE stockml.drift_metrics (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    measured_at   timestamptz NOT NULL DEFAULT now(),
    model_name    text NOT NULL,
    model_version integer NOT NULL,
    feature       text NOT NULL,
    method        text NOT NULL,
    statistic     float8 NOT NULL,
    p_value       float8,
    threshold     float8 NOT NULL,
    drifted       boolean NOT NULL,
    n_reference   integer NOT NULL,
    n_current     integer NOT NULL,
    window_start  date NOT NULL,
    window_end    date NOT NULL
);
CREATE INDEX drift_metrics_model_measured_idx ON stockml.drift_metrics (model_name, measured_at);
COMMENT ON TABLE stockml.drift_metrics IS 'one row per feature per monitor() run: the reference sample of the model against the recent window';
COMMENT ON COLUMN stockml.drift_metrics.p_value IS 'ks only; NULL for the distance-based tests';
COMMENT ON COLUMN stockml.drift_metrics.drifted IS 'ks: p_value < threshold; others: statistic >= threshold';
COMMENT ON INDEX stockml.drift_metrics_model_measured_idx IS 'serves a model''s drift over time';

CREATE TABLE stockml.performance_metrics (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    measured_at          timestamptz NOT NULL DEFAULT now(),
    model_name           text NOT NULL,
    model_version        integer NOT NULL,
    symbol               text,
    window_start         date NOT NULL,
    window_end           date NOT NULL,
    n_forecasts          integer NOT NULL,
    mae                  float8,
    mae_naive            float8,
    skill                float8,
    directional_accuracy float8,
    rmse                 float8,
    coverage             float8
);
CREATE INDEX performance_metrics_model_measured_idx ON stockml.performance_metrics (model_name, measured_at);
COMMENT ON TABLE stockml.performance_metrics IS 'realized accuracy of past forecasts (stockml.predictions joined with realized closes) per monitor() run: one row for all symbols (symbol NULL) and one per symbol';
COMMENT ON COLUMN stockml.performance_metrics.model_version IS 'the version monitored; the forecasts scored are those of every version of the model whose target day lies in the window';
COMMENT ON COLUMN stockml.performance_metrics.mae IS 'mean |predicted close - realized close|';
COMMENT ON COLUMN stockml.performance_metrics.mae_naive IS 'the same for the naive forecast: the close at the forecast''s as_of day';
COMMENT ON COLUMN stockml.performance_metrics.skill IS '1 - mae / mae_naive (NULL when mae_naive is 0)';
COMMENT ON COLUMN stockml.performance_metrics.directional_accuracy IS 'share of forecasts whose move from the as_of close has the sign of the realized move';
COMMENT ON COLUMN stockml.performance_metrics.coverage IS 'share of realized closes inside the forecast''s [lower, upper] interval';
COMMENT ON INDEX stockml.performance_metrics_model_measured_idx IS 'serves a model''s accuracy over time';

CREATE TABLE stockml.retrain_events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at    timestamptz NOT NULL DEFAULT now(),
    model_name    text NOT NULL,
    model_version integer NOT NULL,
    reason        text NOT NULL,
    details       jsonb NOT NULL DEFAULT '{}',
    job_id        bigint,
    status        text NOT NULL DEFAULT 'queued'
                  CONSTRAINT retrain_events_status
                  CHECK (status IN ('queued', 'deployed', 'not_deployed', 'failed')),
    new_version   integer,
    resolved_at   timestamptz
);
CREATE INDEX retrain_events_model_created_idx ON stockml.retrain_events (model_name, created_at);
COMMENT ON TABLE stockml.retrain_events IS 'each retrain monitor() enqueued, why, and how it ended';
COMMENT ON COLUMN stockml.retrain_events.model_version IS 'the version whose monitoring broke a limit';
COMMENT ON COLUMN stockml.retrain_events.reason IS 'the broken limits, e.g. "drift share 0.75 > 0.5; skill -0.12 < 0"';
COMMENT ON COLUMN stockml.retrain_events.details IS 'the measured values and the limits they broke';
COMMENT ON COLUMN stockml.retrain_events.job_id IS 'the train job in stockml.jobs';
COMMENT ON COLUMN stockml.retrain_events.status IS 'queued: job not finished; deployed: the new version became production; not_deployed: trained and recorded but it did not beat production; failed: the job failed';
COMMENT ON COLUMN stockml.retrain_events.new_version IS 'the version the retrain trained';
COMMENT ON INDEX stockml.retrain_events_model_created_idx IS 'serves a model''s retrain history';

-- The reference sample kept with a model, one float8[] per feature in the order of names
-- (src/monitor.c, one pass over the jsonb).  Reads what train() stores, {"names": [..],
-- "sample": [[v, ..], ..], ..}, and also {"<feature>": [v, ..], ..}; "features"/"columns"
-- and "rows"/"x" are read as synonyms, a bare array as rows.
CREATE FUNCTION stockml.reference_columns(reference jsonb, names text[])
RETURNS TABLE (ord integer, feature text, vals float8[])
AS 'MODULE_PATHNAME', 'stockml_reference_columns'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.reference_columns(jsonb, text[]) IS
'the reference sample kept with a model as one float8[] per named feature; reads {"names": [..], "sample": [[..]]} (what train() stores) or {"feature": [..]}';

-- Realized accuracy of a model's forecasts whose target day lies in [from_day, to_day]:
-- the latest forecast per (symbol, target day) of any version, joined with the closes.
CREATE FUNCTION stockml.forecast_accuracy(model_name text, from_day date, to_day date)
RETURNS TABLE (symbol text, n_forecasts integer, mae float8, mae_naive float8, skill float8,
               directional_accuracy float8, rmse float8, coverage float8)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH latest AS (
        SELECT DISTINCT ON (p.symbol, p.target_day) p.symbol, p.as_of, p.target_day,
               p.predicted_close, p.lower, p.upper
          FROM stockml.predictions p
          JOIN stockml.models m ON m.id = p.model_id
         WHERE m.name = forecast_accuracy.model_name
           AND p.target_day BETWEEN from_day AND to_day
         ORDER BY p.symbol, p.target_day, p.made_at DESC, p.as_of DESC),
    scored AS (
        SELECT l.symbol, l.predicted_close - a.close AS err, b.close - a.close AS naive_err,
               sign(l.predicted_close - b.close) = sign(a.close - b.close) AS right_way,
               a.close BETWEEN l.lower AND l.upper AS covered
          FROM latest l
          JOIN stockml.prices a ON a.symbol = l.symbol AND a.day = l.target_day
          JOIN stockml.prices b ON b.symbol = l.symbol AND b.day = l.as_of)
    SELECT s.symbol, count(*)::integer, avg(abs(s.err)), avg(abs(s.naive_err)),
           1 - avg(abs(s.err)) / nullif(avg(abs(s.naive_err)), 0),
           avg(s.right_way::int)::float8, sqrt(avg(s.err * s.err)), avg(s.covered::int)::float8
      FROM scored s
     GROUP BY GROUPING SETS ((), (s.symbol))
     ORDER BY s.symbol NULLS FIRST;
END
$$;
COMMENT ON FUNCTION stockml.forecast_accuracy(text, date, date) IS
'realized accuracy of a model''s forecasts with target day in [from_day, to_day]: one row for all symbols (symbol NULL), then one per symbol';

-- Finish the bookkeeping of retrains whose train job has ended.
CREATE FUNCTION stockml.resolve_retrain_events(model_name text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    resolved integer;
BEGIN
    WITH ended AS (
        SELECT e.id, j.status AS job_status,
               (SELECT min(m.version) FROM stockml.models m
                 WHERE m.name = e.model_name
                   AND m.version > coalesce((e.details ->> 'latest_version')::integer, e.model_version)) AS new_version
          FROM stockml.retrain_events e
          JOIN stockml.jobs j ON j.id = e.job_id
         WHERE e.status = 'queued'
           AND (resolve_retrain_events.model_name IS NULL OR e.model_name = resolve_retrain_events.model_name)
           AND j.status IN ('done', 'failed', 'cancelled'))
    UPDATE stockml.retrain_events e
       SET status = CASE
                      WHEN x.job_status <> 'done' OR x.new_version IS NULL THEN 'failed'
                      WHEN EXISTS (SELECT FROM stockml.model_aliases a
                                    WHERE a.name = e.model_name AND a.alias = 'production'
                                      AND a.version = x.new_version) THEN 'deployed'
                      ELSE 'not_deployed' END,
           new_version = x.new_version,
           resolved_at = now()
      FROM ended x
     WHERE e.id = x.id;
    GET DIAGNOSTICS resolved = ROW_COUNT;
    RETURN resolved;
END
$$;
COMMENT ON FUNCTION stockml.resolve_retrain_events(text) IS
'mark retrain_events whose train job ended as deployed, not_deployed (trained, did not beat production) or failed; monitor() calls it first';

CREATE FUNCTION stockml.monitor(model_name text, window_days integer DEFAULT NULL)
RETURNS TABLE (model text, version integer, window_start date, window_end date,
               features integer, drifted_features integer, drift_share float8,
               n_forecasts integer, mae float8, skill float8, directional_accuracy float8,
               retrain_reason text, retrain_job bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    m          record;
    pol        stockml.retrain_policies;
    names      text[];
    last_day   date;
    run_at     timestamptz := clock_timestamp();
    perf       record;
    reasons    text[] := '{}';
    details    jsonb := '{}';
    pending    bigint;
BEGIN
    IF model_name IS NULL THEN
        RAISE EXCEPTION 'model name must not be NULL'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF window_days IS NOT NULL AND window_days NOT BETWEEN 2 AND 3660 THEN
        RAISE EXCEPTION 'window_days must be between 2 and 3660, not %', window_days
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- one monitor() per model at a time, so two runs never enqueue two retrains
    PERFORM pg_advisory_xact_lock(hashtext('stockml.monitor'), hashtext(monitor.model_name));

    -- the production version, else the latest
    SELECT mo.* INTO m
      FROM stockml.models mo
      LEFT JOIN stockml.model_aliases a
             ON a.name = mo.name AND a.version = mo.version AND a.alias = 'production'
     WHERE mo.name = monitor.model_name
     ORDER BY (a.alias IS NOT NULL) DESC, mo.version DESC
     LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" does not exist', monitor.model_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'Train it first, e.g. SELECT * FROM stockml.train(''' || monitor.model_name || ''', ARRAY[''MSFT'']).';
    END IF;

    INSERT INTO stockml.retrain_policies AS p (model_name) VALUES (m.name)
    ON CONFLICT ON CONSTRAINT retrain_policies_pkey DO NOTHING;
    SELECT p.* INTO pol FROM stockml.retrain_policies p WHERE p.model_name = m.name;
    window_days := coalesce(window_days, pol.window_days);

    SELECT max(pr.day) INTO last_day FROM stockml.prices pr WHERE pr.symbol = ANY (m.symbols);
    IF last_day IS NULL THEN
        RAISE EXCEPTION 'no prices stored for the symbols of model "%"', m.name
            USING ERRCODE = 'no_data_found',
                  DETAIL = 'Symbols: ' || array_to_string(m.symbols, ', ') || '.',
                  HINT = 'Load prices first: SELECT * FROM stockml.refresh().';
    END IF;
    model := m.name;
    version := m.version;
    window_end := last_day;
    window_start := last_day - window_days + 1;

    -- drift: each feature of the recent window against the model's reference sample
    names := stockml.feature_names(m.feature_spec);
    INSERT INTO stockml.drift_metrics
           (measured_at, model_name, model_version, feature, method, statistic, p_value,
            threshold, drifted, n_reference, n_current, window_start, window_end)
    SELECT run_at, m.name, m.version, r.feature, t.method, t.statistic, t.p_value,
           t.threshold, t.drifted,
           (SELECT count(*) FROM unnest(r.vals) v WHERE v IS NOT NULL AND v <> 'NaN' AND abs(v) < 'Infinity'),
           (SELECT count(*) FROM unnest(c.vals) v WHERE v IS NOT NULL AND v <> 'NaN' AND abs(v) < 'Infinity'),
           monitor.window_start, monitor.window_end
      FROM stockml.reference_columns(m.reference, names) r
      JOIN (SELECT i.ord, array_agg(f.x[i.ord]) AS vals
              FROM unnest(m.symbols) s(symbol)
             CROSS JOIN LATERAL stockml.features_spec(s.symbol, m.feature_spec,
                                                     monitor.window_start, monitor.window_end) f
             CROSS JOIN generate_series(1, cardinality(names)) i(ord)
             GROUP BY i.ord) c ON c.ord = r.ord
     CROSS JOIN LATERAL stockml.drift_test(r.vals, c.vals, pol.drift_method, pol.drift_threshold) t
     WHERE EXISTS (SELECT FROM unnest(r.vals) v WHERE v IS NOT NULL AND v <> 'NaN' AND abs(v) < 'Infinity')
       AND EXISTS (SELECT FROM unnest(c.vals) v WHERE v IS NOT NULL AND v <> 'NaN' AND abs(v) < 'Infinity');
    SELECT count(*), count(*) FILTER (WHERE d.drifted)
      INTO features, drifted_features
      FROM stockml.drift_metrics d
     WHERE d.model_name = m.name AND d.measured_at = run_at;
    drift_share := CASE WHEN features > 0 THEN drifted_features::float8 / features END;

    -- realized accuracy of past forecasts over the same window
    INSERT INTO stockml.performance_metrics
           (measured_at, model_name, model_version, symbol, window_start, window_end, n_forecasts,
            mae, mae_naive, skill, directional_accuracy, rmse, coverage)
    SELECT run_at, m.name, m.version, a.symbol, monitor.window_start, monitor.window_end,
           a.n_forecasts, a.mae, a.mae_naive, a.skill, a.directional_accuracy, a.rmse, a.coverage
      FROM stockml.forecast_accuracy(m.name, monitor.window_start, monitor.window_end) a;
    SELECT a.n_forecasts, a.mae, a.skill, a.directional_accuracy INTO perf
      FROM stockml.performance_metrics a
     WHERE a.model_name = m.name AND a.measured_at = run_at AND a.symbol IS NULL;
    n_forecasts := coalesce(perf.n_forecasts, 0);
    mae := perf.mae;
    skill := perf.skill;
    directional_accuracy := perf.directional_accuracy;

    -- the retrain policy
    PERFORM stockml.resolve_retrain_events(m.name);
    IF pol.max_drift_share IS NOT NULL AND drift_share > pol.max_drift_share THEN
        reasons := reasons || format('drift share %s > %s', round(drift_share::numeric, 3), pol.max_drift_share);
    END IF;
    IF pol.min_skill IS NOT NULL AND n_forecasts >= pol.min_forecasts AND skill < pol.min_skill THEN
        reasons := reasons || format('skill %s < %s over %s forecasts', round(skill::numeric, 3), pol.min_skill, n_forecasts);
    END IF;
    IF pol.max_model_age IS NOT NULL AND run_at - m.created_at > pol.max_model_age THEN
        reasons := reasons || format('model age %s > %s', date_trunc('second', run_at - m.created_at), pol.max_model_age);
    END IF;
    IF cardinality(reasons) > 0 THEN
        retrain_reason := array_to_string(reasons, '; ');
        SELECT e.job_id INTO pending FROM stockml.retrain_events e
         WHERE e.model_name = m.name AND e.status = 'queued' ORDER BY e.id DESC LIMIT 1;
        IF pending IS NOT NULL THEN
            retrain_reason := retrain_reason || format(' (retrain job %s already queued)', pending);
        ELSIF pol.enabled THEN
            details := jsonb_build_object(
                'drift_share', drift_share, 'max_drift_share', pol.max_drift_share,
                'skill', skill, 'min_skill', pol.min_skill, 'n_forecasts', n_forecasts,
                'model_age', (run_at - m.created_at)::text, 'max_model_age', pol.max_model_age::text,
                'window_start', monitor.window_start, 'window_end', monitor.window_end,
                'latest_version', (SELECT max(mo.version) FROM stockml.models mo WHERE mo.name = m.name));
            retrain_job := stockml.submit('train', jsonb_build_object(
                'model_name', m.name, 'symbols', to_jsonb(m.symbols), 'algorithm', m.algorithm,
                'horizon', m.horizon, 'params', m.params, 'feature_set', m.feature_set));
            INSERT INTO stockml.retrain_events (created_at, model_name, model_version, reason, details, job_id)
            VALUES (run_at, m.name, m.version, retrain_reason, details, retrain_job);
        ELSE
            retrain_reason := retrain_reason || ' (policy disabled: no retrain)';
        END IF;
    END IF;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stockml.monitor(text, integer) IS
'compare the recent window of each feature with the model''s reference sample, score realized forecasts against the naive baseline, write drift_metrics and performance_metrics, and enqueue one train job when the retrain policy says so';

-- The models a monitor or forecast job names: {"model_name": ..} or {"models": [..]}, else
-- every model with a production version.
CREATE FUNCTION stockml.job_models(kind text, args jsonb, allowed text[])
RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    unknown text;
BEGIN
    SELECT string_agg(k, ', ') INTO unknown FROM jsonb_object_keys(args) k WHERE k <> ALL (allowed);
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown key in % job args: %', kind, unknown
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Keys: ' || array_to_string(allowed, ', ') || '.';
    END IF;
    IF args ? 'models' AND jsonb_typeof(args -> 'models') <> 'array' THEN
        RAISE EXCEPTION '"models" of a % job must be an array of model names', kind
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('For example: stockml.submit(%L, ''{"models": ["msft_ridge"]}'').', kind);
    END IF;
    IF args ? 'model_name' THEN
        RETURN ARRAY[args ->> 'model_name'];
    ELSIF args ? 'models' THEN
        RETURN ARRAY(SELECT jsonb_array_elements_text(args -> 'models'));
    END IF;
    RETURN ARRAY(SELECT DISTINCT a.name FROM stockml.model_aliases a WHERE a.alias = 'production' ORDER BY 1);
END
$$;
COMMENT ON FUNCTION stockml.job_models(text, jsonb, text[]) IS
'internal: the models a monitor or forecast job names ("model_name" or "models"; default every model with a production version), refusing unknown keys';

CREATE FUNCTION stockml.run_job_monitor(job_id bigint, args jsonb)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    names text[] := stockml.job_models('monitor', args, ARRAY['model_name', 'models', 'window_days']);
    r     record;
    parts text[] := '{}';
BEGIN
    FOR i IN 1 .. coalesce(cardinality(names), 0) LOOP
        SELECT * INTO r FROM stockml.monitor(names[i], (args ->> 'window_days')::integer);
        parts := parts || format('%s v%s: %s of %s features drifted, skill %s%s', r.model, r.version,
                                 r.drifted_features, r.features, coalesce(round(r.skill::numeric, 3)::text, 'n/a'),
                                 CASE WHEN r.retrain_job IS NOT NULL THEN format(', retrain job %s', r.retrain_job) ELSE '' END);
        PERFORM stockml.report_job_progress(i::float8 / cardinality(names));
    END LOOP;
    RETURN CASE WHEN cardinality(parts) = 0 THEN 'no model to monitor' ELSE array_to_string(parts, '; ') END;
END
$$;
COMMENT ON FUNCTION stockml.run_job_monitor(bigint, jsonb) IS
'job kind monitor: args {"model_name": ..} or {"models": [..]} (default every model with a production version), optional "window_days"; returns a summary per model';

CREATE FUNCTION stockml.run_job_forecast(job_id bigint, args jsonb)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    names   text[] := stockml.job_models('forecast', args, ARRAY['model_name', 'models', 'symbols']);
    symbols text[];
    n       bigint;
    parts   text[] := '{}';
BEGIN
    IF args ? 'symbols' THEN
        IF jsonb_typeof(args -> 'symbols') <> 'array' THEN
            RAISE EXCEPTION '"symbols" of a forecast job must be an array of symbols'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'For example: stockml.submit(''forecast'', ''{"model_name": "msft_ridge", "symbols": ["MSFT"]}'').';
        END IF;
        symbols := ARRAY(SELECT jsonb_array_elements_text(args -> 'symbols'));
    END IF;
    FOR i IN 1 .. coalesce(cardinality(names), 0) LOOP
        SELECT count(*) INTO n FROM stockml.forecast(names[i], symbols);
        parts := parts || format('%s: %s forecast%s', names[i], n, CASE WHEN n = 1 THEN '' ELSE 's' END);
        PERFORM stockml.report_job_progress(i::float8 / cardinality(names));
    END LOOP;
    RETURN CASE WHEN cardinality(parts) = 0 THEN 'no model to forecast with' ELSE array_to_string(parts, '; ') END;
END
$$;
COMMENT ON FUNCTION stockml.run_job_forecast(bigint, jsonb) IS
'job kind forecast: args {"model_name": ..} or {"models": [..]} (default every model with a production version), optional "symbols"; returns the forecasts made per model';
-- Views for Grafana: each has a `time` column (timestamptz; a trading day is its midnight
-- UTC) and is ordered by it, one row per point.  The grafana/ dashboards read only these.

CREATE VIEW stockml.price_history AS
SELECT (p.day::timestamp AT TIME ZONE 'UTC') AS time, p.symbol, p.day,
       p.open, p.high, p.low, p.close, p.adj_close, p.volume
  FROM stockml.prices p
 ORDER BY time, p.symbol;
COMMENT ON VIEW stockml.price_history IS 'Grafana: daily bars, time = the trading day at 00:00 UTC';

CREATE VIEW stockml.feature_drift AS
SELECT d.measured_at AS time, d.model_name, d.model_version, d.feature, d.method,
       d.statistic, d.p_value, d.threshold, d.drifted::integer AS drifted,
       d.n_reference, d.n_current, d.window_start, d.window_end
  FROM stockml.drift_metrics d
 ORDER BY time, d.model_name, d.feature;
COMMENT ON VIEW stockml.feature_drift IS 'Grafana: drift per feature per monitor() run (drifted as 0/1)';

CREATE VIEW stockml.drift_share AS
SELECT d.measured_at AS time, d.model_name, d.model_version,
       count(*)::integer AS features,
       (count(*) FILTER (WHERE d.drifted))::integer AS drifted_features,
       (count(*) FILTER (WHERE d.drifted))::float8 / count(*) AS drift_share
  FROM stockml.drift_metrics d
 GROUP BY d.measured_at, d.model_name, d.model_version
 ORDER BY time, d.model_name;
COMMENT ON VIEW stockml.drift_share IS 'Grafana: share of drifted features per monitor() run';

CREATE VIEW stockml.model_performance AS
SELECT p.measured_at AS time, p.model_name, p.model_version, coalesce(p.symbol, 'all') AS symbol,
       p.n_forecasts, p.mae, p.mae_naive, p.skill, p.directional_accuracy, p.rmse, p.coverage,
       p.window_start, p.window_end
  FROM stockml.performance_metrics p
 ORDER BY time, p.model_name, symbol;
COMMENT ON VIEW stockml.model_performance IS 'Grafana: realized MAE, skill against the naive forecast, directional accuracy and interval coverage per monitor() run (symbol ''all'' for every symbol together)';

CREATE VIEW stockml.ingest_status AS
SELECT l.started_at AS time, l.symbol, l.source, l.status,
       (l.status IN ('ok', 'partial'))::integer AS succeeded,
       l.http_status, l.rows_inserted, l.rows_updated, l.rows_rejected,
       extract(epoch FROM l.finished_at - l.started_at) * 1000 AS duration_ms, l.error
  FROM stockml.ingest_log l
 ORDER BY time, l.id;
COMMENT ON VIEW stockml.ingest_status IS 'Grafana: every ingest or fetch with its outcome (succeeded as 0/1) and duration';

CREATE VIEW stockml.retrain_history AS
SELECT e.created_at AS time, e.resolved_at AS time_end, e.model_name, e.model_version,
       e.reason, e.status, e.job_id, e.new_version,
       format('retrain %s v%s: %s (%s%s)', e.model_name, e.model_version, e.reason, e.status,
              CASE WHEN e.new_version IS NOT NULL THEN ', v' || e.new_version ELSE '' END) AS text,
       'retrain,' || e.status AS tags
  FROM stockml.retrain_events e
 ORDER BY time, e.id;
COMMENT ON VIEW stockml.retrain_history IS 'Grafana annotations: each retrain monitor() enqueued (time, time_end, text, tags)';

CREATE VIEW stockml.job_history AS
SELECT j.submitted_at AS time, j.id, j.kind, j.status, j.attempts, j.progress,
       (j.status = 'done')::integer AS succeeded, (j.status IN ('failed', 'cancelled'))::integer AS failed,
       extract(epoch FROM coalesce(j.started_at, now()) - j.submitted_at) AS wait_s,
       extract(epoch FROM coalesce(j.finished_at, now()) - j.started_at) AS run_s,
       j.error
  FROM stockml.jobs j
 ORDER BY time, j.id;
COMMENT ON VIEW stockml.job_history IS 'Grafana: every job with its status, seconds waited in the queue and run (succeeded/failed as 0/1)';
-- Grafana views over the model registry (sql/install/51_registry.sql): forecasts beside
-- the realized closes, and the model versions with their metrics.

CREATE VIEW stockml.forecast_history AS
SELECT (f.target_day::timestamp AT TIME ZONE 'UTC') AS time, f.symbol, f.model_name, f.model_version,
       f.as_of, f.target_day, f.predicted_close, f.lower, f.upper,
       a.close AS actual_close, b.close AS naive_close,
       f.predicted_close - a.close AS error, f.made_at
  FROM (SELECT DISTINCT ON (p.model_name, p.symbol, p.target_day) p.*
          FROM stockml.predictions p
         ORDER BY p.model_name, p.symbol, p.target_day, p.made_at DESC, p.id DESC) f
  LEFT JOIN stockml.prices a ON a.symbol = f.symbol AND a.day = f.target_day
  LEFT JOIN stockml.prices b ON b.symbol = f.symbol AND b.day = f.as_of
 ORDER BY time, f.symbol, f.model_name;
COMMENT ON VIEW stockml.forecast_history IS 'Grafana: the latest forecast of each model for each symbol and target day (time), with its interval, the realized close once known and the naive forecast (the close on as_of)';

CREATE VIEW stockml.model_history AS
SELECT v.created_at AS time, v.name, v.version, v.aliases, v.algorithm, v.symbols, v.horizon,
       v.feature_set, v.train_start, v.train_end, v.n_rows, v.skill, v.mae, v.naive_mae, v.rmse,
       v.directional_accuracy, v.naive_directional_accuracy, v.n_test
  FROM stockml.model_versions v
 ORDER BY time, v.name, v.version;
COMMENT ON VIEW stockml.model_history IS 'Grafana: every model version (time = when trained) with its aliases and walk-forward metrics beside the naive baseline''s';
-- stockml_reader: what Grafana logs in as (through a LOGIN role that is a member).  It may
-- read the Grafana views and call predict(), nothing else: no table, no model blob.  Roles belong to the
-- cluster, not the database, so the role is created only when missing and outlives
-- DROP EXTENSION (drop it by hand once no database uses it).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'stockml_reader') THEN
        CREATE ROLE stockml_reader NOLOGIN;
        COMMENT ON ROLE stockml_reader IS 'stockml: SELECT on the Grafana views of schema stockml and predict(), nothing else';
    END IF;
END
$$;

GRANT USAGE ON SCHEMA stockml TO stockml_reader;
GRANT SELECT ON stockml.price_history, stockml.feature_drift, stockml.drift_share,
                stockml.model_performance, stockml.ingest_status, stockml.retrain_history,
                stockml.job_history, stockml.forecast_history, stockml.model_history
   TO stockml_reader;

-- predict() reads models, aliases and prices, which the reader may not: src/predict.c does
-- those reads as the extension's owner (search_path pinned, security-restricted; it only
-- reads, and its SQL is parameterised) -- not SECURITY DEFINER, whose per-call SET of
-- search_path would cost batch predict(model, x) several times a bare scan.  EXECUTE is
-- for the reader and stockml_admin rather than for PUBLIC.
REVOKE EXECUTE ON FUNCTION stockml.predict(text, text), stockml.predict(text, float8[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml.predict(text, text), stockml.predict(text, float8[])
   TO stockml_reader, stockml_admin;

-- stockml_admin runs monitor() and manages the policies; monitor() reads the model, its
-- aliases and its forecasts
GRANT SELECT ON stockml.models, stockml.model_aliases, stockml.predictions TO stockml_admin;
GRANT SELECT, INSERT ON stockml.drift_metrics, stockml.performance_metrics TO stockml_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON stockml.retrain_policies TO stockml_admin;
GRANT SELECT, INSERT, UPDATE ON stockml.retrain_events TO stockml_admin;
GRANT SELECT ON stockml.price_history, stockml.feature_drift, stockml.drift_share,
                stockml.model_performance, stockml.ingest_status, stockml.retrain_history,
                stockml.job_history, stockml.forecast_history, stockml.model_history
   TO stockml_admin;
-- The daily pipeline on pg_cron: refresh -> forecast -> monitor, as three named pg_cron
-- jobs on the same schedule.  pg_cron starts them together; each later step waits for
-- the earlier step's run of the same tick (cron.job_run_details) before it starts.

-- ERROR with the next step to take unless pg_cron is preloaded and installed here.
CREATE FUNCTION stockml.require_pg_cron()
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    preloaded boolean;
    cron_db   text;
BEGIN
    -- both settings are hidden from roles without pg_read_all_settings: then the
    -- extension check below and pg_cron's own errors have to do
    BEGIN
        preloaded := current_setting('shared_preload_libraries') ~ '(^|[\s,])"?pg_cron"?($|[\s,])';
        cron_db := current_setting('cron.database_name', true);
    EXCEPTION WHEN insufficient_privilege THEN
        preloaded := true;
        cron_db := current_database();
    END;
    IF NOT preloaded THEN
        RAISE EXCEPTION 'pg_cron is not loaded by this server'
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'The pipeline is scheduled by pg_cron, which runs only from shared_preload_libraries.',
                  HINT = format('Install pg_cron (Debian: postgresql-15-cron), set shared_preload_libraries = ''pg_cron'' '
                                '(with stockml if you preload it) and cron.database_name = %L in postgresql.conf, '
                                'restart the server, then CREATE EXTENSION pg_cron.', current_database());
    END IF;
    IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_cron') THEN
        IF cron_db IS DISTINCT FROM current_database() THEN
            RAISE EXCEPTION 'pg_cron runs its jobs in database "%", not in "%"', cron_db, current_database()
                USING ERRCODE = 'feature_not_supported',
                      HINT = format('Set cron.database_name = %L and restart, or schedule from database %L '
                                    'with stockml installed there.', current_database(), cron_db);
        END IF;
        RAISE EXCEPTION 'extension "pg_cron" is not installed in this database'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'CREATE EXTENSION pg_cron;';
    END IF;
    IF NOT has_schema_privilege('cron', 'USAGE') THEN
        RAISE EXCEPTION 'role "%" may not schedule pg_cron jobs', current_user
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'The jobs run as the role that schedules them.',
                  HINT = format('As a superuser: GRANT USAGE ON SCHEMA cron TO %I;', current_user);
    END IF;
END
$$;
COMMENT ON FUNCTION stockml.require_pg_cron() IS
'internal: ERROR with a hint unless pg_cron is preloaded and installed in this database';

-- Wait until the run of pg_cron job `job` that belongs to the tick started at `since` has
-- ended; false when it never started or did not end in time.
CREATE FUNCTION stockml.wait_for_cron_job(job text, since timestamptz, timeout interval)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id     bigint;
    state  text;
    -- pg_cron starts the jobs of one tick within a second or two of each other
    grace  interval := '90 seconds';
BEGIN
    SELECT j.jobid INTO id FROM cron.job j WHERE j.jobname = job;
    IF id IS NULL THEN
        RETURN true;                -- not scheduled: nothing to wait for
    END IF;
    LOOP
        SELECT d.status INTO state
          FROM cron.job_run_details d
         WHERE d.jobid = id AND d.start_time >= since - grace
         ORDER BY d.start_time DESC LIMIT 1;
        IF state IN ('succeeded', 'failed') THEN
            RETURN true;
        END IF;
        IF state IS NULL AND clock_timestamp() > since + grace THEN
            RETURN false;           -- the earlier step did not run this tick
        END IF;
        IF clock_timestamp() > since + timeout THEN
            RETURN false;
        END IF;
        PERFORM pg_sleep(0.5);
    END LOOP;
END
$$;
COMMENT ON FUNCTION stockml.wait_for_cron_job(text, timestamptz, interval) IS
'internal: wait for the run of a pg_cron job that started around since to end (false: it did not run or timed out)';

CREATE FUNCTION stockml.pipeline_step(step text, models text[] DEFAULT NULL,
                                      wait_for_previous boolean DEFAULT false,
                                      timeout interval DEFAULT '30 minutes')
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    started   timestamptz := clock_timestamp();
    previous  text;
    names     text[];
    n         integer;
    m         text;
    msg       text;
    failed    text[] := '{}';
BEGIN
    IF step NOT IN ('refresh', 'forecast', 'monitor') THEN
        RAISE EXCEPTION 'unknown pipeline step "%"', step
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The steps are refresh, forecast and monitor.';
    END IF;
    previous := CASE step WHEN 'forecast' THEN 'stockml-refresh' WHEN 'monitor' THEN 'stockml-forecast' END;
    IF wait_for_previous AND previous IS NOT NULL AND EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_cron')
       AND NOT stockml.wait_for_cron_job(previous, started, timeout) THEN
        RAISE NOTICE 'stockml pipeline: % did not finish this run; % goes on with the data stored', previous, step;
    END IF;

    IF step = 'refresh' THEN
        SELECT count(*) INTO n FROM stockml.refresh();
        RETURN format('refresh: %s symbols', n);
    END IF;
    names := coalesce(models, ARRAY(SELECT DISTINCT a.name FROM stockml.model_aliases a
                                     WHERE a.alias = 'production' ORDER BY 1));
    -- one model's failure (a WARNING in the server log) does not stop the others
    n := 0;
    FOREACH m IN ARRAY names LOOP
        BEGIN
            IF step = 'forecast' THEN
                PERFORM stockml.forecast(m);
            ELSE
                PERFORM stockml.monitor(m);
            END IF;
            n := n + 1;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
            failed := failed || format('%s (%s)', m, msg);
            RAISE WARNING 'stockml pipeline: % of model "%" failed: %', step, m, msg;
        END;
    END LOOP;
    RETURN format('%s: %s of %s models%s', step, n, cardinality(names),
                  CASE WHEN cardinality(failed) > 0 THEN '; failed: ' || array_to_string(failed, '; ') ELSE '' END);
END
$$;
COMMENT ON FUNCTION stockml.pipeline_step(text, text[], boolean, interval) IS
'one step of the pipeline (refresh, forecast or monitor; models NULL = every model with a production version); with wait_for_previous (as the pg_cron jobs call it) forecast and monitor first wait for the previous step''s pg_cron run of the same tick';

CREATE FUNCTION stockml.schedule_pipeline(cron text DEFAULT '30 22 * * 1-5', models text[] DEFAULT NULL)
RETURNS TABLE (jobid bigint, jobname text, schedule text, command text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    missing text;
    models_sql text := CASE WHEN models IS NULL THEN 'NULL' ELSE quote_literal(models::text) || '::text[]' END;
BEGIN
    PERFORM stockml.require_pg_cron();
    IF cron IS NULL THEN
        RAISE EXCEPTION 'cron schedule must not be NULL'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use a cron expression such as ''30 22 * * 1-5'' (22:30 on weekdays, in cron.timezone).';
    END IF;
    IF models IS NOT NULL THEN
        SELECT string_agg(m, ', ') INTO missing
          FROM unnest(models) m WHERE NOT EXISTS (SELECT FROM stockml.models x WHERE x.name = m);
    END IF;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'no model named %', missing
            USING ERRCODE = 'undefined_object',
                  HINT = 'Train the models first, or pass NULL to forecast and monitor every model with a production version.';
    END IF;
    -- cron.schedule replaces a job of the same name and user, so a second call updates
    BEGIN
        PERFORM cron.schedule('stockml-refresh', cron, 'SELECT stockml.pipeline_step(''refresh'')');
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS missing = MESSAGE_TEXT;
        IF missing NOT LIKE 'invalid schedule%' THEN
            RAISE;
        END IF;
        RAISE EXCEPTION 'pg_cron refused the schedule %: %', quote_literal(cron), missing
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Five fields: minute hour day-of-month month day-of-week, e.g. ''30 22 * * 1-5'' (22:30 on weekdays, in cron.timezone).';
    END;
    PERFORM cron.schedule('stockml-forecast', cron,
                          format('SELECT stockml.pipeline_step(''forecast'', %s, wait_for_previous => true)', models_sql));
    PERFORM cron.schedule('stockml-monitor', cron,
                          format('SELECT stockml.pipeline_step(''monitor'', %s, wait_for_previous => true)', models_sql));
    RETURN QUERY
    SELECT j.jobid, j.jobname::text, j.schedule, j.command
      FROM cron.job j
     WHERE j.jobname IN ('stockml-refresh', 'stockml-forecast', 'stockml-monitor') AND j.username = current_user
     ORDER BY array_position(ARRAY['stockml-refresh', 'stockml-forecast', 'stockml-monitor'], j.jobname::text);
END
$$;
COMMENT ON FUNCTION stockml.schedule_pipeline(text, text[]) IS
'schedule refresh -> forecast -> monitor as pg_cron jobs stockml-refresh, stockml-forecast, stockml-monitor (idempotent: a second call updates them); models NULL = every model with a production version';

CREATE FUNCTION stockml.unschedule_pipeline()
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer := 0;
    j text;
BEGIN
    PERFORM stockml.require_pg_cron();
    FOR j IN SELECT c.jobname FROM cron.job c
              WHERE c.jobname IN ('stockml-refresh', 'stockml-forecast', 'stockml-monitor')
                AND c.username = current_user LOOP
        PERFORM cron.unschedule(j);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION stockml.unschedule_pipeline() IS
'remove the pipeline''s pg_cron jobs; returns how many were removed';
