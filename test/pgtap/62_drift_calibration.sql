-- Calibrated drift, measured (issue 15 item 1): on seeded stationary series (random walk
-- and AR(1) returns, generated here) the per-feature false-alarm rate of every default
-- feature and every method at drift_alpha 0.05, and how often the drift-share rule retrains;
-- on a volatility x3 break and an AR sign flip, detection within 20 trading days.
-- 70 random walks and 70 AR(1) series (phi 0.4) of 1520 weekdays, each seed its own
-- (setseed((kind * 100 + seed) / 1000)), each model trained on its first 1000; 12 windows
-- of each (60 calendar days, as monitor() cuts them) that do not overlap, ending 45, 88,
-- ..., 518 trading days after train_end (1680 per feature and method); 24 volatility
-- breaks, 24 AR flips 0.4 -> -0.4 and 24 flips 0.5 -> -0.5, 60 days after training,
-- monitored on each of the next 20 trading days.  The design was chosen on other seeds (the same series with 0.5 added to the seed).
-- Monte Carlo standard error: a series' windows share its null, so the error is taken over
-- series, sd(per-series rate) / sqrt(140): 0.006-0.008 for a feature's rate (asserted
-- below 0.01: the band 0.05 +- 0.02 is then at least 2.5 standard errors each side), about
-- 0.007 for a method's retrain rate.  The diag lines print the figures of this run.
-- Measured when this was written: false alarms 0.031-0.059 per feature (vol_20 0.042-0.059;
-- mean 0.040-0.049 per method), drift retrains in 1.4-3.0 % of windows per method.
-- The statistics are drift_test()'s (checked against scipy in test/reference/drift.py); the
-- null procedure (evenly spaced windows, a guard of one window length each side), the
-- feature threshold over the windows that share no rows and the share limit (drift_rule.c)
-- are re-implemented in numpy/scipy in test/reference/drift_null.py.
BEGIN;
SELECT plan(15);

CREATE FUNCTION pg_temp.series(sym text, seed float8, kind text, nbars integer, break_at integer)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r     float8 := 0;
    lc    float8 := ln(50);
    phi   float8;
    sigma float8;
    d     date := '2018-01-01';
    i     integer := 0;
    days  date[] := '{}';
    cl    float8[] := '{}';
    hi    float8[] := '{}';
    lo    float8[] := '{}';
    vol   float8[] := '{}';
BEGIN
    PERFORM setseed(seed);
    WHILE i < nbars LOOP
        IF extract(isodow FROM d) < 6 THEN
            i := i + 1;
            phi := CASE WHEN kind = 'ar' THEN 0.4 WHEN kind = 'ar_flip' THEN
                        CASE WHEN i > break_at THEN -0.4 ELSE 0.4 END WHEN kind = 'ar_flip5' THEN
                        CASE WHEN i > break_at THEN -0.5 ELSE 0.5 END ELSE 0 END;
            sigma := CASE WHEN kind = 'vol' AND i > break_at THEN 0.03 ELSE 0.01 END;
            r := phi * r + sigma * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random());
            lc := lc + r;
            days := days || d;
            cl := cl || exp(lc);
            hi := hi || exp(lc + sigma * abs(sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())));
            lo := lo || exp(lc - sigma * abs(sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())));
            vol := vol || round(1e6 * exp(0.3 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())));
        END IF;
        d := d + 1;
    END LOOP;
    INSERT INTO stockml.symbols (symbol) VALUES (sym);
    INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
    SELECT sym, t.d, t.c, greatest(t.h, t.c), least(t.l, t.c), t.c, t.v
      FROM unnest(days, cl, hi, lo, vol) t(d, c, h, l, v);
END
$$;


CREATE TEMP TABLE cal AS
SELECT k, s, 'cal_' || k || s AS sym,
       CASE WHEN k IN ('rw', 'ar') THEN 1520 ELSE 1080 END AS nbars
  FROM unnest(ARRAY['rw', 'ar', 'vol', 'ar_flip', 'ar_flip5']) k,
       generate_series(1, 70) s
 WHERE s <= 24 OR k IN ('rw', 'ar');
