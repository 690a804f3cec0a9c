/*
 * worker.c — the background workers that run stockml.jobs, after pg_cron's
 * PgCronLauncherMain.
 *
 * The launcher (one, registered when stockml is preloaded) connects to no
 * database: it sleeps on its latch, and when submit() wakes it, a worker
 * stops without saying it left nothing behind, a retry falls due or
 * stockml.worker_naptime passes, it starts job workers (dynamic background
 * workers, up to stockml.max_workers) connected to stockml.database.  A job
 * worker first requeues jobs whose worker died (crash, restart,
 * pg_terminate_backend), then claims queued jobs one at a time with FOR
 * UPDATE SKIP LOCKED and runs each in its own transaction, as the role that
 * submitted it, until none is due; then it exits.  So nothing holds a
 * connection to the database while the queue is idle, and DROP DATABASE
 * works (pg_regress drops and recreates its database).
 *
 * A running job names its worker by pid and backend start time
 * (jobs.worker_pid, worker_started_at): a job that is 'running' while no
 * backend with that pid and start time exists has lost its worker, whatever
 * pids have been reused since.  No lock any other role could take (advisory
 * locks are anyone's) is held across a job, so nobody can stall the queue.
 *
 * Each attempt gets its row in stockml.job_attempts when it is claimed, and
 * its end (done, failed, cancelled, or interrupted when the requeue finds
 * its worker gone) with its error in the same transaction that records the
 * job's.
 *
 * A job worker that stops with an error (it could not claim or record a
 * job) is started again after a backoff that doubles up to a minute, so a
 * broken queue costs a log line every minute, not thousands.
 */
#include "postgres.h"

#include <math.h>
#include <signal.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "jobs.h"
#include "roles.h"
#include "stockml.h"

PGDLLEXPORT void StockmlLauncherMain(Datum main_arg);
PGDLLEXPORT void StockmlJobWorkerMain(Datum main_arg);

typedef struct ClaimedJob
{
	int64 id;
	char *kind;
	char *args;
	Oid	  owner;
	int	  attempts;
	int	  max_attempts;
} ClaimedJob;

static BackgroundWorkerHandle *worker_handles[STOCKML_MAX_JOB_WORKERS];
static volatile sig_atomic_t   job_running = false;

/* launcher: job workers that stopped with an error in a row, and the backoff */
#define WORKER_BACKOFF_FIRST_MS 250
#define WORKER_BACKOFF_MAX_MS 60000
static int		   worker_failures = 0;
static TimestampTz restart_not_before = 0;

static void	  LauncherShmemExit(int code, Datum arg);
static Oid	  FindDatabase(const char *name);
static bool	  StartJobWorker(Oid dboid);
static int	  ReapJobWorkers(bool *need_check);
static void	  JobWorkerSigint(SIGNAL_ARGS);
static bool	  ExtensionReady(void);
static void	  NoteWorkerExit(bool clean);
static void	  RequeueInterruptedJobs(void);
static void	  RecordInterruptedRun(int64 job_id, Datum args, Datum started_at, Datum error);
static bool	  ClaimJob(ClaimedJob *job, MemoryContext cxt);
static bool	  JobCancelRequested(void);
static void	  RunJob(ClaimedJob *job, MemoryContext cxt);
static void	  RecordOutcome(ClaimedJob *job, const char *result, const char *error,
							bool cancelled, bool final);
static void	  ReportNextDue(void);
static double RetryDelayMs(int attempts);

