-- What the README's examples need of each role (test/pgtap/70_roles.sql runs them as each).
-- stockml_admin reads every view the README shows and manages feature sets (the built-in
-- "default" is guarded by a trigger, sql/install/45_features.sql).
GRANT SELECT ON stockml.model_versions TO stockml_admin;
GRANT INSERT, UPDATE, DELETE ON stockml.feature_sets TO stockml_admin;
-- stockml_reader runs the batch prediction SELECT stockml.predict(model, x) FROM
-- stockml.features(...) without reading a table: features() reads for it as the owner
-- (src/features.c, FeaturesReadAsOwner).
