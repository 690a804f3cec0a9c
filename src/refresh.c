/*
 * refresh.c — stockml.refresh(symbols): for each symbol, fetch the days
 * after its last stored one (less a few days of overlap, to pick up
 * revisions), several symbols at once on one curl multi handle
 * (stockml.http_concurrency).  Each response is stored in its own
 * subtransaction as it arrives, so one symbol's failure — HTTP error, bad
 * body, constraint — becomes a 'failed' ingest_log row and a WARNING, and
 * never undoes or stops the others.  When a fetch shows that the provider
 * re-adjusted the symbol's history (a new split or dividend, an overlap day
 * that disagrees beyond rounding: src/readjust.c), its store is undone and a
 * second round fetches those symbols' full histories, stored in their place.
 * Returns every symbol's ingest_log row.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "http_client.h"
#include "ingest_http.h"
#include "jobs.h"
#include "price_store.h"
#include "readjust.h"
#include "roles.h"
#include "stockml.h"

PG_FUNCTION_INFO_V1(stockml_refresh);

typedef struct RefreshTarget
{
	HttpRequest		   request; /* first: the done callback gets it back */
	char			  *symbol;
	const PriceSource *source;		/* NULL: not a network source (csv, ...) */
	char			  *source_name; /* symbols.source, NULL if unset */
	DateADT			   start;
	TimestampTz		   started_at;
	char			  *readjust; /* why the full history is re-fetched, or NULL */
} RefreshTarget;

typedef struct RefreshState
{
	ReturnSetInfo *rsinfo;
	DateADT		   end;
	int			   ntargets;
	int			   ndone;
	MemoryContext  per_symbol;
	MemoryContext  outer; /* lives as long as the call */
} RefreshState;

static int refresh_overlap_days = 5;

static RefreshTarget *ReadTargets(ArrayType *symbols, int *ntargets);
static void			  StoreOneResponse(HttpRequest *request, void *arg);
static void			  LogFailure(RefreshState *state, RefreshTarget *target, HttpRequest *request,
								 ErrorData *edata);
static void			  EmitLogRow(RefreshState *state, Datum row);
static void			  LogLocalSource(RefreshState *state, RefreshTarget *target);

void
StockmlRefreshInit(void)
{
	DefineCustomIntVariable("stockml.refresh_overlap_days",
							"Days before a symbol's last stored day that refresh() fetches again.",
							"Sources revise recent bars; the overlap picks the revisions up.",
							&refresh_overlap_days, 5, 0, 3650,
							PGC_USERSET, 0, NULL, NULL, NULL);
}

/*
 * Symbols to refresh with their source and first day: the active watchlist
 * whose source is a network one (unset counts as Yahoo), or the given
 * symbols (any, in the given order, duplicates dropped).
 */