void
StockmlRegisterLauncher(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	strlcpy(worker.bgw_library_name, "stockml", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "StockmlLauncherMain", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "stockml launcher", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "stockml launcher", BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
}

/* Exponential backoff with +-25% jitter, capped at an hour */
static double
RetryDelayMs(int attempts)
{
	double delay = stockml_job_retry_delay_ms * pow(2.0, Max(attempts - 1, 0));

	delay = Min(delay, 3600000.0);
	return delay * (0.75 + 0.5 * pg_prng_double(&pg_global_prng_state));
}

static void
LauncherShmemExit(int code, Datum arg)
{
	SpinLockAcquire(&StockmlJobs->mutex);
	StockmlJobs->launcher_latch = NULL;
	StockmlJobs->launcher_pid = 0;
	SpinLockRelease(&StockmlJobs->mutex);
}

/* OID of a database that accepts connections, from the shared catalog */
static Oid
FindDatabase(const char *name)
{
	Relation	  rel;
	TableScanDesc scan;
	HeapTuple	  tup;
	Oid			  result = InvalidOid;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (strcmp(NameStr(db->datname), name) == 0 && db->datallowconn &&
			db->datconnlimit != -2)
		{
			result = db->oid;
			break;
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return result;
}

static bool
StartJobWorker(Oid dboid)
{
	BackgroundWorker worker;
	int				 slot = -1;

	SpinLockAcquire(&StockmlJobs->mutex);
	for (int i = 0; i < STOCKML_MAX_JOB_WORKERS && slot < 0; i++)
		if (worker_handles[i] == NULL && !StockmlJobs->slots[i].in_use)
			slot = i;
	SpinLockRelease(&StockmlJobs->mutex);
	if (slot < 0)
		return false;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "stockml", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "StockmlJobWorkerMain", BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, "stockml job worker %d", slot);
	strlcpy(worker.bgw_type, "stockml job worker", BGW_MAXLEN);
	worker.bgw_main_arg = Int32GetDatum(slot);
	memcpy(worker.bgw_extra, &dboid, sizeof(Oid));
	worker.bgw_notify_pid = MyProcPid;

	SpinLockAcquire(&StockmlJobs->mutex);
	memset(&StockmlJobs->slots[slot], 0, sizeof(JobWorkerSlot));
	StockmlJobs->slots[slot].in_use = true;
	SpinLockRelease(&StockmlJobs->mutex);

	if (!RegisterDynamicBackgroundWorker(&worker, &worker_handles[slot]))
	{
		SpinLockAcquire(&StockmlJobs->mutex);
		StockmlJobs->slots[slot].in_use = false;
		SpinLockRelease(&StockmlJobs->mutex);
		worker_handles[slot] = NULL;
		ereport(WARNING,
				(errmsg("stockml launcher could not start a job worker"),
				 errhint("Raise max_worker_processes (stockml.max_workers = %d needs that many free).",
						 stockml_max_workers)));
		return false;
	}
	return true;
}

/*
 * Free the slots of stopped workers; returns how many still run.  A worker
 * that stopped without saying it left nothing behind (killed, crashed)
 * means a job may be stranded in 'running': ask for a check.
 */
static int
ReapJobWorkers(bool *need_check)
{
	int running = 0;

	for (int i = 0; i < STOCKML_MAX_JOB_WORKERS; i++)
	{
		pid_t pid;
		bool  clean;

		if (worker_handles[i] == NULL)
		{
			/*
			 * A slot taken by a worker of an earlier launcher (this one
			 * restarted after an error): free it once that worker is gone.
			 */
			bool in_use;
			bool orphan_gone;

			SpinLockAcquire(&StockmlJobs->mutex);
			in_use = StockmlJobs->slots[i].in_use;
			pid = StockmlJobs->slots[i].pid;
			SpinLockRelease(&StockmlJobs->mutex);
			if (!in_use)
				continue;
			orphan_gone = pid == 0 || (kill(pid, 0) != 0 && errno == ESRCH);
			if (!orphan_gone)
			{
				running++;
				continue;
			}
			SpinLockAcquire(&StockmlJobs->mutex);
			StockmlJobs->slots[i].in_use = false;
			SpinLockRelease(&StockmlJobs->mutex);
			*need_check = true;
			continue;
		}
		if (GetBackgroundWorkerPid(worker_handles[i], &pid) != BGWH_STOPPED)
		{
			running++;
			continue;
		}
		SpinLockAcquire(&StockmlJobs->mutex);
		clean = StockmlJobs->slots[i].clean_exit;
		StockmlJobs->slots[i].in_use = false;
		StockmlJobs->slots[i].job_id = 0;
		SpinLockRelease(&StockmlJobs->mutex);
		pfree(worker_handles[i]);
		worker_handles[i] = NULL;
		if (!clean)
			*need_check = true;
		NoteWorkerExit(clean);
	}
	return running;
}

/* Count job workers that failed in a row; from the second on, back off */
static void
NoteWorkerExit(bool clean)
{
	double delay_ms;

	if (clean)
	{
		worker_failures = 0;
		restart_not_before = 0;
		return;
	}
	worker_failures++;
	if (worker_failures < 2)
		return; /* a killed worker's job is retried at once */
	delay_ms = Min(WORKER_BACKOFF_FIRST_MS * pow(2.0, Min(worker_failures - 2, 20)),
				   (double) WORKER_BACKOFF_MAX_MS);
	restart_not_before = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), (int64) delay_ms);
	ereport(LOG,
			(errmsg("stockml job worker stopped with an error %d times in a row; next start in %.0f ms",
					worker_failures, delay_ms)));
}

