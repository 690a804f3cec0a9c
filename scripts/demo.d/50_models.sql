-- models: train on the MSFT sample (walk-forward), metrics beside the naive baseline, deploy, predict tomorrow
\echo 'Train three versions of msft_next_day on the MSFT sample: 5 walk-forward folds each, then a refit on every row.'
\echo 'A version becomes production by itself only when its out-of-sample skill beats the current one''s (or the random walk''s 0):'
SELECT t.model_name, t.version, a.algorithm, a.params, t.deployed,
       round((t.metrics ->> 'skill')::numeric, 4) AS skill
  FROM (VALUES (1, 'naive', '{}'::jsonb), (2, 'ridge', '{"alpha": 50}'),
               (3, 'elastic_net', '{"alpha": 0.001, "l1_ratio": 0.5, "max_iter": 10000}')) a(i, algorithm, params),
       LATERAL stockml.train('msft_next_day', ARRAY['MSFT'], a.algorithm, params => a.params) t
 ORDER BY a.i;
\echo 'Versions side by side with the naive baseline (out of sample, on the close; mape as a fraction):'
SELECT version, algorithm, aliases, n_test,
       round(mae::numeric, 4) AS mae, round(naive_mae::numeric, 4) AS naive_mae,
       round(rmse::numeric, 4) AS rmse, round(naive_rmse::numeric, 4) AS naive_rmse,
       round(mape::numeric, 4) AS mape, round(directional_accuracy::numeric, 3) AS direction,
       round(skill::numeric, 4) AS skill
  FROM stockml.model_versions WHERE name = 'msft_next_day' ORDER BY version;
\echo 'The ridge run, fold by fold (stockml.run_metrics, step 0 = all folds):'
SELECT m.step, max(m.value) FILTER (WHERE m.key = 'n_train')::int AS n_train,
       max(m.value) FILTER (WHERE m.key = 'n_test')::int AS n_test,
       round(max(m.value) FILTER (WHERE m.key = 'mae')::numeric, 4) AS mae,
       round(max(m.value) FILTER (WHERE m.key = 'naive_mae')::numeric, 4) AS naive_mae,
       round(max(m.value) FILTER (WHERE m.key = 'skill')::numeric, 4) AS skill
  FROM stockml.run_metrics m JOIN stockml.runs r ON r.id = m.run_id
 WHERE r.model_name = 'msft_next_day' AND r.model_version = 2
 GROUP BY m.step ORDER BY m.step;
\echo 'Deploy the ridge version by hand (logged in alias_history with who, when and why):'
SELECT name, alias, version, previous_version, action, set_by, reason
  FROM stockml.deploy('msft_next_day', 2, reason => 'demo: ridge in production');
\echo 'Tomorrow''s close, predicted from the last bar with the feature spec stored in the model (90% conformal interval):'
SELECT symbol, as_of, target_day, round(predicted_close::numeric, 2) AS predicted_close,
       round(lower::numeric, 2) AS lower, round(upper::numeric, 2) AS upper, model_version,
       (SELECT close FROM stockml.prices WHERE symbol = 'MSFT' ORDER BY day DESC LIMIT 1) AS last_close
  FROM stockml.predict('msft_next_day', 'MSFT');
\echo 'Recorded in the forecast ledger that monitoring scores later:'
SELECT model_name, model_version, symbol, as_of, target_day, round(predicted_close::numeric, 2) AS predicted_close
  FROM stockml.forecast('msft_next_day');
\echo 'The model itself: a checksummed bytea of'
SELECT version, length(model) AS bytes, stockml.model_describe(model) ->> 'algorithm' AS algorithm,
       jsonb_array_length(reference -> 'rows') AS reference_rows
  FROM stockml.models WHERE name = 'msft_next_day' ORDER BY version;
