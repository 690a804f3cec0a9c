/*
 * pipeline.c — the procedure a pg_cron job of the pipeline calls.
 *
 * CALL stockml.run_pipeline_step(pipeline, step, ...) does the step's work
 * (stockml._pipeline_step, PL/pgSQL), commits what it stored, and then ends
 * with an ERROR naming what failed, so that pg_cron's cron.job_run_details
 * says failed while the symbols or models that worked keep their rows.  A
 * PL/pgSQL procedure could not do this: one that pins its search_path (as
 * every stockml function does) may not COMMIT.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(stockml_run_pipeline_step);

/*
 * CALL stockml.run_pipeline_step(pipeline text, step text, models text[],
 * wait_for_previous boolean, timeout interval)
 */
Datum
stockml_run_pipeline_step(PG_FUNCTION_ARGS)
{
	CallContext	 *call = (CallContext *) fcinfo->context;
	bool		  nonatomic = call != NULL && IsA(call, CallContext) && !call->atomic;
	MemoryContext keep = nonatomic ? PortalContext : CurrentMemoryContext;
	Datum		  values[5];
	char		  nulls[5];
	char		 *pipeline;
	char		 *step;
	char		 *summary = NULL;
	char		 *failed = NULL;
	int			  nfailed = 0;
	int			  rc;

	for (int i = 0; i < 5; i++)
	{
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
		values[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
	pipeline = PG_ARGISNULL(0) ? "NULL" : MemoryContextStrdup(keep, TextDatumGetCString(values[0]));
	step = PG_ARGISNULL(1) ? "NULL" : MemoryContextStrdup(keep, TextDatumGetCString(values[1]));

	if (SPI_connect_ext(nonatomic ? SPI_OPT_NONATOMIC : 0) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args("SELECT s.summary, pg_catalog.array_to_string(s.failed, '; '),"
							   "       pg_catalog.cardinality(s.failed)"
							   "  FROM stockml._pipeline_step($1, $2, $3, $4, $5) s",
							   5, (Oid[]) {TEXTOID, TEXTOID, TEXTARRAYOID, BOOLOID, INTERVALOID},
							   values, nulls, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not run the pipeline step: %s", SPI_result_code_string(rc));
	{
		HeapTuple tup = SPI_tuptable->vals[0];
		TupleDesc desc = SPI_tuptable->tupdesc;
		char	 *s = SPI_getvalue(tup, desc, 1);
		char	 *f = SPI_getvalue(tup, desc, 2);
		bool	  isnull;
		Datum	  n = SPI_getbinval(tup, desc, 3, &isnull);

		summary = s ? MemoryContextStrdup(keep, s) : "";
		failed = f ? MemoryContextStrdup(keep, f) : "";
		nfailed = isnull ? 0 : DatumGetInt32(n);
	}
	/* what worked stays, whatever follows */
	if (nonatomic)
		SPI_commit();
	SPI_finish();

	ereport(NOTICE, (errmsg("stockml pipeline \"%s\": %s", pipeline, summary)));
	if (nfailed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("stockml pipeline \"%s\": step %s failed for %d: %s",
						pipeline, step, nfailed, failed),
				 errdetail(nonatomic ? "%s; what succeeded is committed." :
									   "%s; called inside a transaction block, so nothing of it is kept.",
						   summary),
				 errhint("stockml.ingest_log (refresh) and the server log (forecast, monitor) have the details; "
						 "CALL stockml.run_pipeline_step(%s, %s) outside a transaction block runs the step again.",
						 quote_literal_cstr(pipeline), quote_literal_cstr(step))));
	PG_RETURN_VOID();
}
