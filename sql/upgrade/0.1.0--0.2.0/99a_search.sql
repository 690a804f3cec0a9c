-- issue 10 items 3 and 4 (hyperparameter search, permutation importance): as
-- sql/install/51_registry.sql (runs.parent_run_id, the trials of a search) and
-- sql/install/57_importance.sql (model_permutation_importance; feature_importance gains
-- importance_method and horizon (the heads of a multi-horizon version, with
-- model_importance(bytea, integer)) and becomes callable by stockml_reader); and issue 10 item 5's backtest of
-- horizons above 1 (sql/install/69_backtest.sql: non-overlapping periods), its final form.

ALTER TABLE stockml.runs ADD COLUMN parent_run_id bigint;
CREATE INDEX runs_parent_idx ON stockml.runs (parent_run_id) WHERE parent_run_id IS NOT NULL;
COMMENT ON INDEX stockml.runs_parent_idx IS 'serves the trials of a search';
COMMENT ON COLUMN stockml.runs.parent_run_id IS 'a search trial: the train() run that searched (its params hold the lists or ranges); NULL for a train() run; no foreign key (a self-reference makes pg_dump warn that the data may not restore): trials share their search''s experiment, so dropping the model drops them too';

CREATE FUNCTION stockml.model_permutation_importance(model bytea, x float8[], y float8[],
                                                     n_repeats integer DEFAULT 5, seed bigint DEFAULT 0)
RETURNS TABLE (feature integer, importance float8, std float8)
AS 'MODULE_PATHNAME', 'stockml_model_permutation_importance'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.model_permutation_importance(bytea, float8[], float8[], integer, bigint) IS
'permutation importance of a model bytea on rows x (one per row) and targets y: per feature (1-based), the mean growth of the loss (absolute error of the log return for regressors) over n_repeats seeded shuffles of its column, and its population standard deviation, as sklearn.inspection.permutation_importance';

CREATE FUNCTION stockml.model_importance(model bytea, horizon integer)
RETURNS TABLE (feature integer, importance float8, method text)
AS 'MODULE_PATHNAME', 'stockml_model_importance_head'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.model_importance(bytea, integer) IS
'model_importance() of the head of a model bytea trained for horizon (train(..., horizons => ...)); an ERROR lists the heads'' horizons when it has none for it; a model of one head does not store its horizon: its head';

-- SECURITY DEFINER (search_path pinned, read-only): the reader role (Grafana) may see the
-- importances without reading stockml.models or a model blob (EXECUTE: 66_reader.sql).
CREATE FUNCTION stockml.feature_importance(model_name text, version integer DEFAULT NULL,
                                           importance_method text DEFAULT NULL,
                                           horizon integer DEFAULT NULL)