void
StockmlLauncherMain(Datum main_arg)
{
	bool		need_check = true; /* jobs may have been stranded by a restart */
	TimestampTz next_poll;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* no database: only the shared catalog pg_database is read */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("stockml launcher");

	SpinLockAcquire(&StockmlJobs->mutex);
	StockmlJobs->launcher_pid = MyProcPid;
	StockmlJobs->launcher_latch = MyLatch;
	SpinLockRelease(&StockmlJobs->mutex);
	on_shmem_exit(LauncherShmemExit, (Datum) 0);

	ereport(LOG,
			(errmsg("stockml launcher started for database \"%s\"", stockml_database)));
	next_poll = GetCurrentTimestamp();

	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		TimestampTz next_due;
		int			wanted;
		int			running;
		long		sleep_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		running = ReapJobWorkers(&need_check);

		SpinLockAcquire(&StockmlJobs->mutex);
		wanted = StockmlJobs->wake_requests;
		StockmlJobs->wake_requests = 0;
		if (StockmlJobs->check_requested)
			need_check = true;
		StockmlJobs->check_requested = false;
		next_due = StockmlJobs->next_due;
		if (next_due != 0 && next_due <= now)
		{
			need_check = true;
			StockmlJobs->next_due = 0;
			next_due = 0;
		}
		SpinLockRelease(&StockmlJobs->mutex);

		if (now >= next_poll)
		{
			need_check = true;
			next_poll = TimestampTzPlusMilliseconds(now, stockml_worker_naptime_ms);
		}
		if (need_check)
			wanted = Max(wanted, 1);
		need_check = false;
		/*
		 * After a failure, one worker at a time, once the backoff is over: a
		 * second one would find the job the first holds locked, exit cleanly
		 * and so end the backoff.
		 */
		if (wanted > 0 && (restart_not_before > now || (worker_failures > 0 && running > 0)))
		{
			need_check = true;
			wanted = 0;
		}
		else if (wanted > 0 && worker_failures > 0)
			wanted = 1;
		if (wanted > 0)
		{
			int room = stockml_max_workers - running;
			int started = 0;
			Oid dboid = room > 0 ? FindDatabase(stockml_database) : InvalidOid;

			/* a missing database is no error: it may be created later */
			while (OidIsValid(dboid) && started < Min(wanted, room) && StartJobWorker(dboid))
				started++;
			/*
			 * Jobs nobody could be started for wait for a running worker,
			 * which claims jobs until none is due, or for the next one to
			 * stop, which sets our latch.
			 */
			need_check = started < wanted && running + started > 0;
		}

		sleep_ms = Max(TimestampDifferenceMilliseconds(GetCurrentTimestamp(), next_poll), 1);
		if (next_due != 0)
			sleep_ms = Min(sleep_ms, Max(TimestampDifferenceMilliseconds(GetCurrentTimestamp(), next_due), 1));
		if (restart_not_before > GetCurrentTimestamp())
			sleep_ms = Min(sleep_ms, Max(TimestampDifferenceMilliseconds(GetCurrentTimestamp(), restart_not_before), 1));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 sleep_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * Cancel only the job, never the worker's own bookkeeping, and only when
 * cancel_job() asked for the job running now: its SIGINT may arrive after
 * this worker moved on to the next job, which resets cancel_requested (a
 * bool, so reading it here without the spinlock is safe).
 */
static void
JobWorkerSigint(SIGNAL_ARGS)
{
	int save_errno = errno;

	if (job_running && MyJobSlot != NULL && MyJobSlot->cancel_requested)
	{
		QueryCancelPending = true;
		InterruptPending = true;
	}
	SetLatch(MyLatch);
	errno = save_errno;
}

static bool
ExtensionReady(void)
{
	bool ready;

	StartTransactionCommand();
	ready = OidIsValid(get_extension_oid("stockml", true));
	CommitTransactionCommand();
	return ready;
}

/*
 * Jobs 'running' whose worker is gone (no backend has its pid and start
 * time) are queued again with the retry backoff, or failed after their last
 * attempt.  An interrupted train job also gets its failed run: train()'s own
 * was rolled back with the worker's transaction.
 */
static void
RequeueInterruptedJobs(void)
{
	int	   rc;
	uint64 n;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "stockml: requeue interrupted jobs");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args(
		"WITH lost AS ("
		"  SELECT j.id FROM stockml.jobs j"
		"   WHERE j.status = 'running'"
		"     AND NOT EXISTS (SELECT FROM pg_catalog.pg_stat_get_activity(coalesce(j.worker_pid, 0)) a"
		"                      WHERE a.pid = j.worker_pid AND a.backend_start = j.worker_started_at)"
		"   FOR UPDATE OF j SKIP LOCKED),"
		" requeued AS ("
		" UPDATE stockml.jobs j"
		"   SET status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,"
		"       finished_at = CASE WHEN attempts >= max_attempts THEN pg_catalog.now() END,"
		"       run_after = pg_catalog.now() + pg_catalog.make_interval(secs => $1::pg_catalog.float8 / 1000"
		"                   * 2 ^ greatest(attempts - 1, 0) * (0.75 + 0.5 * pg_catalog.random())),"
		"       worker_pid = NULL, worker_started_at = NULL,"
		"       error = pg_catalog.format('interrupted: the worker running attempt %s of %s stopped"
		" (server crash or restart, or pg_terminate_backend)', attempts, max_attempts)"
		"  FROM lost WHERE j.id = lost.id"
		" RETURNING j.id, j.kind, j.args, j.started_at, j.error, j.attempts),"
		" attempt AS ("
		" UPDATE stockml.job_attempts a"
		"   SET status = 'interrupted', finished_at = pg_catalog.now(), error = r.error"
		"  FROM requeued r WHERE a.job_id = r.id AND a.attempt = r.attempts AND a.finished_at IS NULL)"
		" SELECT id, kind, args, started_at, error FROM requeued",
		1, (Oid[]) {INT4OID},
		(Datum[]) {Int32GetDatum(stockml_job_retry_delay_ms)},
		NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not requeue interrupted jobs: %s", SPI_result_code_string(rc));
	n = SPI_processed;
	if (n > 0)
		ereport(LOG,
				(errmsg("stockml: %llu interrupted job(s) requeued or failed",
						(unsigned long long) n)));
	for (uint64 i = 0; i < n; i++)
	{
		SPITupleTable *tt = SPI_tuptable;
		HeapTuple	   tup = tt->vals[i];
		char		  *kind = SPI_getvalue(tup, tt->tupdesc, 2);
		bool		   isnull;

		if (strcmp(kind, "train") == 0)
			RecordInterruptedRun(DatumGetInt64(SPI_getbinval(tup, tt->tupdesc, 1, &isnull)),
								 SPI_getbinval(tup, tt->tupdesc, 3, &isnull),
								 SPI_getbinval(tup, tt->tupdesc, 4, &isnull),
								 SPI_getbinval(tup, tt->tupdesc, 5, &isnull));
		/* the loop's own statements replace SPI_tuptable */
		SPI_tuptable = tt;
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * The failed run of a train job whose worker died: from the job's args, as
 * train() would have written it.  In a subtransaction, so args train() would
 * have refused cost a LOG line, not the requeue.
 */
static void
RecordInterruptedRun(int64 job_id, Datum args, Datum started_at, Datum error)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	BeginInternalSubTransaction(NULL);
	PG_TRY();
	{
		int rc;

		rc = SPI_execute_with_args(
			"WITH e AS ("
			"  INSERT INTO stockml.experiments (name) VALUES ($1 ->> 'model_name')"
			"  ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id, name)"
			" INSERT INTO stockml.runs (experiment_id, model_name, algorithm, symbols, horizon,"
			"   feature_set, train_end, params, status, started_at, finished_at, error)"
			" SELECT e.id, e.name, coalesce($1 ->> 'algorithm', 'ridge'),"
			"   ARRAY(SELECT pg_catalog.jsonb_array_elements_text($1 -> 'symbols')),"
			"   coalesce(($1 ->> 'horizon')::pg_catalog.int4, 1),"
			"   coalesce($1 ->> 'feature_set', 'default'), ($1 ->> 'train_end')::pg_catalog.date,"
			"   coalesce($1 -> 'params', '{}'), 'failed', $2, pg_catalog.now(), $3 FROM e",
			3, (Oid[]) {JSONBOID, TIMESTAMPTZOID, TEXTOID},
			(Datum[]) {args, started_at, error}, NULL, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "could not insert the run: %s", SPI_result_code_string(rc));
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData *edata = StockmlAbortSubTransaction(cxt, owner);

		ereport(LOG,
				(errmsg("stockml: no failed run recorded for interrupted train job %lld: %s",
						(long long) job_id, edata->message)));
	}
	PG_END_TRY();
}

/* Claim the next due job, naming this worker in its row; false if none */
static bool
ClaimJob(ClaimedJob *job, MemoryContext cxt)
{
	bool found = false;
	int	 rc;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "stockml: claim a job");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args(
		"WITH next AS ("
		"  SELECT id FROM stockml.jobs"
		"   WHERE status = 'queued' AND run_after <= pg_catalog.clock_timestamp()"
		"   ORDER BY run_after, id LIMIT 1 FOR UPDATE SKIP LOCKED),"
		" claimed AS ("
		" UPDATE stockml.jobs j"
		"    SET status = 'running', attempts = attempts + 1, started_at = pg_catalog.now(),"
		"        finished_at = NULL, worker_pid = pg_catalog.pg_backend_pid(),"
		"        worker_started_at = $1, progress = 0"
		"   FROM next WHERE j.id = next.id"
		" RETURNING j.id, j.kind, j.args::pg_catalog.text AS args, j.submitted_by::pg_catalog.oid AS owner,"
		"           j.attempts, j.max_attempts),"
		" attempt AS ("
		" INSERT INTO stockml.job_attempts (job_id, attempt, started_at, worker_pid)"
		" SELECT id, attempts, pg_catalog.now(), pg_catalog.pg_backend_pid() FROM claimed"
		" ON CONFLICT ON CONSTRAINT job_attempts_job_attempt DO UPDATE"
		"   SET status = 'running', started_at = excluded.started_at, finished_at = NULL,"
		"       worker_pid = excluded.worker_pid, error = NULL)"
		" SELECT id, kind, args, owner, attempts, max_attempts FROM claimed",
		1, (Oid[]) {TIMESTAMPTZOID}, (Datum[]) {TimestampTzGetDatum(MyStartTimestamp)},
		NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not claim a job: %s", SPI_result_code_string(rc));
	if (SPI_processed == 1)
	{
		HeapTuple	  tup = SPI_tuptable->vals[0];
		TupleDesc	  desc = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(cxt);
		bool		  isnull;

		job->id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		job->kind = SPI_getvalue(tup, desc, 2);
		job->args = SPI_getvalue(tup, desc, 3);
		job->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));
		job->attempts = DatumGetInt32(SPI_getbinval(tup, desc, 5, &isnull));
		job->max_attempts = DatumGetInt32(SPI_getbinval(tup, desc, 6, &isnull));
		MemoryContextSwitchTo(old);
		found = true;
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	return found;
}

/* Has cancel_job() asked for the job this worker runs? */
static bool
JobCancelRequested(void)
{
	bool requested;

	SpinLockAcquire(&StockmlJobs->mutex);
	requested = MyJobSlot->cancel_requested;
	SpinLockRelease(&StockmlJobs->mutex);
	return requested;
}

/* Run stockml.run_job_<kind>(id, args) in its own transaction, as the submitter */
static void
RunJob(ClaimedJob *job, MemoryContext cxt)
{
	char *volatile result = NULL;
	char *volatile error = NULL;
	volatile bool cancelled = false;
	volatile bool final = false;
	Oid			  save_userid;
	int			  save_sec_context;
	int			  save_nestlevel;

	SpinLockAcquire(&StockmlJobs->mutex);
	MyJobSlot->job_id = job->id;
	MyJobSlot->progress = 0;
	MyJobSlot->started_at = GetCurrentTimestamp();
	MyJobSlot->cancel_requested = false;
	SpinLockRelease(&StockmlJobs->mutex);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, psprintf("stockml job %lld: %s", (long long) job->id, job->kind));
	GetUserIdAndSecContext(&save_userid, &save_sec_context);

	PG_TRY();
	{
		char *sql;
		int	  rc;

		/* DROP ROLE does not see jobs.submitted_by: no retry will find it either */
		if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(job->owner)))
		{
			final = true;
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("the role that submitted job %lld (OID %u) no longer exists",
							(long long) job->id, job->owner),
					 errhint("Submit the job again as an existing role.")));
		}
		SetUserIdAndSecContext(job->owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
		/* whatever the job SETs, even without LOCAL, ends with it */
		save_nestlevel = NewGUCNestLevel();
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		sql = psprintf("SELECT stockml.%s($1, $2::pg_catalog.jsonb)::pg_catalog.text",
					   quote_identifier(psprintf("run_job_%s", job->kind)));
		job_running = true;
		/* a cancel since job_id was published found job_running false */
		if (JobCancelRequested())
		{
			QueryCancelPending = true;
			InterruptPending = true;
		}
		CHECK_FOR_INTERRUPTS();
		rc = SPI_execute_with_args(sql, 2, (Oid[]) {INT8OID, TEXTOID},
								   (Datum[]) {Int64GetDatum(job->id), CStringGetTextDatum(job->args)},
								   NULL, false, 0);
		job_running = false;

		/*
		 * A cancel that landed after the job's last interrupt check: left
		 * pending, it would fire in RecordOutcome, outside any PG_TRY, and
		 * kill the worker with the job's work committed but its row still
		 * 'running' (so it would run again).  Nothing is committed yet, so
		 * honour it here.
		 */
		QueryCancelPending = false;
		if (JobCancelRequested())
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg("canceling statement due to user request")));
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "job function failed: %s", SPI_result_code_string(rc));
		if (SPI_processed == 1)
		{
			char *value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

			if (value)
				result = MemoryContextStrdup(cxt, value);
		}
		SPI_finish();
		AtEOXact_GUC(false, save_nestlevel);
		SetUserIdAndSecContext(save_userid, save_sec_context);
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData *edata;

		job_running = false;
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		/* aborting restores the user id, the security context and the settings */
		AbortCurrentTransaction();
		QueryCancelPending = false;
		error = edata->detail ? psprintf("%s (%s)", edata->message, edata->detail) :
								pstrdup(edata->message);
		cancelled = JobCancelRequested();
	}
	PG_END_TRY();

	/* a cancel arriving now is for a finished job: it must not kill the worker */
	HOLD_CANCEL_INTERRUPTS();
	RecordOutcome(job, result, error, cancelled, final);
	RESUME_CANCEL_INTERRUPTS();

	SpinLockAcquire(&StockmlJobs->mutex);
	MyJobSlot->job_id = 0;
	MyJobSlot->cancel_requested = false;
	SpinLockRelease(&StockmlJobs->mutex);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* done, cancelled, queued again after a backoff, or failed for good */
