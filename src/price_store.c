/*
 * price_store.c — the rules every stored bar obeys and the one upsert that
 * writes bars, shared by all ingest paths.  The rules here mirror the CHECK
 * constraints of stockml.prices, so a bar that passes PriceBarProblem() is
 * never refused by the table; rejected rows are counted, not stored.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"

#include "price_store.h"

PG_FUNCTION_INFO_V1(stockml_check_symbols);

static int	 CompareBarDays(const void *a, const void *b);
static Datum BuildFloatArray(const PriceBar *bars, int nbars, size_t offset, bool null_if_nan);
static bool	 AllAfterLastStored(Datum symbol, const PriceBar *bars, int nbars);

/* Whether the symbol has the form DESIGN.md allows */
bool
SymbolIsValid(const char *symbol)
{
	size_t len = strlen(symbol);

	for (const char *p = symbol; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			  (*p >= '0' && *p <= '9') || strchr(".^=_-", *p) != NULL))
			return false;
	return len >= 1 && len <= 32;
}

/* ERROR unless the symbol has the form DESIGN.md allows */
void
ValidateSymbol(const char *symbol)
{
	if (!SymbolIsValid(symbol))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid symbol \"%s\"", symbol),
				 errdetail("A symbol is 1 to 32 characters among A-Z a-z 0-9 . ^ = _ -."),
				 errhint("Use the ticker as the source spells it, e.g. 'MSFT', '^GSPC' or 'msft.us'.")));
}

/*
 * The symbols of a text[] argument as C strings, each checked by
 * ValidateSymbol, NULLs refused; *n gets their count (0 for an empty array).
 */
char **
SymbolsFromArray(ArrayType *arr, int *n)
{
	Datum *elems;
	bool  *nulls;
	char **symbols;

	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, n);
	symbols = palloc(sizeof(char *) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
	{
		if ((i & 0xFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("symbols must not contain NULL")));
		symbols[i] = TextDatumGetCString(elems[i]);
		ValidateSymbol(symbols[i]);
	}
	return symbols;
}

/*
 * stockml.check_symbols(symbols text[]) RETURNS void: SymbolsFromArray's
 * checks; for the SQL checkers of job arguments.
 */
Datum
stockml_check_symbols(PG_FUNCTION_ARGS)
{
	int n;

	(void) SymbolsFromArray(PG_GETARG_ARRAYTYPE_P(0), &n);
	PG_RETURN_VOID();
}

void
IngestCountsInit(IngestCounts *counts)
{
	counts->inserted = 0;
	counts->updated = 0;
	counts->rejected = 0;
	counts->accepted = 0;
	initStringInfo(&counts->reasons);
	counts->keep_days = false;
	counts->days = NULL;
	counts->ndays = 0;
}

/* Count one rejected row; describe it if it is among the first few */
void
IngestReject(IngestCounts *counts, const char *fmt, ...)
{
	counts->rejected++;
	if (counts->rejected <= INGEST_REASONS_SHOWN)
	{
		va_list args;

		if (counts->reasons.len > 0)
			appendStringInfoString(&counts->reasons, "; ");
		for (;;)
		{
			int needed;

			va_start(args, fmt);
			needed = appendStringInfoVA(&counts->reasons, fmt, args);
			va_end(args);
			if (needed == 0)
				break;
			enlargeStringInfo(&counts->reasons, needed);
		}
	}
}

/* Why a bar cannot be stored, or NULL when it can */
const char *
PriceBarProblem(const PriceBar *bar)
{
	if (!isfinite(bar->open) || !isfinite(bar->high) ||
		!isfinite(bar->low) || !isfinite(bar->close))
		return "price is NaN or infinite";
	if (bar->open <= 0 || bar->high <= 0 || bar->low <= 0 || bar->close <= 0)
		return "price is not positive";
	if (bar->high < bar->low)
		return "high is below low";
	if (bar->open < bar->low || bar->open > bar->high ||
		bar->close < bar->low || bar->close > bar->high)
		return "open or close outside [low, high]";
	if (!isnan(bar->adj_close) && (!isfinite(bar->adj_close) || bar->adj_close <= 0))
		return "adjusted close is not a positive number";
	if (bar->volume < -1)
		return "volume is negative";
	return NULL;
}

static int
CompareBarDays(const void *a, const void *b)
{
	const PriceBar *x = a;
	const PriceBar *y = b;

	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	/* stable: earlier input first */
	return x->line < y->line ? -1 : (x->line > y->line);
}

/*
 * Sort bars by day and drop every repeat of a day already seen, counting it
 * as rejected: the first occurrence in the input is the one kept.
 */
