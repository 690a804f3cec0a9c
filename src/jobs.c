/*
 * jobs.c — the job queue's SQL API and the state it shares with the workers.
 *
 * stockml.submit(kind, args) runs the kind's checker stockml.check_job_<kind>
 * (when it has one; the job runs it too), queues a row in stockml.jobs and,
 * once the submitting transaction commits, wakes the launcher through its
 * latch (src/worker.c); a WARNING says so when no worker serves this
 * database.  Running jobs live in shared-memory slots, one per job
 * worker, holding the worker's pid and the progress the job reports; that is
 * how progress and cancel reach a job whose own transaction has not
 * committed.  Without shared_preload_libraries there is no shared state:
 * jobs queue up and run once a preloaded server's worker sees them.
 */
#include "postgres.h"

#include <math.h>
#include <signal.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "parser/parse_func.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "jobs.h"
#include "roles.h"
#include "stockml.h"

PG_FUNCTION_INFO_V1(stockml_submit);
PG_FUNCTION_INFO_V1(stockml_cancel_job);
PG_FUNCTION_INFO_V1(stockml_running_jobs);
PG_FUNCTION_INFO_V1(stockml_report_job_progress);

StockmlJobsShared *StockmlJobs = NULL;
JobWorkerSlot	  *MyJobSlot = NULL;

char *stockml_database = NULL;
int	  stockml_max_workers = 2;
int	  stockml_worker_naptime_ms = 60000;
int	  stockml_job_retry_delay_ms = 10000;
int	  stockml_job_max_attempts = 3;

static int					   pending_wakeups = 0; /* jobs this transaction submitted */
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void JobsShmemRequest(void);
static void JobsShmemStartup(void);
static void JobsXactCallback(XactEvent event, void *arg);
static void ValidateKind(const char *kind);
static void CheckJobArgs(const char *kind, Datum args);
static void WarnIfNotServed(int64 id);