static void
RecordOutcome(ClaimedJob *job, const char *result, const char *error, bool cancelled,
			  bool final)
{
	const char *status;
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	int			rc;

	if (error == NULL)
		status = "done";
	else if (cancelled)
		status = "cancelled";
	else if (job->attempts < job->max_attempts && !final)
		status = "queued";
	else
		status = "failed";
	if (error)
		ereport(LOG,
				(errmsg("stockml job %lld (%s) attempt %d of %d: %s", (long long) job->id,
						job->kind, job->attempts, job->max_attempts, error)));

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = Int64GetDatum(job->id);
	values[1] = CStringGetTextDatum(status);
	values[2] = result ? CStringGetTextDatum(result) : (Datum) 0;
	nulls[2] = result ? ' ' : 'n';
	values[3] = error ? CStringGetTextDatum(error) : (Datum) 0;
	nulls[3] = error ? ' ' : 'n';
	values[4] = Float8GetDatum(RetryDelayMs(job->attempts) / 1000.0);
	values[5] = Int32GetDatum(job->attempts);
	rc = SPI_execute_with_args("WITH attempt AS ("
							   " UPDATE stockml.job_attempts"
							   "    SET status = CASE $2 WHEN 'queued' THEN 'failed' ELSE $2 END,"
							   "        finished_at = pg_catalog.now(), error = $4"
							   "  WHERE job_id = $1 AND attempt = $6)"
							   " UPDATE stockml.jobs"
							   "   SET status = $2, result = $3, error = coalesce($4, error),"
							   "       worker_pid = NULL, worker_started_at = NULL,"
							   "       progress = CASE WHEN $2 = 'done' THEN 1 ELSE progress END,"
							   "       finished_at = CASE WHEN $2 = 'queued' THEN NULL ELSE pg_catalog.now() END,"
							   "       run_after = CASE WHEN $2 = 'queued'"
							   "                   THEN pg_catalog.now() + pg_catalog.make_interval(secs => $5) ELSE run_after END"
							   " WHERE id = $1",
							   6, (Oid[]) {INT8OID, TEXTOID, TEXTOID, TEXTOID, FLOAT8OID, INT4OID},
							   values, nulls, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not record job outcome: %s", SPI_result_code_string(rc));
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/* Tell the launcher when the earliest queued job falls due */
static void
ReportNextDue(void)
{
	TimestampTz due = 0;
	bool		isnull = true;
	int			rc;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute("SELECT pg_catalog.min(run_after) FROM stockml.jobs WHERE status = 'queued'", true, 1);
	if (rc == SPI_OK_SELECT && SPI_processed == 1)
		due = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
												1, &isnull));
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	if (isnull)
		return;
	SpinLockAcquire(&StockmlJobs->mutex);
	if (StockmlJobs->next_due == 0 || due < StockmlJobs->next_due)
		StockmlJobs->next_due = due;
	SpinLockRelease(&StockmlJobs->mutex);
}