static RefreshTarget *
ReadTargets(ArrayType *symbols, int *ntargets)
{
	MemoryContext  caller = CurrentMemoryContext;
	RefreshTarget *targets;
	int			   rc;

	if (symbols != NULL)
	{
		Datum *elems;
		bool  *nulls;
		int	   n;

		deconstruct_array(symbols, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		for (int i = 0; i < n; i++)
		{
			if (nulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("symbols must not contain NULL")));
			ValidateSymbol(TextDatumGetCString(elems[i]));
		}
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (symbols == NULL)
		rc = SPI_execute("SELECT s.symbol, s.source,"
						 "       (SELECT max(p.day) FROM stockml.prices p WHERE p.symbol = s.symbol)"
						 "  FROM stockml.symbols s"
						 " WHERE s.active AND coalesce(s.source, 'yahoo') IN ('yahoo', 'stooq')"
						 " ORDER BY s.symbol",
						 true, 0);
	else
		/*
		 * The last day in a subquery over symbols, not correlated with the
		 * unnest: Citus refuses a correlated subquery beside a set-returning
		 * function, and pushes this one down (symbols and prices colocated).
		 */
		rc = SPI_execute_with_args("SELECT u.symbol, s.source, s.last"
								   "  FROM (SELECT symbol, min(n) AS n FROM unnest($1::text[])"
								   "          WITH ORDINALITY AS t(symbol, n) GROUP BY symbol) u"
								   "  LEFT JOIN (SELECT w.symbol, w.source,"
								   "                    (SELECT max(p.day) FROM stockml.prices p"
								   "                      WHERE p.symbol = w.symbol) AS last"
								   "               FROM stockml.symbols w WHERE w.symbol = ANY ($1::text[])) s"
								   "    ON s.symbol = u.symbol"
								   " ORDER BY u.n",
								   1, (Oid[]) {TEXTARRAYOID}, (Datum[]) {PointerGetDatum(symbols)},
								   NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read the watchlist: %s", SPI_result_code_string(rc));

	*ntargets = (int) SPI_processed;
	targets = MemoryContextAllocZero(caller, sizeof(RefreshTarget) * Max(*ntargets, 1));
	for (int i = 0; i < *ntargets; i++)
	{
		HeapTuple	  tup = SPI_tuptable->vals[i];
		TupleDesc	  desc = SPI_tuptable->tupdesc;
		bool		  isnull;
		Datum		  last = SPI_getbinval(tup, desc, 3, &isnull);
		MemoryContext old = MemoryContextSwitchTo(caller);
		char		 *source = SPI_getvalue(tup, desc, 2);

		targets[i].symbol = SPI_getvalue(tup, desc, 1);
		targets[i].source_name = source;
		targets[i].source = source == NULL ? &YahooSource : NetworkSourceByName(source);
		targets[i].start = isnull ? DATEVAL_NOBEGIN :
									DatumGetDateADT(last) - refresh_overlap_days;
		targets[i].request.arg = &targets[i];
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return targets;
}

static void
EmitLogRow(RefreshState *state, Datum row)
{
	HeapTupleHeader header = DatumGetHeapTupleHeader(row);
	HeapTupleData	tuple;

	tuple.t_len = HeapTupleHeaderGetDatumLength(header);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = header;
	tuplestore_puttuple(state->rsinfo->setResult, &tuple);
}

/*
 * A symbol named in refresh(symbols) whose source is local (csv, or any
 * name that is not a network source) is not fetched: a failed row says how
 * to make it fetchable, so Yahoo's bars never mix into the user's own.
 */
static void
LogLocalSource(RefreshState *state, RefreshTarget *target)
{
	IngestCounts none;
	char		*message = psprintf("symbol's source is \"%s\", not a network source; "
										   "set stockml.symbols.source to 'yahoo' or 'stooq' to fetch it",
									target->source_name);

	ereport(WARNING,
			(errmsg("refresh of symbol \"%s\" skipped: its source is \"%s\"",
					target->symbol, target->source_name),
			 errdetail("refresh() fetches only symbols whose source is yahoo or stooq."),
			 errhint("To fetch it anyway: UPDATE stockml.symbols SET source = 'yahoo' WHERE symbol = '%s';",
					 target->symbol)));
	IngestCountsInit(&none);
	EmitLogRow(state, InsertIngestLog(target->symbol, target->source_name, target->started_at,
									  "failed", 0, &none, message));
	state->ndone++;
}

/*
 * Done callback of the transfers: store one symbol's response in a
 * subtransaction; on any ERROR roll it back and log the failure instead.  In
 * the first round a response showing a re-adjusted history is rolled back and
 * its symbol marked (target->readjust); in the second its full history is
 * stored in place of the stored one.
 */
static void
StoreOneResponse(HttpRequest *request, void *arg)
{
	RefreshState  *state = arg;
	RefreshTarget *target = request->arg;
	MemoryContext  caller = CurrentMemoryContext;
	ResourceOwner  owner = CurrentResourceOwner;
	bool		   second_round = target->readjust != NULL;

	MemoryContextReset(state->per_symbol);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(state->per_symbol);
	PG_TRY();
	{
		IngestCounts counts;
		char		*message = NULL;
		char		*reason = NULL;

		CheckHttpResponse(target->source, target->symbol, request);
		IngestCountsInit(&counts);
		if (second_round)
		{
			message = ReadjustStoreFullHistory(target->source, target->symbol, request->body,
											   request->body_len, state->end, target->readjust,
											   &counts);
			ereport(NOTICE, (errmsg("symbol \"%s\" %s", target->symbol, message)));
		}
		else
		{
			ReadjustSnapshot *before = DATE_IS_NOBEGIN(target->start) ? NULL :
																		ReadjustTake(target->symbol, target->start);

			target->source->store(target->symbol, request->body, request->body_len,
								  target->start, state->end, &counts);
			if (before)
				reason = ReadjustReason(target->symbol, before);
		}
		MemoryContextSwitchTo(caller);
		if (reason)
		{
			/* undo this store: the full history replaces it in the second round */
			target->readjust = MemoryContextStrdup(state->outer, reason);
			RollbackAndReleaseCurrentSubTransaction();
		}
		else
		{
			EmitLogRow(state, InsertIngestLog(target->symbol, target->source->name,
											  target->started_at, IngestStatus(&counts),
											  (int) request->status, &counts, message));
			ReleaseCurrentSubTransaction();
		}
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		LogFailure(state, target, request, StockmlAbortSubTransaction(caller, owner));
	}
	PG_END_TRY();

	if (request->body)
		pfree(request->body);
	request->body = NULL;
	if (second_round || target->readjust == NULL)
		state->ndone++;
	StockmlReportJobProgress((double) state->ndone / state->ntargets);
}

/*
 * After an ERROR rolled a symbol's subtransaction back: a WARNING and a
 * failed ingest_log row (a cancel or a lost server ends the whole refresh).
 */
static void
LogFailure(RefreshState *state, RefreshTarget *target, HttpRequest *request, ErrorData *edata)
{
	IngestCounts none;
	char		*message;

	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
		edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
		ReThrowError(edata);

	message = edata->detail ? psprintf("%s (%s)", edata->message, edata->detail) :
							  edata->message;
	if (target->readjust)
		message = psprintf("re-adjustment needed (%s), but storing the full history failed: %s; "
						   "nothing stored, the stored bars keep their scale",
						   target->readjust, message);
	ereport(WARNING,
			(errmsg("refresh of symbol \"%s\" failed: %s", target->symbol, edata->message),
			 edata->detail ? errdetail("%s", edata->detail) : 0,
			 target->readjust ? errcontext("re-fetching the full history: %s", target->readjust) : 0));
	IngestCountsInit(&none);
	EmitLogRow(state, InsertIngestLog(target->symbol, target->source->name, target->started_at,
									  "failed", (int) request->status, &none, message));
	FreeErrorData(edata);
}

/*
 * stockml.refresh(symbols text[] DEFAULT NULL) RETURNS SETOF stockml.ingest_log
 */
Datum
stockml_refresh(PG_FUNCTION_ARGS)
{
	ArrayType	  *symbols = PG_ARGISNULL(0) ? NULL : PG_GETARG_ARRAYTYPE_P(0);
	RefreshState   state;
	RefreshTarget *targets;
	HttpRequest	 **requests;
	int			   nrequests;
	TimestampTz	   now = GetCurrentTimestamp();

	StockmlRequireAdmin("fetch prices");
	InitMaterializedSRF(fcinfo, 0);
	state.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	state.end = GetSQLCurrentDate();
	state.ndone = 0;
	state.outer = CurrentMemoryContext;
	state.per_symbol = AllocSetContextCreate(CurrentMemoryContext, "stockml refresh symbol",
											 ALLOCSET_DEFAULT_SIZES);

	targets = ReadTargets(symbols, &state.ntargets);
	requests = palloc(sizeof(HttpRequest *) * Max(state.ntargets, 1));
	nrequests = 0;
	for (int i = 0; i < state.ntargets; i++)
	{
		targets[i].started_at = now;
		if (targets[i].source == NULL)
		{
			LogLocalSource(&state, &targets[i]);
			continue;
		}
		targets[i].request.url = targets[i].source->url(targets[i].symbol, targets[i].start,
														state.end);
		requests[nrequests++] = &targets[i].request;
	}
	HttpFetchAll(requests, nrequests, stockml_http_concurrency, StoreOneResponse, &state);

	/* the second round: the full histories of the re-adjusted symbols */
	nrequests = 0;
	for (int i = 0; i < state.ntargets; i++)
		if (targets[i].readjust && targets[i].source != NULL)
		{
			targets[i].request.url = targets[i].source->url(targets[i].symbol, DATEVAL_NOBEGIN,
															state.end);
			requests[nrequests++] = &targets[i].request;
		}
	HttpFetchAll(requests, nrequests, stockml_http_concurrency, StoreOneResponse, &state);
	MemoryContextDelete(state.per_symbol);
	return (Datum) 0;
}
