/*
 * roles.c — the privilege check in front of every function that fetches
 * over the network or queues a job: superuser, or member of stockml_admin.
 * EXECUTE on those functions stays granted to PUBLIC so that everyone else
 * gets this message, which says what to GRANT, rather than a bare
 * "permission denied for function".  Also the switch to the extension's
 * owner for the few writes callers may not make themselves.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "roles.h"

bool
StockmlIsAdmin(Oid roleid)
{
	Oid admin;

	if (superuser_arg(roleid))
		return true;
	admin = get_role_oid(STOCKML_ADMIN_ROLE, true);
	return OidIsValid(admin) && has_privs_of_role(roleid, admin);
}

/* ERROR unless the current user may do what (e.g. "fetch prices") */
void
StockmlRequireAdmin(const char *what)
{
	if (!StockmlIsAdmin(GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s", what),
				 errdetail("Only superusers and members of role \"%s\" may %s.",
						   STOCKML_ADMIN_ROLE, what),
				 errhint("A superuser can run: GRANT %s TO %s;", STOCKML_ADMIN_ROLE,
						 quote_identifier(GetUserNameFromId(GetUserId(), false)))));
}

void
StockmlBecomeOwner(StockmlOwnerSwitch *sw)
{
	Oid		  nsp = get_namespace_oid("stockml", false);
	HeapTuple tup;
	Oid		  owner;

	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nsp));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for namespace %u", nsp);
	owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);

	GetUserIdAndSecContext(&sw->save_userid, &sw->save_sec_context);
	SetUserIdAndSecContext(owner, sw->save_sec_context |
									  SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	sw->save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", STOCKML_SAFE_SEARCH_PATH, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

void
StockmlRestoreUser(StockmlOwnerSwitch *sw)
{
	AtEOXact_GUC(true, sw->save_nestlevel);
	SetUserIdAndSecContext(sw->save_userid, sw->save_sec_context);
}

/*
 * PGC_S_CLIENT, as a connection option would: above PGC_S_DATABASE and
 * PGC_S_USER, and it becomes the reset value, so RESET search_path in code
 * the worker runs comes back here.
 */
void
StockmlPinSearchPath(void)
{
	SetConfigOption("search_path", STOCKML_SAFE_SEARCH_PATH, PGC_SUSET, PGC_S_CLIENT);
}
