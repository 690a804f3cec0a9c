/*
 * registry.c — the moves of a model's aliases and the lock that serialises
 * work on one model name.
 *
 * Callers may read the registry (stockml.model_aliases, alias_history, runs,
 * ...) but not write it: deploy(), rollback() and a train job's fallback to
 * the naive model check the caller's privileges (and the fallback its rule)
 * here, name the caller in the
 * history, and write as the extension's owner (roles.c) through internal
 * functions only the owner may execute (stockml._set_alias, _rollback in
 * sql/install/51_registry.sql).  So every alias move has its history row and
 * that row says truly who moved it.  train() writes its run, version and
 * gate decision as the owner the same way (train.c).
 *
 * The per-name lock is a row lock on the name's stockml.experiments row,
 * taken as the owner: nobody else may UPDATE experiments, so no other role
 * can lock it first and stall deploy, rollback, train or monitor (as anyone
 * could with an advisory lock).
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "roles.h"

PG_FUNCTION_INFO_V1(stockml_deploy);
PG_FUNCTION_INFO_V1(stockml_rollback);
PG_FUNCTION_INFO_V1(stockml_fallback_to_naive);
PG_FUNCTION_INFO_V1(stockml_lock_model_name);

#define MAX_MOVE_ARGS 6

static Datum MoveAsOwner(const char *what, const char *sql, int nargs, const Oid *types,
						 Datum *values, char *nulls);
static Datum MoveArgsAsOwner(FunctionCallInfo fcinfo, const char *what, const char *sql,
							 int nargs, const Oid *types);

/*
 * ERROR unless the caller may `what`; then run sql (one row, one composite
 * column) as the owner with values as $1.. and the caller's name as the last
 * parameter ($nargs; values and nulls have room for it); returns that column.
 */
