/*
 * roles.c — the privilege check in front of every function that fetches
 * over the network or queues a job: superuser, or member of stockml_admin.
 * EXECUTE on those functions stays granted to PUBLIC so that everyone else
 * gets this message, which says what to GRANT, rather than a bare
 * "permission denied for function".
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "roles.h"

bool
StockmlIsAdmin(Oid roleid)
{
	Oid			admin;

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
