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

-- The built-in set belongs to the extension: features() and train() use it when no set is
-- named, so it is neither changed nor deleted (copy it under another name instead).
CREATE FUNCTION stockml.feature_sets_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' OR OLD.name = 'default' THEN
        RAISE EXCEPTION 'the built-in feature set "default" cannot be %',
                        CASE TG_OP WHEN 'UPDATE' THEN 'changed' ELSE 'deleted' END
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'features() and train() use it when no feature_set is named; it comes with the extension.',
                  HINT = 'Change a copy: INSERT INTO stockml.feature_sets (name, spec) SELECT ''mine'', spec FROM stockml.feature_sets WHERE name = ''default''; '
                      || CASE TG_OP WHEN 'TRUNCATE' THEN 'delete the other sets with DELETE FROM stockml.feature_sets WHERE name <> ''default''.'
                                    ELSE 'then pass feature_set => ''mine''.' END;
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END $$;
COMMENT ON FUNCTION stockml.feature_sets_guard() IS
'trigger: refuses UPDATE and DELETE of the built-in feature set "default", and TRUNCATE of stockml.feature_sets';
CREATE TRIGGER feature_sets_default_guard BEFORE UPDATE OR DELETE ON stockml.feature_sets
    FOR EACH ROW EXECUTE FUNCTION stockml.feature_sets_guard();
CREATE TRIGGER feature_sets_no_truncate BEFORE TRUNCATE ON stockml.feature_sets
    FOR EACH STATEMENT EXECUTE FUNCTION stockml.feature_sets_guard();

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