SELECT pg_temp.series(sym, (array_position(ARRAY['rw', 'ar', 'vol', 'ar_flip', 'ar_flip5'], k) * 100 + s) / 1000.0,
                      k, nbars, 1060)
  FROM cal;
SELECT count(*) FROM cal,
       LATERAL stockml.train(sym, ARRAY[sym], 'ridge', params => '{"folds": 2}',
                             train_end => (SELECT day FROM stockml.prices p WHERE p.symbol = sym
                                            ORDER BY day OFFSET 999 LIMIT 1));

CREATE TEMP TABLE ref AS
SELECT m.id, r.ord, r.feature, r.vals
  FROM stockml.models m, stockml.reference_columns(m.reference, stockml.feature_names(m.feature_spec)) r
 WHERE m.name IN (SELECT sym FROM cal);
CREATE TEMP TABLE feat AS
SELECT m.id, f.day, f.x, row_number() OVER (PARTITION BY m.id ORDER BY f.day) AS k
  FROM stockml.models m, stockml.features_spec(m.symbols[1], m.feature_spec, m.train_end + 1, NULL) f
 WHERE m.name IN (SELECT sym FROM cal);
ANALYZE cal, feat;
-- stationary: windows ending 45, 88, ..., 518 trading days after train_end (43 trading
-- days apart: 60 calendar days never hold more than 43); breaks: each of the 20 trading days
-- after bar 1060 (k = 60 after train_end at bar 1000)
CREATE TEMP TABLE win AS
SELECT f.id, f.day AS wend, c.k AS kind
  FROM feat f JOIN stockml.models m ON m.id = f.id JOIN cal c ON c.sym = m.name
 WHERE (c.k IN ('rw', 'ar') AND f.k BETWEEN 45 AND 518 AND (f.k - 45) % 43 = 0)
    OR (c.k NOT IN ('rw', 'ar') AND f.k > 60);
CREATE TEMP TABLE cur AS
SELECT w.id, w.wend, w.kind, i.ord, array_agg(f.x[i.ord]) AS vals
  FROM win w JOIN feat f ON f.id = w.id AND f.day BETWEEN w.wend - 59 AND w.wend
 CROSS JOIN generate_series(1, 16) i(ord)
 GROUP BY 1, 2, 3, 4;
-- each null's threshold at alpha 0.05, as monitor() computes it
CREATE TEMP TABLE thr AS
SELECT n.model_id AS id, n.feature, n.method AS meth, q.threshold
  FROM stockml.drift_null n
 CROSS JOIN LATERAL stockml.drift_null_check(n.statistics, NULL, 0.05, n.neighbours) q
 WHERE n.model_id IN (SELECT id FROM ref) AND n.window_days = 60;
CREATE TEMP TABLE flags AS
SELECT c.id, c.wend, c.kind, r.feature, mm.meth, t.statistic > h.threshold AS drifted, t.drifted AS fixed
  FROM cur c JOIN ref r USING (id, ord)
 CROSS JOIN unnest(ARRAY['ks', 'wasserstein', 'psi', 'kl_div', 'jensen_shannon']) mm(meth)
 CROSS JOIN LATERAL stockml.drift_test(r.vals, c.vals, mm.meth) t
  JOIN thr h ON h.id = c.id AND h.feature = r.feature AND h.meth = mm.meth
 WHERE c.kind IN ('rw', 'ar') OR mm.meth = 'ks';
-- per series, feature and method; the rate and its Monte Carlo error are taken over series
CREATE TEMP TABLE per_series AS
SELECT id, meth, feature, avg(drifted::integer)::float8 AS rate
  FROM flags WHERE kind IN ('rw', 'ar') GROUP BY 1, 2, 3;
CREATE TEMP TABLE fa AS
SELECT meth, feature, avg(rate) AS rate, stddev(rate) / sqrt(count(*)) AS se
  FROM per_series GROUP BY 1, 2;
