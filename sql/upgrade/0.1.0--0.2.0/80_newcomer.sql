-- Newcomer fixes (issue 12, item 5): an alias in the wrong format is refused by
-- _set_alias() with a clear ERROR before the CHECK constraint sees it; the comment on
-- reference_columns() names the key train() writes ("rows").  The same as sql/install/.

CREATE OR REPLACE FUNCTION stockml._set_alias(model_name text, version integer, alias text, action text, reason text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    previous integer;
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
    PERFORM stockml._require_version(model_name, version);
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

COMMENT ON FUNCTION stockml.reference_columns(jsonb, text[]) IS
'the reference sample kept with a model as one float8[] per named feature; reads {"names": [..], "rows": [[..]]} (what train() stores) or {"feature": [..]}';
