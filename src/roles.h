/*
 * roles.h — who may make stockml reach the network or queue work: superusers
 * and members of the stockml_admin role (created by the extension script).
 */
#ifndef STOCKML_ROLES_H
#define STOCKML_ROLES_H

#include "postgres.h"

#define STOCKML_ADMIN_ROLE "stockml_admin"
#define STOCKML_READER_ROLE "stockml_reader"

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
	Oid save_userid;
	int save_sec_context;
	int save_nestlevel;
} StockmlOwnerSwitch;

/* the only search_path privileged stockml code runs under */
#define STOCKML_SAFE_SEARCH_PATH "pg_catalog, pg_temp"

extern void StockmlBecomeOwner(StockmlOwnerSwitch *sw);
extern void StockmlRestoreUser(StockmlOwnerSwitch *sw);

/*
 * For a background worker, right after it connects: pin search_path for the
 * whole session, above the database's and role's settings (ALTER DATABASE
 * ... SET search_path is the database owner's to choose), so a function or
 * operator planted in a schema of theirs never runs with the worker's rights.
 */
extern void StockmlPinSearchPath(void);

#endif /* STOCKML_ROLES_H */