CREATE TEMP TABLE lim AS
SELECT i.id, mm.meth, stockml.drift_share_limit(i.id, mm.meth, 60, 0.05) AS lim
  FROM (SELECT DISTINCT id FROM ref) i
 CROSS JOIN unnest(ARRAY['ks', 'wasserstein', 'psi', 'kl_div', 'jensen_shannon']) mm(meth);
CREATE TEMP TABLE retrains AS
SELECT f.id, f.wend, f.kind, f.meth, avg(f.drifted::integer) AS share, avg(f.drifted::integer) > l.lim AS retrain
  FROM flags f JOIN lim l ON l.id = f.id AND l.meth = f.meth
 GROUP BY 1, 2, 3, 4, l.lim;
-- the error rule (stockml.error_drift, as monitor() calls it with the default policy: the
-- version's errors on its last min_forecasts = 20 days after train_end against the windows of
-- its validation rows, error_alpha 0.0125) on the same windows
CREATE TEMP TABLE errs AS
SELECT w.id, w.wend, w.kind, e.*
  FROM win w CROSS JOIN LATERAL stockml.error_drift(w.id, w.wend, 20, 0.0125) e;
-- what monitor() decides per window and method: the share rule or the error rule
CREATE TEMP TABLE decided AS
SELECT r.id, r.wend, r.kind, r.meth, r.retrain AS share_rule, coalesce(e.drifted, false) AS error_rule,
       r.retrain OR coalesce(e.drifted, false) AS retrain
  FROM retrains r JOIN errs e USING (id, wend, kind);

-- the figures (doc/reference.md, monitoring; doc/drift.md)
SELECT diag(format('%s: false alarms per feature %s .. %s (mean %s, largest standard error %s); drift retrains in %s of windows (standard error %s)',
                   meth, round(min(rate)::numeric, 3), round(max(rate)::numeric, 3),
                   round(avg(rate)::numeric, 3), round(max(se)::numeric, 4),
                   (SELECT round(avg(retrain::integer), 3) FROM retrains r
                     WHERE r.meth = fa.meth AND r.kind IN ('rw', 'ar')),
                   (SELECT round((stddev(r) / sqrt(count(*)))::numeric, 4)
                      FROM (SELECT avg(retrain::integer) AS r FROM retrains r
                             WHERE r.meth = fa.meth AND r.kind IN ('rw', 'ar') GROUP BY id) x)))
  FROM fa GROUP BY meth ORDER BY meth;

SELECT is((SELECT count(*) FROM fa), 80::bigint, 'every default feature and every method measured');
SELECT cmp_ok((SELECT max(se) FROM fa), '<', 0.01::float8,
              'the Monte Carlo standard error of every feature''s rate is below 0.01 (the band is a real test)');
SELECT diag('vol_20: ' || string_agg(meth || ' ' || round(rate::numeric, 3), ', ' ORDER BY meth)
            || '; the other features: ' || (SELECT round(min(rate)::numeric, 3) || ' .. ' || round(max(rate)::numeric, 3)
                                              FROM fa WHERE feature <> 'vol_20'))
  FROM fa WHERE feature = 'vol_20';
