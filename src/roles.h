/*
 * roles.h — who may make stockml reach the network or queue work: superusers
 * and members of the stockml_admin role (created by the extension script).
 */
#ifndef STOCKML_ROLES_H
#define STOCKML_ROLES_H

#include "postgres.h"

#define STOCKML_ADMIN_ROLE "stockml_admin"

extern bool StockmlIsAdmin(Oid roleid);
extern void StockmlRequireAdmin(const char *what);

/*
 * Run a stretch of trusted SQL as the owner of schema stockml (the role that
 * created the extension), as a security-restricted operation with
 * search_path pinned to pg_catalog, pg_temp, so nothing the caller defines
 * (functions, operators, types in pg_temp) can run with those privileges.
 */
typedef struct StockmlOwnerSwitch
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
} StockmlOwnerSwitch;

extern void StockmlBecomeOwner(StockmlOwnerSwitch *sw);
extern void StockmlRestoreUser(StockmlOwnerSwitch *sw);

#endif							/* STOCKML_ROLES_H */