RETURNS TABLE (feature text, importance float8, method text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v integer := feature_importance.version;
    h integer := feature_importance.horizon;
    own_h integer;
    held integer[];
    perm jsonb;
    own text;
BEGIN
    IF model_name IS NULL THEN
        RAISE EXCEPTION 'model_name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF importance_method IS NOT NULL
       AND importance_method NOT IN ('standardized_coefficient', 'split_gain', 'permutation') THEN
        RAISE EXCEPTION 'unknown importance method "%"', importance_method
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''permutation'', or NULL for the model''s own: standardized_coefficient (linear models), split_gain (gbt).';
    END IF;
    IF v IS NULL THEN
        SELECT a.version INTO v FROM stockml.model_aliases a
         WHERE a.name = model_name AND a.alias = 'production';
        IF NOT FOUND THEN
            PERFORM stockml._require_version(model_name,
                                             (SELECT min(m.version) FROM stockml.models m WHERE m.name = model_name));
            RAISE EXCEPTION 'model "%" has no production version', model_name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Pass the version: stockml.feature_importance(model_name, version).';
        END IF;
    ELSE
        PERFORM stockml._require_version(model_name, v);
    END IF;
    -- the head: NULL is the version's own horizon, predict()'s; a version of one head has only it
    SELECT m.horizon,
           CASE WHEN pg_catalog.jsonb_typeof(m.metrics -> 'heads') = 'object'
                THEN (SELECT pg_catalog.array_agg(k::integer ORDER BY k::integer)
                        FROM pg_catalog.jsonb_object_keys(m.metrics -> 'heads') k)
                ELSE ARRAY[m.horizon] END
      INTO own_h, held
      FROM stockml.models m WHERE m.name = model_name AND m.version = v;
    h := coalesce(h, own_h);
    IF NOT h = ANY (held) THEN
        RAISE EXCEPTION 'version % of "%" has no head for horizon %', v, model_name, h
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('It holds heads for horizons %s.', pg_catalog.array_to_string(held, ', ')),
                  HINT = pg_catalog.format('Pass horizon => one of %s, or NULL for its own (%s).', pg_catalog.array_to_string(held, ', '), own_h);
    END IF;
    IF importance_method = 'permutation' THEN
        SELECT CASE WHEN h = m.horizon THEN m.metrics -> 'permutation_importance'
                    ELSE m.metrics -> 'heads' -> h::text -> 'permutation_importance' END INTO perm
          FROM stockml.models m WHERE m.name = model_name AND m.version = v;
        IF perm IS NULL AND h <> own_h THEN
            RAISE EXCEPTION 'version % of "%" has no permutation importance for its horizon % head', v, model_name, h
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'train() measures it on each head''s last walk-forward fold unless params say "permutation_repeats": 0; versions trained before this stockml measured only the head of their own horizon.',
                      HINT = pg_catalog.format('Train a new version (params => ''{"permutation_repeats": 5}''), or pass horizon => %s (its own).', own_h);
        END IF;
        IF perm IS NULL THEN
            RAISE EXCEPTION 'version % of "%" has no permutation importance', v, model_name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'train() measures it on the last walk-forward fold unless params say "permutation_repeats": 0; versions trained before stockml 0.2.0 have none.',
                      HINT = 'Train a new version (params => ''{"permutation_repeats": 5}''), or ask for the model''s own importance (importance_method NULL).';
        END IF;
        RETURN QUERY
        SELECT m.feature_spec -> 'features' -> (i.k - 1)::int ->> 'name', i.value::float8, 'permutation'::text
          FROM stockml.models m,
               jsonb_array_elements_text(perm -> 'importance') WITH ORDINALITY AS i(value, k)
         WHERE m.name = model_name AND m.version = v
         ORDER BY i.k;
        RETURN;
    END IF;
    SELECT i.method INTO own
      FROM stockml.models m, stockml.model_importance(m.model, h) i
     WHERE m.name = model_name AND m.version = v LIMIT 1;
    IF importance_method IS NOT NULL AND importance_method IS DISTINCT FROM own THEN
        RAISE EXCEPTION 'version % of "%" measures its own importance by %, not %', v, model_name, own, importance_method
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass importance_method => NULL for it, or ''permutation''.';
    END IF;
    RETURN QUERY
    SELECT m.feature_spec -> 'features' -> (i.feature - 1) ->> 'name', i.importance, i.method
      FROM stockml.models m, stockml.model_importance(m.model, h) i
     WHERE m.name = model_name AND m.version = v
     ORDER BY i.feature;
END $$;
COMMENT ON FUNCTION stockml.feature_importance(text, integer, text, integer) IS
'importance of each feature of a version (default: production), named by its feature spec: by default the model''s own (standardized coefficients of linear models, total split gain of gbt); importance_method ''permutation'': the growth of the out-of-sample loss when the feature is shuffled, on the last walk-forward fold (train() measured it); horizon: the head of a version trained with horizons (NULL: its own horizon''s, the one predict() serves)';
REVOKE EXECUTE ON FUNCTION stockml.feature_importance(text, integer, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml.feature_importance(text, integer, text, integer) TO stockml_reader, stockml_admin;

-- backtest: horizons above 1 in non-overlapping periods (as sql/install/69_backtest.sql)
CREATE OR REPLACE FUNCTION stockml._backtest_curves(model_id bigint, symbols text[], cost_bps float8, strategy text)
RETURNS TABLE (symbol text, day date, held float8, strategy_return float8,
               buy_and_hold_return float8, in_market integer, hits integer, ups integer,
               trade float8, n integer, equity float8, buy_and_hold_equity float8,
               drawdown float8, buy_and_hold_drawdown float8)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
WITH g AS (
    -- the rebalancing grid: every horizon-th of the version's validation days (all of them at
    -- horizon 1), the same for every symbol so that 'all' is one book; each with the next
    SELECT d.day, lead(d.day) OVER (ORDER BY d.day) AS next_day
      FROM (SELECT d.day, row_number() OVER (ORDER BY d.day) AS k
              FROM (SELECT DISTINCT p.day FROM stockml.validation_predictions p
                     WHERE p.model_id = _backtest_curves.model_id) d) d,
           stockml.models m
     WHERE m.id = _backtest_curves.model_id AND (d.k - 1) % m.horizon = 0
), v AS (
    -- a position on a grid day, held to its target day; a row whose target lies past the next
    -- grid day (a symbol without some of the days: its horizon bars reach further) would
    -- overlap the next position, so the symbol sits that period out
    SELECT v.symbol, v.day, v.y,
           CASE WHEN v.yhat > 0 THEN 1::float8
                WHEN v.yhat < 0 AND _backtest_curves.strategy = 'long_short' THEN -1::float8
                ELSE 0::float8 END AS pos
      FROM stockml.validation_predictions v
      JOIN g ON g.day = v.day
     WHERE v.model_id = _backtest_curves.model_id
       AND (_backtest_curves.symbols IS NULL OR v.symbol = ANY (_backtest_curves.symbols))
       AND (g.next_day IS NULL OR v.target_day <= g.next_day)
), d AS (
    SELECT v.symbol, v.day, v.y, v.pos,
           abs(v.pos - coalesce(lag(v.pos) OVER w, 0)) AS trade,
           v.pos * (exp(v.y) - 1) - _backtest_curves.cost_bps / 10000 * abs(v.pos - coalesce(lag(v.pos) OVER w, 0)) AS r,
           exp(v.y) - 1 - CASE WHEN row_number() OVER w = 1 THEN _backtest_curves.cost_bps / 10000 ELSE 0 END AS bh_r
      FROM v WINDOW w AS (PARTITION BY v.symbol ORDER BY v.day)
), a AS (
    SELECT d.symbol, d.day, d.pos, d.r, d.bh_r, (d.pos <> 0)::int AS in_market,
           (d.pos * d.y > 0)::int AS hits, (d.y > 0)::int AS ups, d.trade, 1 AS n
      FROM d
    UNION ALL
    -- the equal-weight book of the symbols that have a row that day
    SELECT 'all', d.day, NULL, avg(d.r), avg(d.bh_r), sum((d.pos <> 0)::int)::int,
           sum((d.pos * d.y > 0)::int)::int, sum((d.y > 0)::int)::int, sum(d.trade), count(*)::int
      FROM d GROUP BY d.day
), e AS (
    -- a day that loses everything ruins the book: its equity stays 0
    SELECT a.*,
           CASE WHEN bool_or(1 + a.r <= 0) OVER c THEN 0::float8
                ELSE exp(coalesce(sum(ln(1 + a.r)) FILTER (WHERE 1 + a.r > 0) OVER c, 0)) END AS eq,
           CASE WHEN bool_or(1 + a.bh_r <= 0) OVER c THEN 0::float8
                ELSE exp(coalesce(sum(ln(1 + a.bh_r)) FILTER (WHERE 1 + a.bh_r > 0) OVER c, 0)) END AS bh_eq
      FROM a WINDOW c AS (PARTITION BY a.symbol ORDER BY a.day ROWS UNBOUNDED PRECEDING)
)
SELECT e.symbol, e.day, e.pos, e.r, e.bh_r, e.in_market, e.hits, e.ups, e.trade, e.n, e.eq, e.bh_eq,
       1 - e.eq / greatest(1, max(e.eq) OVER c),
       1 - e.bh_eq / greatest(1, max(e.bh_eq) OVER c)
  FROM e WINDOW c AS (PARTITION BY e.symbol ORDER BY e.day ROWS UNBOUNDED PRECEDING)
$$;
COMMENT ON FUNCTION stockml._backtest_curves(bigint, text[], float8, text) IS
'internal (backtest, backtest_equity): per symbol and rebalancing day of a version''s validation rows (every day at horizon 1, every horizon-th day above, positions never overlapping), and for ''all'' (the equal-weight book of the symbols that have a row that day), the strategy''s and buy-and-hold''s simple return over the period after costs, equity (starting at 1) and drawdown';
REVOKE EXECUTE ON FUNCTION stockml._backtest_curves(bigint, text[], float8, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml._backtest_curves(bigint, text[], float8, text) TO stockml_reader, stockml_admin;

CREATE OR REPLACE FUNCTION stockml.backtest(model_name text, symbols text[] DEFAULT NULL, cost_bps float8 DEFAULT 5,
                                 strategy text DEFAULT 'long_short', version integer DEFAULT NULL)
RETURNS TABLE (symbol text, first_day date, last_day date, days integer,
               total_return float8, annual_return float8, annual_volatility float8, sharpe float8,
               max_drawdown float8, hit_rate float8, turnover float8,
               buy_and_hold_total_return float8, buy_and_hold_annual_return float8,
               buy_and_hold_annual_volatility float8, buy_and_hold_sharpe float8,
               buy_and_hold_max_drawdown float8, buy_and_hold_hit_rate float8)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v integer := backtest.version;
    mid bigint;
    h integer;
    periods float8;     -- holding periods a year: 252 / horizon
    missing text;
BEGIN
    IF model_name IS NULL THEN
        RAISE EXCEPTION 'model_name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF strategy IS NULL OR strategy NOT IN ('long_short', 'long_flat') THEN
        RAISE EXCEPTION 'unknown strategy "%"', strategy
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The strategies: long_short (long when yhat > 0, short when yhat < 0), long_flat (long when yhat > 0, else flat).';
    END IF;
    IF cost_bps IS NULL OR NOT (cost_bps >= 0 AND cost_bps < 'Infinity'::float8) THEN
        RAISE EXCEPTION 'cost_bps must be a finite number >= 0, not %', coalesce(cost_bps::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'cost_bps is the cost of a trade in basis points of the position traded (5 = 0.05 %).';
    END IF;
    IF symbols IS NOT NULL AND (cardinality(symbols) = 0 OR array_position(symbols, NULL) IS NOT NULL) THEN
        RAISE EXCEPTION 'symbols must be NULL (all of the version''s) or a non-empty list without NULLs'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v IS NULL THEN
        v := stockml._resolve_version(model_name);     -- production, with predict()'s ERRORs
    ELSE
        PERFORM stockml._require_version(model_name, v);
    END IF;
    SELECT m.id, m.horizon INTO mid, h FROM stockml.models m WHERE m.name = model_name AND m.version = v;
    periods := 252.0::float8 / h;
    IF NOT EXISTS (SELECT FROM stockml.validation_predictions p WHERE p.model_id = mid) THEN
        RAISE EXCEPTION 'version % of model "%" has no validation predictions', v, model_name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'train() keeps its out-of-sample walk-forward predictions since stockml 0.2.0.',
                  HINT = 'Retrain the model with stockml 0.2.0 and backtest the new version.';
    END IF;
    SELECT string_agg(s, ', ' ORDER BY s) INTO missing
      FROM unnest(symbols) AS s
     WHERE NOT EXISTS (SELECT FROM stockml.validation_predictions p WHERE p.model_id = mid AND p.symbol = s);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'version % of model "%" has no validation predictions of %', v, model_name, missing
            USING ERRCODE = 'undefined_object',
                  HINT = format('Its symbols: %s.', (SELECT string_agg(DISTINCT p.symbol, ', ' ORDER BY p.symbol)
                                                       FROM stockml.validation_predictions p WHERE p.model_id = mid));
    END IF;
    RETURN QUERY
    SELECT c.symbol, min(c.day), max(c.day), count(*)::int,
           (array_agg(c.equity ORDER BY c.day DESC))[1] - 1,
           power((array_agg(c.equity ORDER BY c.day DESC))[1], periods / count(*)) - 1,
           stddev_samp(c.strategy_return) * sqrt(periods),
           avg(c.strategy_return) / nullif(stddev_samp(c.strategy_return), 0) * sqrt(periods),
           max(c.drawdown),
           sum(c.hits)::float8 / nullif(sum(c.in_market), 0),
           sum(c.trade) / sum(c.n),
           (array_agg(c.buy_and_hold_equity ORDER BY c.day DESC))[1] - 1,
           power((array_agg(c.buy_and_hold_equity ORDER BY c.day DESC))[1], periods / count(*)) - 1,
           stddev_samp(c.buy_and_hold_return) * sqrt(periods),
           avg(c.buy_and_hold_return) / nullif(stddev_samp(c.buy_and_hold_return), 0) * sqrt(periods),
           max(c.buy_and_hold_drawdown),
           sum(c.ups)::float8 / sum(c.n)
      FROM stockml._backtest_curves(mid, symbols, cost_bps, strategy) c
     GROUP BY c.symbol
     ORDER BY c.symbol = 'all', c.symbol;
END $$;
COMMENT ON FUNCTION stockml.backtest(text, text[], float8, text, integer) IS
'trade a version''s (default: production) out-of-sample walk-forward forecasts: one position a day (horizon h > 1: every h-th day, held h bars, never overlapping; annualised with 252 / h periods) from the sign of yhat (long_short: +1/-1, long_flat: +1/0), the day''s simple return, cost_bps on every change of position; per symbol and ''all'' (equal weight): total and annualised (252 days) return, annualised volatility, Sharpe (no risk-free rate), max drawdown, hit rate (days in the market whose move the position got right), turnover (mean |change of position| a day), and the same for buy-and-hold; optimistic after a search or a choice among versions (doc/backtest.md)';
REVOKE EXECUTE ON FUNCTION stockml.backtest(text, text[], float8, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml.backtest(text, text[], float8, text, integer) TO stockml_reader, stockml_admin;

CREATE OR REPLACE VIEW stockml.backtest_equity AS
SELECT (c.day::timestamp AT TIME ZONE 'UTC') AS time, m.name AS model, m.version, c.symbol,
       c.equity, c.buy_and_hold_equity, c.drawdown
  FROM stockml.model_aliases a
  JOIN stockml.models m ON m.name = a.name AND m.version = a.version
 CROSS JOIN LATERAL stockml._backtest_curves(m.id, NULL, 5, 'long_short') c
 WHERE a.alias = 'production'
 ORDER BY time, model, c.symbol;
COMMENT ON VIEW stockml.backtest_equity IS
'Grafana: the equity curve (starting at 1) and drawdown of each model''s production version traded as backtest() does by default (long_short, 5 bps), per symbol and ''all'', beside buy-and-hold''s equity; time = the trading day at 00:00 UTC';
GRANT SELECT ON stockml.backtest_equity TO stockml_reader, stockml_admin;
