-- issue 10 item 4's leftover: feature_importance() of a version trained with horizons, per head
-- (horizon DEFAULT NULL: its own horizon's, predict()'s), as sql/install/57_importance.sql; the
-- signature grows, so the function is dropped and created again with its COMMENT and the
-- GRANTs of sql/install/66_reader.sql.

CREATE FUNCTION stockml.model_importance(model bytea, horizon integer)
RETURNS TABLE (feature integer, importance float8, method text)
AS 'MODULE_PATHNAME', 'stockml_model_importance_head'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.model_importance(bytea, integer) IS
'model_importance() of the head of a model bytea trained for horizon (train(..., horizons => ...)); an ERROR lists the heads'' horizons when it has none for it; a model of one head does not store its horizon: its head';

DROP FUNCTION stockml.feature_importance(text, integer, text);

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