-- the issue's band, for every pair: with the plain rank of the 100 overlapping windows vol_20
-- flagged 0.058-0.073; each threshold now leaves out the windows that share rows with each
-- null window (drift_null_check's neighbours): doc/drift.md
SELECT is((SELECT string_agg(meth || '/' || feature || ' ' || round(rate::numeric, 3), ', ')
             FROM fa WHERE rate NOT BETWEEN 0.03 AND 0.07), NULL,
          'every feature flags a stationary series in 0.05 +- 0.02 of windows, for every method');
-- the threshold is a little conservative for short-memory features (wasserstein's mean 0.040)
SELECT ok((SELECT bool_and(r BETWEEN 0.035 AND 0.06) FROM (SELECT avg(rate) AS r FROM fa GROUP BY meth) x),
          'the mean false-alarm rate of every method is within 0.035 .. 0.06');
SELECT cmp_ok((SELECT avg(fixed::integer) FROM flags WHERE kind IN ('rw', 'ar') AND meth = 'ks'), '>',
              0.3::numeric, '... where the fixed KS threshold (p < 0.05) flags more than 30 % (the null matters)');
SELECT diag(format('fixed thresholds, for comparison: %s of KS flags, drift share > 0.5 in %s of windows',
                   round(avg(f)::numeric, 3), round(avg((f > 0.5)::integer)::numeric, 3)))
  FROM (SELECT id, wend, avg(fixed::integer) AS f FROM flags
         WHERE kind IN ('rw', 'ar') AND meth = 'ks' GROUP BY 1, 2) x;
SELECT is((SELECT string_agg(meth || ' ' || round(r, 3), ', ') FROM
             (SELECT meth, avg(retrain::integer) AS r FROM retrains WHERE kind IN ('rw', 'ar') GROUP BY 1) x
            WHERE r > 0.05), NULL,
          'the drift-share rule retrains in at most 5 % of stationary windows, for every method');
-- the error rule on the same stationary windows (numpy: test/reference/drift_errors.py)
SELECT diag(format('error rule: false alarms in %s of %s stationary windows (standard error %s; by the mean squared error %s, by the correlation %s); with the share rule, retrains in %s',
                   round(avg(drifted::integer), 4), count(*),
                   (SELECT round((stddev(r) / sqrt(count(*)))::numeric, 4)
                      FROM (SELECT avg(drifted::integer) AS r FROM errs WHERE kind IN ('rw', 'ar') GROUP BY id) x),
                   round(avg((mse > mse_threshold)::integer), 4), round(avg((rho < rho_threshold)::integer), 4),
                   (SELECT string_agg(meth || ' ' || round(r, 3), ', ' ORDER BY meth)
                      FROM (SELECT meth, avg(retrain::integer) AS r FROM decided
                             WHERE kind IN ('rw', 'ar') GROUP BY 1) x)))
  FROM errs WHERE kind IN ('rw', 'ar');
SELECT is((SELECT count(*) FROM errs WHERE kind IN ('rw', 'ar') AND drifted IS NOT NULL), 1680::bigint,
          'the error rule decides on every stationary window (20 days of errors, validation rows)');
-- its rate is above error_alpha: the largest of 613 overlapping validation windows is the
-- threshold of the mean squared error at 0.0025, and they hold about 30 disjoint ones
SELECT cmp_ok((SELECT avg(drifted::integer) FROM errs WHERE kind IN ('rw', 'ar')), '<=', 0.025::numeric,
              'the error rule fires in at most 2.5 % of stationary windows (error_alpha 0.0125)');
SELECT is((SELECT string_agg(meth || ' ' || round(r, 3), ', ') FROM
             (SELECT meth, avg(retrain::integer) AS r FROM decided WHERE kind IN ('rw', 'ar') GROUP BY 1) x
            WHERE r > 0.05), NULL,
          'the share rule and the error rule together retrain in at most 5 % of stationary windows, for every method');
-- breaks: detected when monitor() would queue a retrain on one of the 20 trading days after
-- the break (the share rule with ks, or the error rule)
CREATE TEMP TABLE detect AS
SELECT d.id, d.kind, bool_or(d.retrain) AS hit, bool_or(d.share_rule) AS by_share, bool_or(d.error_rule) AS by_errors,
       min(f.k) FILTER (WHERE d.retrain) - min(f.k) AS first_day
  FROM decided d JOIN feat f ON f.id = d.id AND f.day = d.wend
 WHERE d.kind IN ('vol', 'ar_flip', 'ar_flip5') AND d.meth = 'ks' GROUP BY 1, 2;
SELECT diag(format('%s: detected within 20 trading days in %s of %s seeds (by the share rule %s, by the error rule %s; median day %s, latest %s)',
                   kind, count(*) FILTER (WHERE hit), count(*), count(*) FILTER (WHERE by_share),
                   count(*) FILTER (WHERE by_errors),
                   percentile_disc(0.5) WITHIN GROUP (ORDER BY first_day), max(first_day)))
  FROM detect GROUP BY kind ORDER BY kind;
SELECT is((SELECT count(*) FROM detect), 72::bigint, '24 seeds of each break measured');
SELECT cmp_ok((SELECT avg(hit::integer) FROM detect WHERE kind = 'vol'), '>=', 0.9::numeric,
              'a volatility x3 break queues a retrain within 20 trading days in at least 90 % of seeds');
-- AR sign flips: the evidence is the relation of the ~20 returns after the break to the day
-- before (what the forecasts use), and how often any rule can see it within 20 days at a given
-- false-alarm rate is bounded: the Neyman-Pearson test told the break day, sigma and both
-- coefficients (test/reference/drift_errors.py, 400 000 simulated paths) detects 0.4 -> -0.4
-- in 87.4 % of paths at a false-alarm rate of 0.0125 and 89.8 % at 0.018 (the error rule's,
-- measured above), 0.5 -> -0.5 in 97.0 % and 97.9 %.  So 90 % is the goal for the 0.5 flip;
-- for 0.4 no rule reaches it at this false-alarm rate, and the rule must stay near the bound
-- (within two standard errors of 24 seeds, 0.07, below 87.4 %).  numpy's rule on its own
-- series: 55 of 60 (0.4) and 59 of 60 (0.5).  doc/drift.md
SELECT cmp_ok((SELECT avg(hit::integer) FROM detect WHERE kind = 'ar_flip5'), '>=', 0.9::numeric,
              'an AR(1) sign flip (0.5 to -0.5) queues a retrain within 20 trading days in at least 90 % of seeds');
SELECT cmp_ok((SELECT avg(hit::integer) FROM detect WHERE kind = 'ar_flip'), '>=', 0.8::numeric,
              'an AR(1) sign flip (0.4 to -0.4) queues one in at least 80 % (any rule: at most 87-90 % at this false-alarm rate)');

-- end to end: monitor() itself, the bars of every break series cut 10 trading days after the
-- break: it queues a retrain for the forecast errors exactly where error_drift says so
-- (the 48 cut days first: a join of prices with the temporary tables unanalyzed was planned
-- as a nested loop over feat, minutes long)
CREATE TEMP TABLE cut AS
SELECT m.symbols[1] AS symbol, f.day
  FROM stockml.models m JOIN cal c ON c.sym = m.name JOIN feat f ON f.id = m.id AND f.k = 70
 WHERE c.k IN ('vol', 'ar_flip');
ANALYZE cut;
DELETE FROM stockml.prices p USING cut WHERE p.symbol = cut.symbol AND p.day > cut.day;
CREATE TEMP TABLE monitored AS
SELECT c.k AS kind, mo.*
  FROM cal c CROSS JOIN LATERAL stockml.monitor(c.sym) mo WHERE c.k IN ('vol', 'ar_flip');
SELECT diag(format('monitor() 10 trading days after the break: %s of %s volatility breaks and %s of %s AR flips queue a retrain for their forecast errors',
                   count(*) FILTER (WHERE kind = 'vol' AND retrain_reason LIKE '%forecast errors: mean squared%' AND retrain_job IS NOT NULL),
                   count(*) FILTER (WHERE kind = 'vol'),
                   count(*) FILTER (WHERE kind = 'ar_flip' AND retrain_reason LIKE '%forecast%' AND retrain_job IS NOT NULL),
                   count(*) FILTER (WHERE kind = 'ar_flip')))
  FROM monitored;
SELECT is((SELECT string_agg(o.model, ', ') FROM monitored o JOIN stockml.models m ON m.name = o.model
             JOIN feat f ON f.id = m.id AND f.k = 70 JOIN errs e ON e.id = m.id AND e.wend = f.day
            WHERE e.drifted IS DISTINCT FROM (o.retrain_job IS NOT NULL AND o.retrain_reason LIKE '%forecast%')), NULL,
          'monitor() queues a retrain for its forecast errors where error_drift drifts (48 break series, 10 days after)');
SELECT cmp_ok((SELECT count(*) FROM monitored WHERE kind = 'vol' AND retrain_job IS NOT NULL
                 AND retrain_reason LIKE '%forecast errors: mean squared%'), '>=', 20::bigint,
              '... and does for at least 20 of the 24 volatility breaks');
SELECT * FROM finish();
ROLLBACK;
