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

#endif							/* STOCKML_ROLES_H */