void
StockmlJobsInit(void)
{
	/*
	 * A PGC_POSTMASTER setting can only be defined while shared_preload_libraries
	 * loads (PostgreSQL raises FATAL otherwise): loaded later, by CREATE EXTENSION or
	 * a function call, stockml runs without its worker, stockml_database stays NULL,
	 * and submit() says so.
	 */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomStringVariable("stockml.database",
								   "Database whose stockml.jobs the background worker runs.",
								   "Needs stockml in shared_preload_libraries; the worker connects "
								   "only while there is work, so the database can be dropped.",
								   &stockml_database, "postgres",
								   PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("stockml.max_workers",
							"Jobs that may run at the same time, each in its own background worker.",
							"Each takes one of max_worker_processes.",
							&stockml_max_workers, 2, 1, STOCKML_MAX_JOB_WORKERS,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("stockml.worker_naptime",
							"How often the launcher looks at stockml.jobs without being woken.",
							"submit() wakes it at once; this only catches jobs queued some other way.",
							&stockml_worker_naptime_ms, 60000, 100, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("stockml.job_retry_delay",
							"Wait before the first retry of a failed job; doubles at each attempt.",
							NULL,
							&stockml_job_retry_delay_ms, 10000, 0, 86400000,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("stockml.job_max_attempts",
							"Attempts a job gets (first run included) before it is marked failed.",
							"Read by submit(); each job keeps the value it was submitted with.",
							&stockml_job_max_attempts, 3, 1, 100,
							PGC_USERSET, 0, NULL, NULL, NULL);

	RegisterXactCallback(JobsXactCallback, NULL);

	if (process_shared_preload_libraries_in_progress)
	{
		prev_shmem_request_hook = shmem_request_hook;
		shmem_request_hook = JobsShmemRequest;
		prev_shmem_startup_hook = shmem_startup_hook;
		shmem_startup_hook = JobsShmemStartup;
		StockmlRegisterLauncher();
	}
}

static void
JobsShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(StockmlJobsShared)));
}

static void
JobsShmemStartup(void)
{
	bool found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	StockmlJobs = ShmemInitStruct("stockml jobs", sizeof(StockmlJobsShared), &found);
	if (!found)
	{
		memset(StockmlJobs, 0, sizeof(StockmlJobsShared));
		SpinLockInit(&StockmlJobs->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Tell the launcher there is work (check: look even if nothing was submitted) */
void
StockmlWakeLauncher(bool check)
{
	Latch *latch;

	if (StockmlJobs == NULL)
		return;
	SpinLockAcquire(&StockmlJobs->mutex);
	if (check)
		StockmlJobs->check_requested = true;
	latch = StockmlJobs->launcher_latch;
	SpinLockRelease(&StockmlJobs->mutex);
	if (latch)
		SetLatch(latch);
}

/* Wake the launcher only once the jobs are visible, i.e. after commit */
static void
JobsXactCallback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT && pending_wakeups > 0 && StockmlJobs != NULL)
	{
		SpinLockAcquire(&StockmlJobs->mutex);
		StockmlJobs->wake_requests += pending_wakeups;
		SpinLockRelease(&StockmlJobs->mutex);
		StockmlWakeLauncher(false);
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
		pending_wakeups = 0;
}

void
StockmlReportJobProgress(double fraction)
{
	if (MyJobSlot == NULL || isnan(fraction))
		return;
	fraction = Max(0.0, Min(1.0, fraction));
	SpinLockAcquire(&StockmlJobs->mutex);
	MyJobSlot->progress = fraction;
	SpinLockRelease(&StockmlJobs->mutex);
}

int64
StockmlCurrentJobId(void)
{
	int64 id;

	if (MyJobSlot == NULL)
		return 0;
	SpinLockAcquire(&StockmlJobs->mutex);
	id = MyJobSlot->job_id;
	SpinLockRelease(&StockmlJobs->mutex);
	return id;
}

/* ERROR unless kind names an existing stockml.run_job_<kind>(bigint, jsonb) */
static void
ValidateKind(const char *kind)
{
	bool well_formed = strlen(kind) >= 1 && strlen(kind) <= 40 &&
					   kind[0] >= 'a' && kind[0] <= 'z';
	StringInfoData known;
	int			   rc;

	for (const char *p = kind; *p && well_formed; p++)
		well_formed = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
	if (well_formed)
	{
		List *names = list_make2(makeString("stockml"),
								 makeString(psprintf("run_job_%s", kind)));

		if (OidIsValid(LookupFuncName(names, 2, (Oid[]) {INT8OID, JSONBOID}, true)))
			return;
	}

	initStringInfo(&known);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute("SELECT string_agg(substr(p.proname, 9), ', ' ORDER BY p.proname)"
					 "  FROM pg_proc p"
					 " WHERE p.pronamespace = 'stockml'::regnamespace"
					 "   AND p.proname LIKE 'run\\_job\\_%'"
					 "   AND p.proargtypes = '20 3802'::oidvector",
					 true, 0);
	if (rc == SPI_OK_SELECT && SPI_processed == 1)
	{
		char *list = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		appendStringInfoString(&known, list ? list : "(none)");
	}
	SPI_finish();
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown job kind \"%s\"", kind),
			 errdetail("Known kinds: %s.", known.data),
			 errhint("A kind K exists when a function stockml.run_job_K(job_id bigint, args jsonb) does; submit() first runs its checker stockml.check_job_K(args jsonb) when there is one.")));
}

/*
 * Run the kind's checker stockml.check_job_<kind>(jsonb), when it has one, as
 * the caller: the job runs the same function before its work, so submit()
 * refuses (naming the bad key, symbol or parameter) what the job would.
 */
static void
CheckJobArgs(const char *kind, Datum args)
{
	List *names = list_make2(makeString("stockml"),
							 makeString(psprintf("check_job_%s", kind)));
	Oid	  checker = LookupFuncName(names, 1, (Oid[]) {JSONBOID}, true);

	if (OidIsValid(checker))
		(void) OidFunctionCall1(checker, args);
}

