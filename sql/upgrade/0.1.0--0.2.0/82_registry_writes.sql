-- The registry is written only through deploy / rollback / train (issue 16 item 3): the
-- roles keep SELECT on the registry tables, deploy(), rollback() and a train job's
-- fallback_to_naive check the caller and move aliases as the owner through _set_alias /
-- _rollback (the owner's only), and deploy, rollback, train, delete_version, drop_model
-- and monitor serialise on the model name's experiments row instead of advisory locks
-- anyone could take (src/registry.c; monitor's lock line is in 99b_citus_pipeline.sql, which
-- defines its final body; _deploy_gate's final body is in 99_logistic.sql).  The same as
-- sql/install/.

REVOKE INSERT ON stockml.experiments, stockml.run_metrics, stockml.models, stockml.alias_history,
                 stockml.validation_predictions, stockml.drift_null FROM stockml_admin;
REVOKE INSERT, UPDATE ON stockml.runs, stockml.model_aliases FROM stockml_admin;
REVOKE USAGE ON SEQUENCE stockml.runs_id_seq FROM stockml_admin;

DROP FUNCTION stockml._set_alias(text, integer, text, text, text);

CREATE OR REPLACE FUNCTION stockml.deploy(model_name text, version integer, alias text DEFAULT 'production',
                               reason text DEFAULT NULL)
RETURNS stockml.alias_history
AS 'MODULE_PATHNAME', 'stockml_deploy'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml.deploy(text, integer, text, text) IS
'point an alias (default production) at a version; logged in alias_history with who, when and why';

CREATE FUNCTION stockml._lock_model_name(model_name text)
RETURNS void
AS 'MODULE_PATHNAME', 'stockml_lock_model_name'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml._lock_model_name(text) IS
'internal: lock the model name (its experiments row, as the owner) until the end of the transaction: alias moves, train()''s version numbering, version removal and monitor() of one name run one at a time';
-- for the functions of the roles that change models (it checks the caller too)
REVOKE EXECUTE ON FUNCTION stockml._lock_model_name(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml._lock_model_name(text) TO stockml_admin;

CREATE FUNCTION stockml._set_alias(model_name text, version integer, alias text, action text, reason text,
                                   set_by text)
RETURNS stockml.alias_history
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    previous integer;
    result stockml.alias_history;
BEGIN
    IF model_name IS NULL OR version IS NULL OR alias IS NULL THEN
        RAISE EXCEPTION 'model_name, version and alias must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- the format model_aliases_alias_format checks, refused before anything changes
    IF alias !~ '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid alias "%"', alias
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'An alias is 1 to 63 characters among a-z 0-9 _, starting with a lower-case letter.',
                  HINT = CASE WHEN lower(alias) ~ '^[a-z][a-z0-9_]{0,62}$'
                              THEN format('Aliases are lower case: use %L.', lower(alias))
                              ELSE 'For example ''production'' or ''staging''.' END;
    END IF;
    -- one alias move at a time per model name, so the history is a clean sequence
    PERFORM stockml._lock_model_name(model_name);
    PERFORM stockml._require_version(model_name, version);
    SELECT a.version INTO previous FROM stockml.model_aliases a
     WHERE a.name = model_name AND a.alias = _set_alias.alias;
    INSERT INTO stockml.model_aliases AS a (name, alias, version)
    VALUES (model_name, alias, version)
    ON CONFLICT ON CONSTRAINT model_aliases_pkey DO UPDATE SET version = excluded.version;
    INSERT INTO stockml.alias_history AS h (name, alias, version, previous_version, action, set_by, reason)
    VALUES (model_name, alias, version, previous, action, set_by, reason)
    RETURNING h.* INTO result;
    RETURN result;
END $$;
COMMENT ON FUNCTION stockml._set_alias(text, integer, text, text, text, text) IS
'internal, the owner''s only: move an alias and append its history row naming set_by (deploy, rollback, the deploy gate and a train job''s fallback_to_naive, src/registry.c, pass their checked caller)';
REVOKE EXECUTE ON FUNCTION stockml._set_alias(text, integer, text, text, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION stockml.rollback(model_name text, alias text DEFAULT 'production', reason text DEFAULT NULL)
RETURNS stockml.alias_history
AS 'MODULE_PATHNAME', 'stockml_rollback'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml.rollback(text, text, text) IS
'move an alias back to the version it pointed to before its last deploy (repeatable: each call goes one further back)';

CREATE FUNCTION stockml._rollback(model_name text, alias text, reason text, set_by text)
RETURNS stockml.alias_history
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    stack integer[] := '{}';
    h record;
    target integer;
    current integer;
BEGIN
    -- the history read below is the one the move appends to
    PERFORM stockml._lock_model_name(model_name);
    -- replay the history: deploy and auto push a version, rollback pops one
    FOR h IN SELECT * FROM stockml.alias_history ah
              WHERE ah.name = model_name AND ah.alias = _rollback.alias ORDER BY ah.id LOOP
        IF h.action = 'rollback' THEN
            stack := stack[1:cardinality(stack) - 1];
        ELSE
            stack := stack || h.version;
        END IF;
    END LOOP;
    SELECT a.version INTO current FROM stockml.model_aliases a
     WHERE a.name = model_name AND a.alias = _rollback.alias;
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
    RETURN stockml._set_alias(model_name, target, alias, 'rollback',
                              coalesce(reason, format('rolled back from version %s', current)), set_by);
END $$;
COMMENT ON FUNCTION stockml._rollback(text, text, text, text) IS
'internal, the owner''s only: the work of rollback() for its checked caller set_by';
REVOKE EXECUTE ON FUNCTION stockml._rollback(text, text, text, text) FROM PUBLIC;

-- drop_model() is defined once, in its final form, by 90_jobs.sql

CREATE OR REPLACE FUNCTION stockml.delete_version(model_name text, version integer)
RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    aliases text;
BEGIN
    IF model_name IS NULL OR version IS NULL THEN
        RAISE EXCEPTION 'model_name and version must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- the lock _set_alias takes: no alias moves onto the version while it goes
    PERFORM stockml._lock_model_name(model_name);
    PERFORM stockml._require_version(model_name, version);
    SELECT string_agg(a.alias, ', ' ORDER BY a.alias) INTO aliases
      FROM stockml.model_aliases a WHERE a.name = model_name AND a.version = delete_version.version;
    IF aliases IS NOT NULL THEN
        RAISE EXCEPTION 'version % of model "%" is in use by alias %', version, model_name, aliases
            USING ERRCODE = 'object_in_use',
                  DETAIL = 'An alias serves the version it points to; deleting it would leave the alias pointing at nothing.',
                  HINT = 'Point the alias at another version first with stockml.deploy(), or remove the whole model with stockml.drop_model().';
    END IF;
    DELETE FROM stockml.models m WHERE m.name = model_name AND m.version = delete_version.version;
    RETURN 1;
END $$;
COMMENT ON FUNCTION stockml.delete_version(text, integer) IS
'remove one version of a model with its forecasts and validation predictions (refused while an alias points to it); its run and the alias history stay; returns 1';

-- run_job_train() is defined once, in its final form, by 90_jobs.sql

CREATE FUNCTION stockml._fallback_to_naive(model_name text, rejected integer, naive integer)
RETURNS stockml.alias_history
AS 'MODULE_PATHNAME', 'stockml_fallback_to_naive'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml._fallback_to_naive(text, integer, integer) IS
'internal, for run_job_train: move production to the naive version trained in this transaction after a version (rejected) trained in it too that does not beat the random walk (action auto, reason: fallback_to_naive and the rejected version''s gate reason, set_by: the caller); an ERROR otherwise';
REVOKE EXECUTE ON FUNCTION stockml._fallback_to_naive(text, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml._fallback_to_naive(text, integer, integer) TO stockml_admin;
