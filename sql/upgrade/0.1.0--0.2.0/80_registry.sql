-- Registry (issue 12, item 4): a version's description and tags, delete_version(), and
-- drop_model() that errors on an unknown name and takes the model out of the pipeline.
-- The same as sql/install/51_registry.sql, 56_version_info.sql and 65_forecast_views.sql.

ALTER TABLE stockml.models ADD COLUMN description text,
                           ADD COLUMN tags text[] NOT NULL DEFAULT '{}';
COMMENT ON COLUMN stockml.models.description IS 'what the version is for, in words: train(params => {"description": ..}) or set_version_info()';
COMMENT ON COLUMN stockml.models.tags IS 'labels of the version, sorted and distinct: train(params => {"tags": [..]}) or set_version_info()';

CREATE OR REPLACE VIEW stockml.model_versions AS
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
       m.params, m.created_at, m.run_id, m.description, m.tags
  FROM stockml.models m;
COMMENT ON VIEW stockml.model_versions IS
'every model version with its aliases and walk-forward metrics beside the naive baseline''s';

CREATE OR REPLACE VIEW stockml.model_history AS
SELECT v.created_at AS time, v.name, v.version, v.aliases, v.algorithm, v.symbols, v.horizon,
       v.feature_set, v.train_start, v.train_end, v.n_rows, v.skill, v.mae, v.naive_mae, v.rmse,
       v.directional_accuracy, v.naive_directional_accuracy, v.n_test, v.description, v.tags
  FROM stockml.model_versions v
 ORDER BY time, v.name, v.version;
COMMENT ON VIEW stockml.model_history IS 'Grafana: every model version (time = when trained) with its aliases and walk-forward metrics beside the naive baseline''s';

-- drop_model() is defined once, in its final form, by 90_jobs.sql; delete_version() by
-- 82_registry_writes.sql

-- the tags as stored: sorted, distinct, each 1-64 characters without NULLs or blanks
CREATE FUNCTION stockml._check_tags(tags text[])
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    bad text;
BEGIN
    IF tags IS NULL THEN
        RETURN '{}';
    END IF;
    SELECT t INTO bad FROM unnest(tags) t
     WHERE t IS NULL OR btrim(t) = '' OR length(t) > 64 OR t <> btrim(t) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'invalid tag %', coalesce(quote_literal(bad), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A tag is 1 to 64 characters, not NULL, without leading or trailing blanks.',
                  HINT = 'For example ARRAY[''baseline'', ''ridge'', ''2024-q1''].';
    END IF;
    RETURN coalesce((SELECT array_agg(DISTINCT t ORDER BY t) FROM unnest(tags) t), '{}');
END $$;
COMMENT ON FUNCTION stockml._check_tags(text[]) IS
'internal: tags as stored (sorted, distinct); ERROR on a NULL, blank, padded or over-long tag';

CREATE FUNCTION stockml.set_version_info(model_name text, version integer,
                                         description text DEFAULT NULL, tags text[] DEFAULT NULL)
RETURNS SETOF stockml.model_versions
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
    IF model_name IS NULL OR set_version_info.version IS NULL THEN
        RAISE EXCEPTION 'model_name and version must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM stockml._require_version(model_name, set_version_info.version);
    UPDATE stockml.models m
       SET description = CASE WHEN set_version_info.description IS NULL THEN m.description
                              ELSE nullif(set_version_info.description, '') END,
           tags = CASE WHEN set_version_info.tags IS NULL THEN m.tags
                       ELSE stockml._check_tags(set_version_info.tags) END
     WHERE m.name = model_name AND m.version = set_version_info.version;
    RETURN QUERY SELECT * FROM stockml.model_versions v
                  WHERE v.name = model_name AND v.version = set_version_info.version;
END $$;
COMMENT ON FUNCTION stockml.set_version_info(text, integer, text, text[]) IS
'set a version''s description and/or tags (NULL leaves one as it is; '''' clears the description, ''{}'' the tags); returns its model_versions row';

-- ERROR unless the model has that version
CREATE FUNCTION stockml._require_version(model_name text, version integer)
RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM stockml.models m WHERE m.name = model_name) THEN
        RAISE EXCEPTION 'model "%" does not exist', model_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT name, version FROM stockml.model_versions lists the models.';
    END IF;
    IF NOT EXISTS (SELECT FROM stockml.models m WHERE m.name = model_name AND m.version = _require_version.version) THEN
        RAISE EXCEPTION 'model "%" has no version %', model_name, version
            USING ERRCODE = 'undefined_object',
                  HINT = format('Its versions: %s.', (SELECT string_agg(m.version::text, ', ' ORDER BY m.version)
                                                        FROM stockml.models m WHERE m.name = model_name));
    END IF;
END $$;
COMMENT ON FUNCTION stockml._require_version(text, integer) IS
'internal: ERROR naming the model''s versions unless it has this one';

-- stockml_admin trains and so describes its versions; deleting stays with the owner, as
-- drop_model does (both need DELETE on stockml.models)
GRANT UPDATE (description, tags) ON stockml.models TO stockml_admin;
