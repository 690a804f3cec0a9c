/*
 * jobs.h — the job queue (stockml.jobs) and what a long-running job may call
 * while a background worker runs it.  A job of kind K runs the SQL function
 * stockml.run_job_K(job_id bigint, args jsonb) in its own transaction; see
 * src/jobs.c (queue, shared state, SQL API) and src/worker.c (the workers).
 */
#ifndef STOCKML_JOBS_H
#define STOCKML_JOBS_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "storage/latch.h"
#include "storage/spin.h"

/*
 * Report how far the current job has come, 0 <= fraction <= 1 (clamped).
 * Visible at once to other sessions in stockml.job_status.progress, although
 * the job's own transaction has not committed.  A no-op outside a job worker,
 * so code that may run both in a session and in a job can call it freely.
 */
extern void StockmlReportJobProgress(double fraction);

/* Id of the job this process is running, or 0 outside a job worker */
extern int64 StockmlCurrentJobId(void);

/* ---- shared between jobs.c and worker.c ---- */

#define STOCKML_MAX_JOB_WORKERS 32

typedef struct JobWorkerSlot
{
	bool		in_use;			  /* assigned by the launcher */
	bool		clean_exit;		  /* the worker left nothing running */
	bool		cancel_requested; /* stockml.cancel_job() asked for job_id;
									 * reset whenever job_id changes */
	pid_t		pid;
	int64		job_id; /* 0 while not running a job */
	double		progress;
	TimestampTz started_at;
} JobWorkerSlot;

typedef struct StockmlJobsShared
{
	slock_t		  mutex;
	pid_t		  launcher_pid;
	Latch		 *launcher_latch;
	int			  wake_requests;   /* jobs submitted since the launcher last looked */
	bool		  check_requested; /* look at the queue even without new jobs */
	TimestampTz	  next_due;		   /* earliest retry a worker saw, or 0 */
	JobWorkerSlot slots[STOCKML_MAX_JOB_WORKERS];
} StockmlJobsShared;

extern StockmlJobsShared *StockmlJobs; /* NULL unless preloaded */
extern JobWorkerSlot	 *MyJobSlot;   /* set in a job worker */

extern char *stockml_database;
extern int	 stockml_max_workers;
extern int	 stockml_worker_naptime_ms;
extern int	 stockml_job_retry_delay_ms;
extern int	 stockml_job_max_attempts;

extern void StockmlWakeLauncher(bool check);
extern void StockmlRegisterLauncher(void);

#endif /* STOCKML_JOBS_H */
