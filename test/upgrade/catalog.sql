-- test/upgrade/catalog.sql — a canonical text description of everything the
-- stockml extension owns, one line per fact, sorted, so that two databases
-- (one upgraded from 0.1.0, one a fresh install) can be compared with diff.
-- OIDs never appear; names, definitions (bodies included), grants, comments,
-- dump registrations and role memberships do.
\pset format unaligned
\pset tuples_only on
\pset pager off
SET search_path = pg_catalog;
SET extra_float_digits = 3;
WITH ext AS (
	SELECT oid FROM pg_extension WHERE extname = 'stockml'
), members AS (
	SELECT d.classid, d.objid
	  FROM pg_depend d, ext
	 WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
), rels AS (
	SELECT c.oid, c.relname, c.relkind FROM pg_class c
	 WHERE c.relnamespace = 'stockml'::regnamespace
), procs AS (
	SELECT p.oid, p.prokind FROM pg_proc p WHERE p.pronamespace = 'stockml'::regnamespace
)
SELECT line FROM (
	SELECT 'version ' || extversion || ' relocatable ' || extrelocatable AS line
	  FROM pg_extension WHERE extname = 'stockml'
	UNION ALL
	SELECT 'member ' || pg_describe_object(classid, objid, 0) FROM members
	UNION ALL
	SELECT 'dump ' || c::regclass::text || ' where ' || coalesce(w, '')
	  FROM pg_extension e,
	       unnest(e.extconfig, e.extcondition) AS u(c, w)
	 WHERE e.extname = 'stockml'
	UNION ALL
	SELECT 'function ' || p.oid::regprocedure::text || E'\n' || pg_get_functiondef(p.oid)
	  FROM procs p WHERE p.prokind <> 'a'
	UNION ALL
	SELECT 'aggregate ' || a.aggfnoid::regprocedure::text
	       || ' kind ' || a.aggkind::text || ' trans ' || a.aggtransfn::regprocedure::text
	       || ' final ' || coalesce(nullif(a.aggfinalfn, 0)::regprocedure::text, '-')
	       || ' extra ' || a.aggfinalextra || ' modify ' || a.aggfinalmodify::text
	       || ' combine ' || coalesce(nullif(a.aggcombinefn, 0)::regprocedure::text, '-')
	       || ' serial ' || coalesce(nullif(a.aggserialfn, 0)::regprocedure::text, '-')
	       || ' deserial ' || coalesce(nullif(a.aggdeserialfn, 0)::regprocedure::text, '-')
	       || ' mtrans ' || coalesce(nullif(a.aggmtransfn, 0)::regprocedure::text, '-')
	       || ' minv ' || coalesce(nullif(a.aggminvtransfn, 0)::regprocedure::text, '-')
	       || ' mfinal ' || coalesce(nullif(a.aggmfinalfn, 0)::regprocedure::text, '-')
	       || ' stype ' || format_type(a.aggtranstype, NULL) || ' space ' || a.aggtransspace
	       || ' init ' || coalesce(a.agginitval, '-')
	       || ' parallel ' || p.proparallel::text || ' volatile ' || p.provolatile::text
	  FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
	 WHERE p.pronamespace = 'stockml'::regnamespace
	UNION ALL
	SELECT 'acl function ' || p.oid::regprocedure::text || ' ' || coalesce(p.proacl::text, 'default')
	  FROM pg_proc p WHERE p.pronamespace = 'stockml'::regnamespace
	UNION ALL
	SELECT 'comment function ' || p.oid::regprocedure::text || ' ' || coalesce(obj_description(p.oid, 'pg_proc'), '-')
	  FROM pg_proc p WHERE p.pronamespace = 'stockml'::regnamespace
	UNION ALL
	SELECT 'relation ' || r.relname || ' kind ' || r.relkind::text
	       || ' acl ' || coalesce(c.relacl::text, 'default')
	       || ' owner-is-ext-owner ' || (c.relowner = (SELECT extowner FROM pg_extension WHERE extname = 'stockml'))
	       || ' rls ' || c.relrowsecurity
	       || ' comment ' || coalesce(obj_description(r.oid, 'pg_class'), '-')
	  FROM rels r JOIN pg_class c ON c.oid = r.oid
	UNION ALL
	SELECT 'column ' || r.relname || '.' || a.attname || ' #' || a.attnum || ' ' || format_type(a.atttypid, a.atttypmod)
	       || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
	       || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
	       || CASE WHEN a.attidentity <> '' THEN ' identity ' || a.attidentity::text ELSE '' END
	       || CASE WHEN a.attgenerated <> '' THEN ' generated ' || a.attgenerated::text ELSE '' END
	       || coalesce(' acl ' || a.attacl::text, '')
	       || coalesce(' comment ' || col_description(r.oid, a.attnum), '')
	  FROM rels r
	  JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
	  LEFT JOIN pg_attrdef ad ON ad.adrelid = r.oid AND ad.adnum = a.attnum
	 WHERE r.relkind IN ('r', 'v', 'm', 'p', 'c', 'f')
	UNION ALL
	SELECT 'constraint ' || coalesce(r.relname, format_type(co.contypid, NULL)) || '.' || co.conname || ' ' || pg_get_constraintdef(co.oid)
	  FROM pg_constraint co LEFT JOIN rels r ON r.oid = co.conrelid
	 WHERE co.connamespace = 'stockml'::regnamespace
	UNION ALL
	SELECT 'index ' || pg_get_indexdef(i.indexrelid)
	  FROM pg_index i JOIN rels r ON r.oid = i.indrelid
	UNION ALL
	SELECT 'view ' || r.relname || E'\n' || pg_get_viewdef(r.oid)
	  FROM rels r WHERE r.relkind IN ('v', 'm')
	UNION ALL
	SELECT 'sequence ' || s.seqrelid::regclass::text || ' ' || format_type(s.seqtypid, NULL)
	       || ' start ' || s.seqstart || ' inc ' || s.seqincrement || ' min ' || s.seqmin
	       || ' max ' || s.seqmax || ' cache ' || s.seqcache || ' cycle ' || s.seqcycle
	       || ' owned-by ' || coalesce((SELECT d.refobjid::regclass::text || '.' || d.refobjsubid
	                                      FROM pg_depend d
	                                     WHERE d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid
	                                       AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
	                                     LIMIT 1), '-')
	  FROM pg_sequence s JOIN rels r ON r.oid = s.seqrelid
	UNION ALL
	SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' enabled ' || t.tgenabled::text
	  FROM pg_trigger t JOIN rels r ON r.oid = t.tgrelid WHERE NOT t.tgisinternal
	UNION ALL
	SELECT 'policy ' || r.relname || '.' || p.polname || ' ' || p.polcmd::text || ' ' || p.polpermissive
	       || ' roles ' || (SELECT string_agg(CASE WHEN x = 0 THEN 'public' ELSE x::regrole::text END, ',' ORDER BY 1)
	                          FROM unnest(p.polroles) x)
	       || ' using ' || coalesce(pg_get_expr(p.polqual, p.polrelid), '-')
	       || ' check ' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '-')
	  FROM pg_policy p JOIN rels r ON r.oid = p.polrelid
	UNION ALL
	SELECT 'type ' || t.typname || ' ' || t.typtype::text
	       || coalesce(' base ' || nullif(t.typbasetype, 0)::regtype::text, '')
	       || coalesce(' labels ' || (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
	                                    FROM pg_enum e WHERE e.enumtypid = t.oid), '')
	       || ' comment ' || coalesce(obj_description(t.oid, 'pg_type'), '-')
	  FROM pg_type t
	 WHERE t.typnamespace = 'stockml'::regnamespace AND t.typtype IN ('d', 'e', 'b', 'r', 'm')
	UNION ALL
	SELECT 'schema stockml acl ' || coalesce(n.nspacl::text, 'default')
	       || ' comment ' || coalesce(obj_description(n.oid, 'pg_namespace'), '-')
	  FROM pg_namespace n WHERE n.nspname = 'stockml'
	UNION ALL
	SELECT 'role member ' || m.member::regrole::text || ' of ' || m.roleid::regrole::text
	       || ' admin ' || m.admin_option
	  FROM pg_auth_members m
	 WHERE m.roleid::regrole::text LIKE 'stockml%' OR m.member::regrole::text LIKE 'stockml%'
	UNION ALL
	SELECT 'role ' || rolname || ' login ' || rolcanlogin || ' inherit ' || rolinherit
	  FROM pg_roles WHERE rolname LIKE 'stockml%'
) facts
ORDER BY line COLLATE "C";