void
RejectDuplicateDays(PriceBar *bars, int *nbars, IngestCounts *counts)
{
	int kept = 0;

	if (*nbars == 0)
		return;
	qsort(bars, *nbars, sizeof(PriceBar), CompareBarDays);
	for (int i = 0; i < *nbars; i++)
	{
		if (kept > 0 && bars[kept - 1].day == bars[i].day)
		{
			int y,
				m,
				d;

			j2date(bars[i].day + POSTGRES_EPOCH_JDATE, &y, &m, &d);
			IngestReject(counts, "line %d: duplicate day %04d-%02d-%02d (first given on line %d)",
						 bars[i].line, y, m, d, bars[kept - 1].line);
			continue;
		}
		bars[kept++] = bars[i];
	}
	*nbars = kept;
}

static Datum
BuildFloatArray(const PriceBar *bars, int nbars, size_t offset, bool null_if_nan)
{
	Datum *values = palloc(sizeof(Datum) * Max(nbars, 1));
	bool  *nulls = palloc(sizeof(bool) * Max(nbars, 1));
	int	   dims[1] = {nbars};
	int	   lbs[1] = {1};

	for (int i = 0; i < nbars; i++)
	{
		double v = *(const double *) ((const char *) &bars[i] + offset);

		nulls[i] = null_if_nan && isnan(v);
		values[i] = Float8GetDatum(v);
	}
	return PointerGetDatum(construct_md_array(values, nulls, 1, dims, lbs,
											  FLOAT8OID, sizeof(float8),
											  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * Upsert valid, day-unique bars for one symbol in a single statement, adding
 * the symbol to the watchlist if needed.  A day whose values did not change
 * is left alone (not counted, ingested_at kept), so re-ingesting is a no-op.
 * A missing adjusted close never erases one stored by another source.
 *
 * When every bar is after the symbol's last stored day (a new symbol, the
 * daily append) the statement is a plain INSERT: ON CONFLICT's speculative
 * insertion (a probe of the primary key before each row, the speculative
 * lock, the second pass to confirm it) was about a fifth of an ingest.  Two
 * ingests of one symbol lock its watchlist row first, so the second reads
 * the last day after the first has committed (READ COMMITTED: each statement
 * a new snapshot) and upserts what it finds; under REPEATABLE READ and
 * SERIALIZABLE, whose snapshot would not see it, it always upserts.
 */
/*
 * Inside StorePriceBars's SPI connection: lock the symbol against other
 * ingests until the transaction ends, then whether every bar is after its
 * last stored day, in a snapshot taken after the lock (false under a
 * transaction snapshot, which may be older).
 */
static bool
AllAfterLastStored(Datum symbol, const PriceBar *bars, int nbars)
{
	DateADT first = bars[0].day;
	Datum	last;
	bool	isnull;

	if (IsolationUsesXactSnapshot())
		return false;
	/*
	 * The lock is the symbol's watchlist row, FOR NO KEY UPDATE: only a role
	 * that may UPDATE stockml.symbols can take it (an advisory lock anyone
	 * could hold, and so stall every ingest of the symbol), and it does not
	 * conflict with the FOR KEY SHARE of the prices' foreign-key checks.  A
	 * caller without UPDATE on symbols upserts.
	 */
	if (SPI_execute_with_args("SELECT pg_catalog.has_table_privilege("
							  "'stockml.symbols'::pg_catalog.regclass, 'UPDATE')",
							  0, NULL, NULL, NULL, true, 0) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not check the privilege on stockml.symbols");
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) ||
		isnull)
		return false;
	if (SPI_execute_with_args("SELECT 1 FROM stockml.symbols s"
							  " WHERE s.symbol OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE",
							  1, (Oid[]) {TEXTOID}, &symbol, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not lock the symbol's bars");
	if (SPI_execute_with_args("SELECT pg_catalog.max(p.day) FROM stockml.prices p"
							  " WHERE p.symbol OPERATOR(pg_catalog.=) $1",
							  1, (Oid[]) {TEXTOID}, &symbol, NULL, false, 0) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not read the symbol's last stored day");
	last = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	for (int i = 1; i < nbars; i++)
		first = Min(first, bars[i].day);
	return isnull || first > DatumGetDateADT(last);
}

void
StorePriceBars(const char *symbol, const char *source,
			   const PriceBar *bars, int nbars, IngestCounts *counts)
{
	static const char *upsert =
		"WITH input AS ("
		"  SELECT * FROM unnest($2::date[], $3::float8[], $4::float8[], $5::float8[],"
		"                       $6::float8[], $7::float8[], $8::int8[])"
		"         AS t(day, open, high, low, close, adj_close, volume)),"
		" changed AS ("
		"  INSERT INTO stockml.prices AS p"
		"         (symbol, day, open, high, low, close, adj_close, volume, source)"
		"  SELECT $1, day, open, high, low, close, adj_close, volume, $9 FROM input"
		"  ON CONFLICT (symbol, day) DO UPDATE"
		"     SET open = excluded.open, high = excluded.high, low = excluded.low,"
		"         close = excluded.close,"
		"         adj_close = coalesce(excluded.adj_close, p.adj_close),"
		"         volume = excluded.volume, source = excluded.source, ingested_at = $10"
		"   WHERE (p.open, p.high, p.low, p.close, p.volume,"
		"          coalesce(excluded.adj_close, p.adj_close))"
		"         IS DISTINCT FROM"
		"         (excluded.open, excluded.high, excluded.low, excluded.close, excluded.volume,"
		"          p.adj_close)"
		"  RETURNING (xmax = 0) AS inserted)"
		" SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)"
		"   FROM changed";
	/* the same rows when none can conflict: no ON CONFLICT */
	static const char *append =
		"INSERT INTO stockml.prices (symbol, day, open, high, low, close, adj_close, volume, source)"
		" SELECT $1, t.day, t.open, t.high, t.low, t.close, t.adj_close, t.volume, $9"
		"   FROM ROWS FROM (pg_catalog.unnest($2::date[]), pg_catalog.unnest($3::float8[]),"
		"                   pg_catalog.unnest($4::float8[]), pg_catalog.unnest($5::float8[]),"
		"                   pg_catalog.unnest($6::float8[]), pg_catalog.unnest($7::float8[]),"
		"                   pg_catalog.unnest($8::int8[]))"
		"        AS t(day, open, high, low, close, adj_close, volume)";
	Oid	   argtypes[10] = {TEXTOID, DATEARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID,
						   FLOAT8ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, INT8ARRAYOID, TEXTOID, TIMESTAMPTZOID};
	Datum  args[10];
	Datum *days;
	Datum *volumes;
	bool  *volume_nulls;
	int	   dims[1] = {nbars};
	int	   lbs[1] = {1};
	bool   isnull;
	int	   rc;

	if (nbars == 0)
		return;
	counts->accepted += nbars;
	if (counts->keep_days)
	{
		Size n = add_size(counts->ndays, nbars);

		counts->days = counts->days ? repalloc_huge(counts->days, mul_size(n, sizeof(DateADT))) :
									  palloc_extended(mul_size(n, sizeof(DateADT)), MCXT_ALLOC_HUGE);
		for (int i = 0; i < nbars; i++)
			counts->days[counts->ndays++] = bars[i].day;
	}

	days = palloc(sizeof(Datum) * nbars);
	volumes = palloc(sizeof(Datum) * nbars);
	volume_nulls = palloc(sizeof(bool) * nbars);
	for (int i = 0; i < nbars; i++)
	{
		days[i] = DateADTGetDatum(bars[i].day);
		volumes[i] = Int64GetDatum(bars[i].volume);
		volume_nulls[i] = bars[i].volume < 0;
	}

	args[0] = CStringGetTextDatum(symbol);
	args[1] = PointerGetDatum(construct_array(days, nbars, DATEOID, sizeof(DateADT),
											  true, TYPALIGN_INT));
	args[2] = BuildFloatArray(bars, nbars, offsetof(PriceBar, open), false);
	args[3] = BuildFloatArray(bars, nbars, offsetof(PriceBar, high), false);
	args[4] = BuildFloatArray(bars, nbars, offsetof(PriceBar, low), false);
	args[5] = BuildFloatArray(bars, nbars, offsetof(PriceBar, close), false);
	args[6] = BuildFloatArray(bars, nbars, offsetof(PriceBar, adj_close), true);
	args[7] = PointerGetDatum(construct_md_array(volumes, volume_nulls, 1, dims, lbs,
												 INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
												 TYPALIGN_DOUBLE));
	args[8] = CStringGetTextDatum(source);
	/* now(), as a parameter: Citus refuses non-IMMUTABLE functions in DO UPDATE SET */
	args[9] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	rc = SPI_execute_with_args("INSERT INTO stockml.symbols (symbol, source) VALUES ($1, $2)"
							   " ON CONFLICT (symbol) DO NOTHING",
							   2, (Oid[]) {TEXTOID, TEXTOID},
							   (Datum[]) {args[0], args[8]}, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not add symbol: %s", SPI_result_code_string(rc));

	if (AllAfterLastStored(args[0], bars, nbars))
	{
		rc = SPI_execute_with_args(append, 9, argtypes, args, NULL, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "could not store prices: %s", SPI_result_code_string(rc));
		/* all of them, unless a trigger of the user's skipped some */
		counts->inserted += (int64) SPI_processed;
		SPI_finish();
		return;
	}
	rc = SPI_execute_with_args(upsert, 10, argtypes, args, NULL, false, 0);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not store prices: %s", SPI_result_code_string(rc));
	counts->inserted += DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 1, &isnull));
	counts->updated += DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 2, &isnull));
	SPI_finish();
}

/*
 * Tell the user about rejected rows: a NOTICE with the first few reasons, or
 * in strict mode an ERROR, which also rolls back anything stored.
 */
void
ReportRejections(const char *symbol, const IngestCounts *counts, bool strict)
{
	if (counts->rejected == 0)
		return;
	ereport(strict ? ERROR : NOTICE,
			(strict ? errcode(ERRCODE_DATA_EXCEPTION) : 0,
			 errmsg("%lld row%s rejected for symbol \"%s\"",
					(long long) counts->rejected, counts->rejected == 1 ? "" : "s", symbol),
			 errdetail("%s%s", counts->reasons.data,
					   counts->rejected > INGEST_REASONS_SHOWN ? "; ..." : ""),
			 strict ? errhint("Fix the rows, or call without strict => true to store the valid rows and skip these.") : 0));
}

/*
 * The ingest_log status of an ingest: ok when no row was rejected, failed
 * when every row was (nothing stored), partial in between.
 */
const char *
IngestStatus(const IngestCounts *counts)
{
	if (counts->rejected == 0)
		return "ok";
	return counts->accepted == 0 ? "failed" : "partial";
}

/*
 * The row RETURNING l.* gave as a composite Datum of type stockml.ingest_log,
 * in memory context cxt.  Built from the columns, not returned as the whole
 * row: on Citus, where ingest_log is distributed, a whole-row RETURNING is of
 * the shard's row type, which does not cast to the table's.
 */
static Datum
IngestLogDatum(HeapTuple row, TupleDesc rowdesc, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	TupleDesc	  desc = RelationNameGetTupleDesc("stockml.ingest_log");
	Datum		 *values = palloc0(sizeof(Datum) * desc->natts);
	bool		 *isnull = palloc(sizeof(bool) * desc->natts);
	int			  col = 0;
	Datum		  result;

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		isnull[i] = true;
		if (att->attisdropped)
			continue;
		if (++col > rowdesc->natts || SPI_gettypeid(rowdesc, col) != att->atttypid)
			elog(ERROR, "stockml.ingest_log's columns are not those its INSERT returned");
		values[i] = SPI_getbinval(row, rowdesc, col, &isnull[i]);
		if (!isnull[i] && !att->attbyval)
			values[i] = datumCopy(values[i], att->attbyval, att->attlen);
	}
	if (col != rowdesc->natts)
		elog(ERROR, "stockml.ingest_log's columns are not those its INSERT returned");
	result = HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, isnull));
	MemoryContextSwitchTo(old);
	return result;
}

