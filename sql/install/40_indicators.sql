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
