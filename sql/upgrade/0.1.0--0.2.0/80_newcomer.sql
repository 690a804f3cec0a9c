-- Newcomer fixes (issue 12, item 5): an alias in the wrong format is refused by
-- _set_alias() with a clear ERROR before the CHECK constraint sees it (its final body is in
-- 82_registry_writes.sql); the comment on
-- reference_columns() names the key train() writes ("rows").  The same as sql/install/.

COMMENT ON FUNCTION stockml.reference_columns(jsonb, text[]) IS
'the reference sample kept with a model as one float8[] per named feature; reads {"names": [..], "rows": [[..]]} (what train() stores) or {"feature": [..]}';