/*
 * Append the ingest_log row and return it as a composite Datum of type
 * stockml.ingest_log, allocated in the caller's memory context.
 */
Datum
InsertIngestLog(const char *symbol, const char *source, TimestampTz started_at,
				const char *status, int http_status, const IngestCounts *counts,
				const char *error)
{
	Oid			   argtypes[9] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, INT4OID,
								  INT8OID, INT8OID, INT8OID, TEXTOID};
	Datum		   args[9];
	char		   nulls[9];
	StringInfoData message;
	Datum		   result;
	MemoryContext  caller;
	int			   rc;

	initStringInfo(&message);
	if (error)
		appendStringInfoString(&message, error);
	if (counts->rejected > 0)
		appendStringInfo(&message, "%s%s%lld rejected: %s%s",
						 message.len > 0 ? "; " : "",
						 counts->accepted == 0 ? "all " : "",
						 (long long) counts->rejected, counts->reasons.data,
						 counts->rejected > INGEST_REASONS_SHOWN ? "; ..." : "");

	memset(nulls, ' ', sizeof(nulls));
	args[0] = CStringGetTextDatum(symbol);
	args[1] = CStringGetTextDatum(source);
	args[2] = TimestampTzGetDatum(started_at);
	args[3] = CStringGetTextDatum(status);
	args[4] = Int32GetDatum(http_status);
	nulls[4] = http_status > 0 ? ' ' : 'n';
	args[5] = Int64GetDatum(counts->inserted);
	args[6] = Int64GetDatum(counts->updated);
	args[7] = Int64GetDatum(counts->rejected);
	args[8] = CStringGetTextDatum(message.data);
	nulls[8] = message.len > 0 ? ' ' : 'n';

	caller = CurrentMemoryContext;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args("INSERT INTO stockml.ingest_log AS l"
							   " (symbol, source, started_at, finished_at, status, http_status,"
							   "  rows_inserted, rows_updated, rows_rejected, error)"
							   " VALUES ($1, $2, $3, clock_timestamp(), $4, $5, $6, $7, $8, $9)"
							   " RETURNING l.*",
							   9, argtypes, args, nulls, false, 0);
	if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "could not write ingest_log: %s", SPI_result_code_string(rc));
	result = IngestLogDatum(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, caller);
	SPI_finish();
	return result;
}