/*
 * WARNING when no worker will run the job: stockml is not preloaded, or its
 * worker serves another database (stockml.database).
 */
static void
WarnIfNotServed(int64 id)
{
	const char *here = get_database_name(MyDatabaseId);

	if (StockmlJobs == NULL)
		ereport(WARNING,
				(errmsg("job %lld queued, but no stockml worker runs in this server", (long long) id),
				 errdetail("stockml is not in shared_preload_libraries, so nothing runs stockml.jobs."),
				 errhint("Add stockml to shared_preload_libraries, set stockml.database = '%s' in postgresql.conf, and restart the server.",
						 here)));
	else if (stockml_database == NULL || strcmp(stockml_database, here) != 0)
		ereport(WARNING,
				(errmsg("job %lld queued in database \"%s\", but the stockml worker serves database \"%s\"",
						(long long) id, here, stockml_database ? stockml_database : ""),
				 errdetail("One worker serves the one database named by stockml.database; jobs queued elsewhere wait."),
				 errhint("Set stockml.database = '%s' in postgresql.conf and restart the server, or submit from database \"%s\".",
						 here, stockml_database ? stockml_database : "")));
}

/*
 * stockml.submit(kind text, args jsonb DEFAULT '{}') RETURNS bigint
 */
Datum
stockml_submit(PG_FUNCTION_ARGS)
{
	char			  *kind;
	Datum			   args;
	int64			   id;
	bool			   isnull;
	int				   rc;
	StockmlOwnerSwitch sw;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("job kind must not be NULL")));
	kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
	args = PG_ARGISNULL(1) ? DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")) :
							 PG_GETARG_DATUM(1);

	StockmlRequireAdmin("submit stockml jobs");
	ValidateKind(kind);
	CheckJobArgs(kind, args);

	/*
	 * A job runs as the role in submitted_by, so nobody but this function
	 * may write that column: stockml_admin may only read stockml.jobs, and
	 * the row is inserted as the extension's owner (restricted, search_path
	 * pinned: the caller's pg_temp cannot shadow the casts below).
	 */
	StockmlBecomeOwner(&sw);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args("INSERT INTO stockml.jobs (kind, args, max_attempts, submitted_by)"
							   " VALUES ($1, $2, $3, $4::pg_catalog.regrole) RETURNING id",
							   4, (Oid[]) {TEXTOID, JSONBOID, INT4OID, OIDOID},
							   (Datum[]) {CStringGetTextDatum(kind), args,
										  Int32GetDatum(stockml_job_max_attempts),
										  ObjectIdGetDatum(sw.save_userid)},
							   NULL, false, 1);
	if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "could not queue job: %s", SPI_result_code_string(rc));
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	StockmlRestoreUser(&sw);

	pending_wakeups++;
	WarnIfNotServed(id);
	PG_RETURN_INT64(id);
}

/*
 * stockml.cancel_job(id bigint) RETURNS boolean: a queued job is cancelled
 * at once; a running one gets a query cancel in its worker and is marked
 * cancelled (not retried).  False when the job had already finished.
 */
