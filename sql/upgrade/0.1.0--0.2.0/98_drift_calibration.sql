-- issue 15 item 1, the sampling design and the share rule (src/drift_null.c, src/drift_rule.c):
-- the null's windows are evenly spaced over the training period and compared with a reference
-- that leaves a guard of one window length around them; drift_null.neighbours says which
-- windows overlap, and the drifted share's limit judges each window only against the windows
-- away from it.  Nulls kept before this (neighbours 1) keep the in-sample share limit.  See
-- sql/install/61_drift_null.sql.
ALTER TABLE stockml.drift_null
    ADD COLUMN neighbours integer NOT NULL DEFAULT 1
        CONSTRAINT drift_null_neighbours CHECK (neighbours >= 1);
COMMENT ON TABLE stockml.drift_null IS 'per model version, feature and drift statistic: the statistic between the reference sample and 100 windows of the training period (consecutive days, as long as the monitoring window, their first days evenly spaced; the window and one window length on each side left out of the reference); monitor() flags a feature above the (1 - drift_alpha) quantile (drift_null_check)';
COMMENT ON COLUMN stockml.drift_null.neighbours IS 'windows fewer places apart than this overlap each other or each other''s guard: drift_share_check leaves them out of each other''s comparison (1: none do)';

-- The limit of the drifted share (src/drift_rule.c): each window of the null judged only
-- against the windows that overlap neither it nor its guard (neighbours places or more
-- away), per feature at drift_null_check's rank and then for the share itself.
CREATE FUNCTION stockml.drift_share_check(null_statistics float8[], alpha float8, neighbours integer)
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_drift_share_check'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.drift_share_check(float8[], float8, integer) IS
'the limit of the drifted share from a features x windows array of null statistics: u_jb = the share of the windows at least neighbours places from b whose statistic j is below b''s; window b''s share = the share of features with u_jb >= k_j / n_j (k_j = ceil((1 - alpha) (n_j + 1)), drift_null_check''s rank); the limit = the (floor(L n) + 1)-th smallest of the n shares, L = the ceil((1 - alpha) (n + 1))-th smallest of the shares'' own u_b (at most the largest share)';

CREATE OR REPLACE FUNCTION stockml.drift_share_limit(model_id bigint, method text, window_days integer, alpha float8)
RETURNS float8
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT stockml.drift_share_check(array_agg(n.statistics ORDER BY n.feature), $4, max(n.neighbours))
      FROM stockml.drift_null n
     WHERE n.model_id = $1 AND n.method = $2 AND n.window_days = $3
    HAVING count(*) > 0
$$;
COMMENT ON FUNCTION stockml.drift_share_limit(bigint, text, integer, float8) IS
'the calibrated limit of the drifted share for a model version, method and window length (drift_share_check over its stockml.drift_null rows); NULL without a null';
