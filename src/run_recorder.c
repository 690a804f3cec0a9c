/*
 * run_recorder.c — writes a failed training run in a transaction of its own.
 *
 * train() does its work in a subtransaction; when that fails, everything it
 * wrote is rolled back and the ERROR must still reach the caller, whose
 * transaction then aborts too.  So the failed run is handed, through a
 * dynamic shared memory segment, to a short-lived background worker that
 * connects to the same database as the owner of stockml.runs, inserts the
 * run (with the id train() drew) and commits; train() waits for it and re-raises the
 * ERROR.  The worker's statements run with a lock timeout, so a caller that
 * holds conflicting locks cannot deadlock with it: the run is then reported
 * as not recorded, in a WARNING.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "roles.h"
#include "train.h"

#define RECORDER_MAX_ERROR 8000

typedef struct RecorderShared
{
	Oid			dboid;
	Oid			userid;
	int64		run_id;
	int			horizon;
	bool		has_train_end;
	DateADT		train_end;
	TimestampTz started_at;
	bool		done; /* set by the worker after its commit */
	/* NUL-terminated strings in data[], at these offsets */
	Size model_name;
	Size algorithm;
	Size symbols; /* a text[] literal */
	Size feature_set;
	Size params;
	Size error;
	char data[FLEXIBLE_ARRAY_MEMBER];
} RecorderShared;

static char *SymbolsLiteral(const FailedRun *run);
static Oid	 RunsOwner(void);

/*
 * The worker writes as the owner of stockml.runs: the caller may be a role
 * that cannot log in (a background worker must) or, in a job, a submitter
 * the job runs as; the row written is bookkeeping, parameterised, no more.
 */
static Oid
RunsOwner(void)
{
	Oid		  relid = get_relname_relid("runs", get_namespace_oid("stockml", false));
	HeapTuple tup;
	Oid		  owner;

	if (!OidIsValid(relid))
		return GetUserId();
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		return GetUserId();
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/* A text[] literal; symbols passed ValidateSymbol, so quoting each is enough */
static char *
SymbolsLiteral(const FailedRun *run)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < run->nsymbols; i++)
		appendStringInfo(&buf, "%s\"%s\"", i > 0 ? "," : "", run->symbols[i]);
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

void
RecordFailedRun(const FailedRun *run)
{
	const char			   *strings[6];
	Size					offsets[6];
	Size					size = offsetof(RecorderShared, data);
	char				   *error = pnstrdup(run->error ? run->error : "unknown error", RECORDER_MAX_ERROR);
	dsm_segment			   *seg;
	RecorderShared		   *sh;
	BackgroundWorker		worker;
	BackgroundWorkerHandle *handle;

	strings[0] = run->model_name;
	strings[1] = run->algorithm;
	strings[2] = SymbolsLiteral(run);
	strings[3] = run->feature_set;
	strings[4] = run->params;
	strings[5] = error;
	for (int i = 0; i < 6; i++)
	{
		offsets[i] = size - offsetof(RecorderShared, data);
		size = add_size(size, strlen(strings[i]) + 1);
	}

	seg = dsm_create(size, 0);
	sh = dsm_segment_address(seg);
	sh->dboid = MyDatabaseId;
	sh->userid = RunsOwner();
	sh->run_id = run->run_id;
	sh->horizon = run->horizon;
	sh->has_train_end = run->has_train_end;
	sh->train_end = run->train_end;
	sh->started_at = run->started_at;
	sh->done = false;
	for (int i = 0; i < 6; i++)
		strlcpy(sh->data + offsets[i], strings[i], size - offsetof(RecorderShared, data) - offsets[i]);
	sh->model_name = offsets[0];
	sh->algorithm = offsets[1];
	sh->symbols = offsets[2];
	sh->feature_set = offsets[3];
	sh->params = offsets[4];
	sh->error = offsets[5];

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "stockml");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "StockmlRunRecorderMain");
	snprintf(worker.bgw_name, BGW_MAXLEN, "stockml run recorder");
	snprintf(worker.bgw_type, BGW_MAXLEN, "stockml run recorder");
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(WARNING,
				(errmsg("failed run " INT64_FORMAT " of model \"%s\" was not recorded: no background worker slot is free",
						run->run_id, run->model_name),
				 errhint("Raise max_worker_processes.")));
	else
	{
		WaitForBackgroundWorkerShutdown(handle);
		if (!sh->done)
			ereport(WARNING,
					(errmsg("failed run " INT64_FORMAT " of model \"%s\" was not recorded",
							run->run_id, run->model_name),
					 errhint("The server log says why.")));
	}
	dsm_detach(seg);
}

void
StockmlRunRecorderMain(Datum main_arg)
{
	dsm_segment	   *seg;
	RecorderShared *sh;
	Datum			args[11];
	Oid				types[11] = {TEXTOID, INT8OID, TEXTOID, TEXTOID, INT4OID, TEXTOID, DATEOID,
								 TEXTOID, TIMESTAMPTZOID, TEXTOID, TIMESTAMPTZOID};
	int				rc;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	seg = dsm_attach(DatumGetUInt32(main_arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("stockml run recorder: could not attach to its shared memory")));
	sh = dsm_segment_address(seg);
	BackgroundWorkerInitializeConnectionByOid(sh->dboid, sh->userid, 0);
	/* before any SQL: the runs' owner may be a superuser */
	StockmlPinSearchPath();

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "recording a failed stockml run");

	SPI_execute("SET LOCAL lock_timeout = '10s'", false, 0);
	args[0] = CStringGetTextDatum(sh->data + sh->model_name);
	rc = SPI_execute_with_args("INSERT INTO stockml.experiments (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
							   1, types, args, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not create the experiment: %s", SPI_result_code_string(rc));
	args[1] = Int64GetDatum(sh->run_id);
	args[2] = CStringGetTextDatum(sh->data + sh->algorithm);
	args[3] = CStringGetTextDatum(sh->data + sh->symbols);
	args[4] = Int32GetDatum(sh->horizon);
	args[5] = CStringGetTextDatum(sh->data + sh->feature_set);
	args[6] = DateADTGetDatum(sh->train_end);
	args[7] = CStringGetTextDatum(sh->data + sh->params);
	args[8] = TimestampTzGetDatum(sh->started_at);
	args[9] = CStringGetTextDatum(sh->data + sh->error);
	/* the time as a parameter: Citus refuses volatile functions in writes of a reference table */
	args[10] = TimestampTzGetDatum(GetCurrentTimestamp());
	rc = SPI_execute_with_args("INSERT INTO stockml.runs (id, experiment_id, model_name, algorithm, symbols,"
							   " horizon, feature_set, train_end, params, status, started_at, finished_at, error)"
							   " SELECT $2, e.id, $1, $3, $4::pg_catalog.text[], $5, $6, $7, $8::pg_catalog.jsonb, 'failed', $9,"
							   " $11, $10 FROM stockml.experiments e WHERE e.name = $1",
							   11, types, args, sh->has_train_end ? NULL : "      n    ", false, 0);
	if (rc != SPI_OK_INSERT || SPI_processed != 1)
		elog(ERROR, "could not record the failed run: %s", SPI_result_code_string(rc));

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	sh->done = true;
	dsm_detach(seg);
	proc_exit(0);
}