Datum
stockml_cancel_job(PG_FUNCTION_ARGS)
{
	int64			   id = PG_GETARG_INT64(0);
	char			  *status;
	Oid				   owner;
	bool			   isnull;
	int				   rc;
	pid_t			   pid = 0;
	StockmlOwnerSwitch sw;

	/*
	 * stockml.jobs is written only here and in submit(): see there.  The
	 * permission check comes before the row lock, so nobody can lock (or
	 * probe) jobs they may not cancel.
	 */
	StockmlBecomeOwner(&sw);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args("SELECT submitted_by::pg_catalog.oid FROM stockml.jobs WHERE id = $1",
							   1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(id)},
							   NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read stockml.jobs: %s", SPI_result_code_string(rc));
	owner = SPI_processed == 0 ? InvalidOid :
								 DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (!StockmlIsAdmin(sw.save_userid) &&
		(!OidIsValid(owner) || !has_privs_of_role(sw.save_userid, owner)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to cancel job %lld", (long long) id),
				 errdetail("Only its submitter, superusers and members of role \"%s\" may.",
						   STOCKML_ADMIN_ROLE)));
	rc = SPI_execute_with_args("SELECT status FROM stockml.jobs WHERE id = $1 FOR UPDATE",
							   1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(id)},
							   NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read stockml.jobs: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("job %lld does not exist", (long long) id),
				 errhint("See SELECT id, kind, status FROM stockml.jobs ORDER BY id DESC;")));
	status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

	if (strcmp(status, "queued") == 0)
	{
		rc = SPI_execute_with_args("UPDATE stockml.jobs SET status = 'cancelled', finished_at = now(),"
								   " error = 'cancelled by ' || $2 WHERE id = $1",
								   2, (Oid[]) {INT8OID, TEXTOID},
								   (Datum[]) {Int64GetDatum(id),
											  CStringGetTextDatum(GetUserNameFromId(sw.save_userid, false))},
								   NULL, false, 0);
		if (rc != SPI_OK_UPDATE)
			elog(ERROR, "could not cancel job: %s", SPI_result_code_string(rc));
		SPI_finish();
		StockmlRestoreUser(&sw);
		PG_RETURN_BOOL(true);
	}
	SPI_finish();
	StockmlRestoreUser(&sw);
	if (strcmp(status, "running") != 0)
	{
		ereport(NOTICE,
				(errmsg("job %lld has already finished (%s)", (long long) id, status)));
		PG_RETURN_BOOL(false);
	}

	if (StockmlJobs != NULL)
	{
		SpinLockAcquire(&StockmlJobs->mutex);
		for (int i = 0; i < STOCKML_MAX_JOB_WORKERS; i++)
		{
			JobWorkerSlot *slot = &StockmlJobs->slots[i];

			if (slot->in_use && slot->job_id == id && slot->pid != 0)
			{
				slot->cancel_requested = true;
				pid = slot->pid;
			}
		}
		SpinLockRelease(&StockmlJobs->mutex);
	}
	if (pid == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("job %lld is marked running but no worker of this server runs it",
						(long long) id),
				 errhint("Its worker stopped; the next worker will retry or fail it.  Try again in a moment.")));
	/*
	 * Signalled after the spinlock is released, the worker may be on its
	 * next job by now: its SIGINT handler acts only while cancel_requested,
	 * which the worker resets whenever it takes a new job.
	 */
	if (kill(pid, SIGINT) != 0)
		ereport(WARNING,
				(errmsg("could not signal job worker %d: %m", (int) pid)));
	PG_RETURN_BOOL(true);
}

/*
 * stockml.running_jobs() RETURNS TABLE (job_id, pid, progress, started_at):
 * the jobs the workers of this server are running now, from shared memory.
 */
Datum
stockml_running_jobs(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	if (StockmlJobs == NULL)
		return (Datum) 0;
	for (int i = 0; i < STOCKML_MAX_JOB_WORKERS; i++)
	{
		JobWorkerSlot copy;
		Datum		  values[4];
		bool		  nulls[4] = {false, false, false, false};

		SpinLockAcquire(&StockmlJobs->mutex);
		copy = StockmlJobs->slots[i];
		SpinLockRelease(&StockmlJobs->mutex);
		if (!copy.in_use || copy.job_id == 0)
			continue;
		values[0] = Int64GetDatum(copy.job_id);
		values[1] = Int32GetDatum((int32) copy.pid);
		values[2] = Float8GetDatum(copy.progress);
		values[3] = TimestampTzGetDatum(copy.started_at);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * stockml.report_job_progress(fraction float8) RETURNS void: the SQL face of
 * StockmlReportJobProgress, for job kinds written in SQL or PL/pgSQL.
 */
Datum
stockml_report_job_progress(PG_FUNCTION_ARGS)
{
	if (!PG_ARGISNULL(0))
		StockmlReportJobProgress(PG_GETARG_FLOAT8(0));
	PG_RETURN_VOID();
}