static Datum
MoveAsOwner(const char *what, const char *sql, int nargs, const Oid *types,
			Datum *values, char *nulls)
{
	StockmlOwnerSwitch sw;
	Datum			   result;
	bool			   isnull;

	StockmlRequireAdmin(what);
	/* the role whose privileges were checked: in a job, the submitter */
	values[nargs - 1] = CStringGetTextDatum(GetUserNameFromId(GetUserId(), false));
	nulls[nargs - 1] = ' ';

	SPI_connect();
	StockmlBecomeOwner(&sw);
	if (SPI_execute_with_args(sql, nargs, (Oid *) types, values, nulls, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not move the alias");
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		elog(ERROR, "the alias move returned no history row");
	result = SPI_datumTransfer(result, false, -1);
	StockmlRestoreUser(&sw);
	SPI_finish();
	return result;
}

/* MoveAsOwner with the function's arguments as $1 .. $(nargs - 1) */
static Datum
MoveArgsAsOwner(FunctionCallInfo fcinfo, const char *what, const char *sql, int nargs, const Oid *types)
{
	Datum values[MAX_MOVE_ARGS];
	char  nulls[MAX_MOVE_ARGS];

	Assert(nargs <= MAX_MOVE_ARGS && nargs - 1 == PG_NARGS());
	for (int i = 0; i < nargs - 1; i++)
	{
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
		values[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
	return MoveAsOwner(what, sql, nargs, types, values, nulls);
}

/* stockml.deploy(model_name, version, alias, reason) */
Datum
stockml_deploy(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(MoveArgsAsOwner(fcinfo, "deploy models",
									"SELECT h FROM stockml._set_alias($1, $2, $3, 'deploy',"
									" coalesce($4, 'deployed by hand'), $5) h",
									5, (Oid[]) {TEXTOID, INT4OID, TEXTOID, TEXTOID, TEXTOID}));
}

/* stockml.rollback(model_name, alias, reason) */
Datum
stockml_rollback(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(MoveArgsAsOwner(fcinfo, "roll back models",
									"SELECT h FROM stockml._rollback($1, $2, $3, $4) h",
									4, (Oid[]) {TEXTOID, TEXTOID, TEXTOID, TEXTOID}));
}

/*
 * stockml._fallback_to_naive(model_name, rejected, naive): a train job's
 * fallback_to_naive (stockml.run_job_train) moves production to the naive
 * version it trained when the version it trained first did not pass the
 * gate against the random walk, as an automatic move.  The rule is checked
 * here on rows only train() writes: both versions' runs finished in this
 * transaction, the first was not deployed and does not beat the random walk,
 * the second is naive; the reason is the first's gate reason.  So calling it
 * records nothing train() and the rule did not decide.
 */
Datum
stockml_fallback_to_naive(PG_FUNCTION_ARGS)
{
	Datum			   args[3];
	Datum			   values[4];
	char			   nulls[4];
	bool			   isnull;
	bool			   ok;
	StockmlOwnerSwitch sw;
	TupleDesc		   desc;
	HeapTuple		   row;

	StockmlRequireAdmin("deploy models");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model_name, rejected and naive must not be NULL")));
	for (int i = 0; i < 3; i++)
		args[i] = PG_GETARG_DATUM(i);
	SPI_connect();
	StockmlBecomeOwner(&sw);
	if (SPI_execute_with_args("SELECT ra.xmin, na.xmin, n.algorithm OPERATOR(pg_catalog.=) 'naive'"
							  "   AND NOT coalesce((r.metrics -> 'gate' ->> 'deployed')::boolean, false)"
							  "   AND (coalesce((r.metrics ->> 'skill')::float8, 0) OPERATOR(pg_catalog.<=) 0"
							  "        OR coalesce((r.metrics -> 'gate' ->> 'p_vs_naive')::float8, 1)"
							  "           OPERATOR(pg_catalog.>=) coalesce((r.metrics -> 'gate' ->> 'alpha')::float8, 0.05)),"
							  " pg_catalog.format('fallback_to_naive: version %s %s', r.version, r.metrics -> 'gate' ->> 'reason')"
							  " FROM stockml.models r JOIN stockml.runs ra ON ra.id OPERATOR(pg_catalog.=) r.run_id,"
							  "      stockml.models n JOIN stockml.runs na ON na.id OPERATOR(pg_catalog.=) n.run_id"
							  " WHERE r.name OPERATOR(pg_catalog.=) $1 AND r.version OPERATOR(pg_catalog.=) $2"
							  "   AND n.name OPERATOR(pg_catalog.=) $1 AND n.version OPERATOR(pg_catalog.=) $3"
							  "   AND ra.status OPERATOR(pg_catalog.=) 'finished' AND na.status OPERATOR(pg_catalog.=) 'finished'",
							  3, (Oid[]) {TEXTOID, INT4OID, INT4OID}, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the versions");
	ok = SPI_processed == 1;
	if (ok)
	{
		desc = SPI_tuptable->tupdesc;
		row = SPI_tuptable->vals[0];
		ok = TransactionIdIsCurrentTransactionId(DatumGetTransactionId(SPI_getbinval(row, desc, 1, &isnull))) &&
			 TransactionIdIsCurrentTransactionId(DatumGetTransactionId(SPI_getbinval(row, desc, 2, &isnull))) &&
			 DatumGetBool(SPI_getbinval(row, desc, 3, &isnull)) && !isnull;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("stockml._fallback_to_naive is for a train job's fallback_to_naive"),
				 errdetail("It moves production to a naive version trained in the same transaction as a version that does not beat the random walk."),
				 errhint("Deploy by hand with stockml.deploy().")));
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(2);
	values[2] = SPI_datumTransfer(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull),
								  false, -1);
	memset(nulls, ' ', sizeof(nulls));
	StockmlRestoreUser(&sw);
	SPI_finish();
	PG_RETURN_DATUM(MoveAsOwner("deploy models",
								"SELECT h FROM stockml._set_alias($1, $2, 'production', 'auto', $3, $4) h",
								4, (Oid[]) {TEXTOID, INT4OID, TEXTOID, TEXTOID}, values, nulls));
}

/*
 * stockml._lock_model_name(model_name): until the end of the transaction, no
 * other alias move, version numbering (train), version removal or monitor()
 * of that name runs.  A name with versions but no experiment row (which
 * train() always makes) gets one, so the lock always has a row; a name
 * without versions locks nothing (what the caller does next fails).
 */
Datum
stockml_lock_model_name(PG_FUNCTION_ARGS)
{
	Datum			   name;
	StockmlOwnerSwitch sw;

	StockmlRequireAdmin("change models");
	if (PG_ARGISNULL(0))
		PG_RETURN_VOID();
	name = PG_GETARG_DATUM(0);
	SPI_connect();
	StockmlBecomeOwner(&sw);
	for (int attempt = 0; attempt < 2; attempt++)
	{
		if (SPI_execute_with_args("SELECT FROM stockml.experiments e WHERE e.name OPERATOR(pg_catalog.=) $1"
								  " FOR NO KEY UPDATE",
								  1, (Oid[]) {TEXTOID}, &name, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not lock the model name");
		if (SPI_processed > 0 || attempt > 0)
			break;
		if (SPI_execute_with_args("INSERT INTO stockml.experiments (name)"
								  " SELECT $1 WHERE EXISTS (SELECT FROM stockml.models m"
								  " WHERE m.name OPERATOR(pg_catalog.=) $1)"
								  " ON CONFLICT (name) DO NOTHING",
								  1, (Oid[]) {TEXTOID}, &name, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not create the experiment of the model name");
	}
	StockmlRestoreUser(&sw);
	SPI_finish();
	PG_RETURN_VOID();
}
