/*
 * distributed.c — RelationIsCitusTable(): is a table listed in Citus's
 * metadata (pg_catalog.pg_dist_partition)?  On a Citus coordinator a
 * distributed table is an empty (or stale) shell: a direct heap or index scan
 * of it reads no rows, silently, so callers read it through SPI instead.
 *
 * Without Citus the answer costs one syscache lookup of pg_dist_partition's
 * name (a negative cache entry after the first call).  With Citus the answer
 * for the last relation asked is cached for the rest of the transaction, and
 * dropped by any relcache invalidation of that relation (Citus invalidates the
 * relation when it distributes or undistributes it).
 *
 * CitusAllowLocalNestedReads(): a function that reads one symbol's rows of a
 * colocated table through SQL, and may itself be called inside a query Citus
 * pushed to that symbol's shard (total_return() in a view), reads a shard on
 * the node it runs on; Citus refuses such a nested query unless
 * citus.allow_nested_distributed_execution is on, which this sets until
 * CitusRestoreSettings().  Only for reads whose rows live beside the outer
 * query's: the nested query then runs locally, in the same transaction.
 *
 * CitusSequentialWrites(): on Citus the registry is a set of reference tables
 * that reference one another (stockml.distribute()); Citus refuses to write a
 * referenced one (experiments, runs, models) after a parallel query of a
 * distributed table in the same transaction, so train(), which reads the bars
 * first, runs its distributed queries over one connection per node, until
 * CitusRestoreSettings().
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/pg_namespace.h"
#include "storage/proc.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"

#include "distributed.h"

static Oid				  cached_relid = InvalidOid;
static LocalTransactionId cached_lxid = InvalidLocalTransactionId;
static bool				  cached_answer = false;
static bool				  callback_registered = false;

static void
ForgetCitusTable(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == cached_relid)
		cached_relid = InvalidOid;
}

bool
RelationIsCitusTable(Oid relid)
{
	Oid			dist = get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE);
	AttrNumber	logicalrelid;
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	bool		found;

	if (!OidIsValid(dist))
		return false;
	if (relid == cached_relid && MyProc->lxid == cached_lxid)
		return cached_answer;
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(ForgetCitusTable, (Datum) 0);
		callback_registered = true;
	}
	logicalrelid = get_attnum(dist, "logicalrelid");
	if (logicalrelid == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("pg_catalog.pg_dist_partition has no column logicalrelid"),
				 errdetail("stockml reads Citus's metadata to find distributed tables; this Citus version lays it out differently."),
				 errhint("Use a Citus release stockml supports (13.2), or drop the citus extension from this database.")));
	rel = table_open(dist, AccessShareLock);
	ScanKeyInit(&key, logicalrelid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	cached_relid = relid;
	cached_lxid = MyProc->lxid;
	cached_answer = found;
	return found;
}

/* Set a Citus setting until CitusRestoreSettings(), when relid is a Citus table */
static int
CitusSetUntilRestored(Oid relid, const char *name, const char *value)
{
	int nestlevel;

	if (!OidIsValid(relid) || !RelationIsCitusTable(relid))
		return -1;
	nestlevel = NewGUCNestLevel();
	(void) set_config_option(name, value, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
							 false);
	return nestlevel;
}

int
CitusAllowLocalNestedReads(Oid relid)
{
	return CitusSetUntilRestored(relid, "citus.allow_nested_distributed_execution", "on");
}

int
CitusSequentialWrites(Oid relid)
{
	return CitusSetUntilRestored(relid, "citus.multi_shard_modify_mode", "sequential");
}

void
CitusRestoreSettings(int nestlevel)
{
	if (nestlevel >= 0)
		AtEOXact_GUC(true, nestlevel);
}
