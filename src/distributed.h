/*
 * distributed.h — whether a table is a Citus table (distributed, reference or
 * Citus-managed local), without linking against Citus: C code that would scan
 * such a table directly reads it through SQL instead, which Citus routes.
 */
#ifndef DISTRIBUTED_H
#define DISTRIBUTED_H

#include "postgres.h"

extern bool RelationIsCitusTable(Oid relid);
extern int	CitusAllowLocalNestedReads(Oid relid);
extern int	CitusSequentialWrites(Oid relid);
extern void CitusRestoreSettings(int nestlevel);

#endif