void
StockmlJobWorkerMain(Datum main_arg)
{
	int			  slot = DatumGetInt32(main_arg);
	Oid			  dboid;
	MemoryContext job_cxt;

	memcpy(&dboid, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	pqsignal(SIGTERM, die);
	pqsignal(SIGINT, JobWorkerSigint);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	MyJobSlot = &StockmlJobs->slots[slot];
	SpinLockAcquire(&StockmlJobs->mutex);
	MyJobSlot->pid = MyProcPid;
	SpinLockRelease(&StockmlJobs->mutex);

	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	/* before any SQL: this worker is a superuser */
	StockmlPinSearchPath();
	pgstat_report_appname("stockml job worker");

	job_cxt = AllocSetContextCreate(TopMemoryContext, "stockml job", ALLOCSET_DEFAULT_SIZES);

	/* the extension may not exist (yet) in this database: nothing to do */
	if (ExtensionReady())
	{
		ClaimedJob job;

		RequeueInterruptedJobs();
		for (;;)
		{
			CHECK_FOR_INTERRUPTS();
			if (ConfigReloadPending)
			{
				ConfigReloadPending = false;
				ProcessConfigFile(PGC_SIGHUP);
			}
			MemoryContextReset(job_cxt);
			if (!ClaimJob(&job, job_cxt))
				break;
			RunJob(&job, job_cxt);
		}
		ReportNextDue();
	}

	SpinLockAcquire(&StockmlJobs->mutex);
	MyJobSlot->clean_exit = true;
	SpinLockRelease(&StockmlJobs->mutex);
	StockmlWakeLauncher(false);
	proc_exit(0);
}
