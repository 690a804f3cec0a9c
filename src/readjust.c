/*
 * readjust.c — one price scale per refreshed symbol.  Yahoo and Stooq
 * re-adjust a symbol's whole history when it splits (and Yahoo its adjusted
 * closes when it pays a dividend); refresh() fetches only the last days, so
 * the stored bars would stay on the old scale and the new ones on the new.
 * refresh() takes a snapshot of the stored overlap before it stores a fetch
 * (ReadjustTake), asks afterwards whether the fetch brought a split or
 * dividend not stored before or rewrote an overlap day beyond rounding
 * (ReadjustReason), and if so stores the provider's full history instead
 * (ReadjustStoreFullHistory), in the same transaction: every bar it holds is
 * rewritten, a stored bar it lacks is re-scaled like its nearest neighbour,
 * and the forecast ledger's predictions of the symbol are put on the new
 * scale, so a forecast keeps being scored against its own price scale.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"

#include "readjust.h"
#include "roles.h"
#include "stockml.h"

double readjust_tolerance = 0.001;

static void			   QuerySymbolFrom(const char *sql, const char *symbol, DateADT from);
static ReadjustBar	  *ReadBars(const char *symbol, DateADT from, int *nbars);
static ReadjustAction *ReadActions(const char *symbol, DateADT from, int *nactions);
static bool			   Differs(double stored, double fetched);
static char			  *DayText(DateADT day);
static char			  *NumberText(double v);
static int			   CompareDays(const void *a, const void *b);
static int64		   RescaleMissingBars(const char *symbol, const ReadjustBar *old, int nold,
										  const ReadjustBar *now, int nnow,
										  DateADT *fetched, int nfetched, double *ratio);
static int64		   RescaleLedger(const char *symbol, const ReadjustBar *old, int nold,
									 const double *ratio);

void
StockmlReadjustInit(void)
{
	DefineCustomRealVariable("stockml.refresh_rescale_tolerance",
							 "Relative difference between a stored and a re-fetched overlap day that refresh() takes for a re-adjusted history.",
							 "Smaller differences are rounding: the bar is updated in place. Larger ones make refresh() re-fetch the symbol's full history.",
							 &readjust_tolerance, 0.001, 1e-9, 0.5,
							 PGC_USERSET, 0, NULL, NULL, NULL);
}

/*
 * Connect to SPI and run a query of ($1 symbol, $2 from day); the caller reads
 * SPI_tuptable and calls SPI_finish.  Not read-only: it sees this fetch's writes.
 */
static void
QuerySymbolFrom(const char *sql, const char *symbol, DateADT from)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(sql, 2, (Oid[]) {TEXTOID, DATEOID},
							  (Datum[]) {CStringGetTextDatum(symbol), DateADTGetDatum(from)},
							  NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the stored history of symbol \"%s\"", symbol);
}

/* (day, close, adj_close) of the symbol's stored bars from day from on */
static ReadjustBar *
ReadBars(const char *symbol, DateADT from, int *nbars)
{
	MemoryContext caller = CurrentMemoryContext;
	ReadjustBar	 *bars;

	QuerySymbolFrom("SELECT day, close, adj_close FROM stockml.prices"
					" WHERE symbol = $1 AND day >= $2 ORDER BY day",
					symbol, from);
	*nbars = (int) SPI_processed;
	bars = MemoryContextAlloc(caller, mul_size(Max(*nbars, 1), sizeof(ReadjustBar)));
	for (int i = 0; i < *nbars; i++)
	{
		HeapTuple tup = SPI_tuptable->vals[i];
		TupleDesc desc = SPI_tuptable->tupdesc;
		bool	  isnull;
		Datum	  adj;

		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		bars[i].day = DatumGetDateADT(SPI_getbinval(tup, desc, 1, &isnull));
		bars[i].close = DatumGetFloat8(SPI_getbinval(tup, desc, 2, &isnull));
		adj = SPI_getbinval(tup, desc, 3, &isnull);
		bars[i].adj_close = isnull ? NAN : DatumGetFloat8(adj);
	}
	SPI_finish();
	return bars;
}

static ReadjustAction *
ReadActions(const char *symbol, DateADT from, int *nactions)
{
	MemoryContext	caller = CurrentMemoryContext;
	ReadjustAction *actions;

	QuerySymbolFrom("SELECT day, kind = 'split', coalesce(amount, 'NaN'),"
					"       coalesce(numerator, 'NaN'), coalesce(denominator, 'NaN')"
					"  FROM stockml.corporate_actions"
					" WHERE symbol = $1 AND day >= $2 ORDER BY day, kind",
					symbol, from);
	*nactions = (int) SPI_processed;
	actions = MemoryContextAlloc(caller, mul_size(Max(*nactions, 1), sizeof(ReadjustAction)));
	for (int i = 0; i < *nactions; i++)
	{
		HeapTuple tup = SPI_tuptable->vals[i];
		TupleDesc desc = SPI_tuptable->tupdesc;
		bool	  isnull;

		actions[i].day = DatumGetDateADT(SPI_getbinval(tup, desc, 1, &isnull));
		actions[i].split = DatumGetBool(SPI_getbinval(tup, desc, 2, &isnull));
		actions[i].amount = DatumGetFloat8(SPI_getbinval(tup, desc, 3, &isnull));
		actions[i].numerator = DatumGetFloat8(SPI_getbinval(tup, desc, 4, &isnull));
		actions[i].denominator = DatumGetFloat8(SPI_getbinval(tup, desc, 5, &isnull));
	}
	SPI_finish();
	return actions;
}

ReadjustSnapshot *
ReadjustTake(const char *symbol, DateADT from)
{
	ReadjustSnapshot *s = palloc0(sizeof(ReadjustSnapshot));

	s->from = from;
	s->bars = ReadBars(symbol, from, &s->nbars);
	s->actions = ReadActions(symbol, from, &s->nactions);
	return s;
}

/* More than rounding apart (NaN, a missing adjusted close, is never apart) */
static bool
Differs(double stored, double fetched)
{
	if (isnan(stored) || isnan(fetched))
		return false;
	return fabs(fetched - stored) > readjust_tolerance * fabs(stored);
}

static char *
DayText(DateADT day)
{
	return DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(day)));
}

/* A number as short as it reads: 2, 0.82, 124.8125 */
static char *
NumberText(double v)
{
	return psprintf("%.10g", v);
}

char *
ReadjustReason(const char *symbol, const ReadjustSnapshot *before)
{
	StringInfoData	reason;
	int				nafter;
	ReadjustAction *after;
	ReadjustBar	   *now;
	int				nnow;
	int				k = 0;
	int				last_compared;

	if (before->nbars == 0)
		return NULL; /* nothing stored to be on another scale */
	initStringInfo(&reason);

	/* events the fetch stored that were not stored before, or changed */
	after = ReadActions(symbol, before->from, &nafter);
	for (int i = 0; i < nafter; i++)
	{
		const ReadjustAction *a = &after[i];
		bool				  known = false;

		for (int j = 0; j < before->nactions && !known; j++)
		{
			const ReadjustAction *b = &before->actions[j];

			known = b->day == a->day && b->split == a->split &&
					(a->split ? (b->numerator == a->numerator && b->denominator == a->denominator) :
								b->amount == a->amount);
		}
		if (known)
			continue;
		if (reason.len > 0)
			appendStringInfoString(&reason, ", ");
		if (a->split)
			appendStringInfo(&reason, "split %s:%s on %s", NumberText(a->numerator),
							 NumberText(a->denominator), DayText(a->day));
		else
			appendStringInfo(&reason, "dividend %s on %s", NumberText(a->amount), DayText(a->day));
	}
	if (reason.len > 0)
		return reason.data;

	/*
	 * The stored overlap days, except the last stored one when there are
	 * others: a bar fetched during the session is revised after the close,
	 * and that is not a re-adjustment.
	 */
	now = ReadBars(symbol, before->from, &nnow);
	last_compared = before->nbars > 1 ? before->nbars - 2 : 0;
	for (int i = 0; i <= last_compared; i++)
	{
		const ReadjustBar *b = &before->bars[i];

		while (k < nnow && now[k].day < b->day)
			k++;
		if (k == nnow || now[k].day != b->day)
			continue;
		if (Differs(b->close, now[k].close))
			return psprintf("overlap day %s: close %s stored, %s fetched",
							DayText(b->day), NumberText(b->close), NumberText(now[k].close));
		if (Differs(b->adj_close, now[k].adj_close))
			return psprintf("overlap day %s: adjusted close %s stored, %s fetched",
							DayText(b->day), NumberText(b->adj_close),
							NumberText(now[k].adj_close));
	}
	return NULL;
}

static int
CompareDays(const void *a, const void *b)
{
	DateADT x = *(const DateADT *) a;
	DateADT y = *(const DateADT *) b;

	return x < y ? -1 : (x > y);
}

/*
 * A stored bar the full history lacks (older than the provider's history,
 * or a day it dropped) takes the re-scaling of the nearest later day the
 * provider sent (else the nearest earlier one): prices by that day's close
 * ratio, adj_close by its adjusted-close ratio, volume inversely.  Fills
 * ratio[i] (new close / old close) for every old bar.  Returns the bars
 * re-scaled.
 */
static int64
RescaleMissingBars(const char *symbol, const ReadjustBar *old, int nold,
				   const ReadjustBar *now, int nnow,
				   DateADT *fetched, int nfetched, double *ratio)
{
	double *adj_ratio = palloc(mul_size(Max(nold, 1), sizeof(double)));
	bool   *sent = palloc(mul_size(Max(nold, 1), sizeof(bool)));
	Datum  *days = palloc(mul_size(Max(nold, 1), sizeof(Datum)));
	Datum  *pr = palloc(mul_size(Max(nold, 1), sizeof(Datum)));
	Datum  *ar = palloc(mul_size(Max(nold, 1), sizeof(Datum)));
	int		n = 0;
	int		f = 0;
	int		k = 0;
	int		next;

	qsort(fetched, nfetched, sizeof(DateADT), CompareDays);
	for (int i = 0; i < nold; i++)
	{
		while (f < nfetched && fetched[f] < old[i].day)
			f++;
		while (k < nnow && now[k].day < old[i].day)
			k++;
		sent[i] = f < nfetched && fetched[f] == old[i].day;
		ratio[i] = adj_ratio[i] = 1.0;
		if (sent[i] && k < nnow && now[k].day == old[i].day)
		{
			ratio[i] = now[k].close / old[i].close;
			adj_ratio[i] = (isnan(old[i].adj_close) || isnan(now[k].adj_close)) ?
							   ratio[i] :
							   now[k].adj_close / old[i].adj_close;
		}
	}

	/* the nearest later sent day, from the end backwards; after the last, the last */
	next = -1;
	for (int i = nold - 1; i >= 0; i--)
	{
		if (sent[i])
			next = i;
		else if (next >= 0)
		{
			ratio[i] = ratio[next];
			adj_ratio[i] = adj_ratio[next];
		}
	}
	for (int i = nold - 1, last = -1; i >= 0 && last < 0; i--)
		if (sent[i])
		{
			last = i;
			for (int j = i + 1; j < nold; j++)
			{
				ratio[j] = ratio[i];
				adj_ratio[j] = adj_ratio[i];
			}
		}
	for (int i = 0; i < nold; i++)
		if (!sent[i] && (Differs(1.0, ratio[i]) || Differs(1.0, adj_ratio[i])))
		{
			days[n] = DateADTGetDatum(old[i].day);
			pr[n] = Float8GetDatum(ratio[i]);
			ar[n] = Float8GetDatum(adj_ratio[i]);
			n++;
		}
	if (n == 0)
		return 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("UPDATE stockml.prices p"
							  "   SET open = p.open * r.pr, high = p.high * r.pr, low = p.low * r.pr,"
							  "       close = p.close * r.pr, adj_close = p.adj_close * r.ar,"
							  "       volume = round(p.volume / r.pr)::bigint, ingested_at = now()"
							  "  FROM unnest($2::date[], $3::float8[], $4::float8[]) AS r(day, pr, ar)"
							  " WHERE p.symbol = $1 AND p.day = r.day",
							  4, (Oid[]) {TEXTOID, DATEARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID},
							  (Datum[]) {CStringGetTextDatum(symbol),
										 PointerGetDatum(construct_array(days, n, DATEOID, sizeof(DateADT), true, TYPALIGN_INT)),
										 PointerGetDatum(construct_array(pr, n, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)),
										 PointerGetDatum(construct_array(ar, n, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE))},
							  NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not re-scale stored bars");
	SPI_finish();
	return n;
}

/*
 * A forecast's predicted close is on the scale of its as_of bar as it was
 * stored; forecast_accuracy() realizes it at close(as_of) * total_return.
 * When the as_of bar is re-scaled, so are the forecast and its interval
 * (as the extension's owner: the ledger is not the refreshing user's to
 * write).  Returns the forecasts re-scaled.
 */
static int64
RescaleLedger(const char *symbol, const ReadjustBar *old, int nold, const double *ratio)
{
	Datum			  *days = palloc(mul_size(Max(nold, 1), sizeof(Datum)));
	Datum			  *pr = palloc(mul_size(Max(nold, 1), sizeof(Datum)));
	int				   n = 0;
	int64			   done;
	StockmlOwnerSwitch sw;

	for (int i = 0; i < nold; i++)
		if (Differs(1.0, ratio[i]))
		{
			days[n] = DateADTGetDatum(old[i].day);
			pr[n] = Float8GetDatum(ratio[i]);
			n++;
		}
	if (n == 0)
		return 0;
	StockmlBecomeOwner(&sw);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("UPDATE stockml.predictions l"
							  "   SET predicted_close = l.predicted_close * r.pr,"
							  "       lower = l.lower * r.pr, upper = l.upper * r.pr"
							  "  FROM unnest($2::date[], $3::float8[]) AS r(day, pr)"
							  " WHERE l.symbol = $1 AND l.as_of = r.day",
							  3, (Oid[]) {TEXTOID, DATEARRAYOID, FLOAT8ARRAYOID},
							  (Datum[]) {CStringGetTextDatum(symbol),
										 PointerGetDatum(construct_array(days, n, DATEOID, sizeof(DateADT), true, TYPALIGN_INT)),
										 PointerGetDatum(construct_array(pr, n, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE))},
							  NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not re-scale the forecast ledger");
	done = (int64) SPI_processed;
	SPI_finish();
	StockmlRestoreUser(&sw);
	return done;
}

char *
ReadjustStoreFullHistory(const PriceSource *source, const char *symbol,
						 const char *body, size_t len, DateADT end,
						 const char *reason, IngestCounts *counts)
{
	int			 nold;
	int			 nnow;
	ReadjustBar *old = ReadBars(symbol, DATEVAL_NOBEGIN, &nold);
	ReadjustBar *now;
	double		*ratio = palloc(mul_size(Max(nold, 1), sizeof(double)));
	int64		 rescaled;
	int64		 forecasts;
	bool		 common = false;

	counts->keep_days = true;
	source->store(symbol, body, len, DATEVAL_NOBEGIN, end, counts);

	now = ReadBars(symbol, DATEVAL_NOBEGIN, &nnow);
	rescaled = RescaleMissingBars(symbol, old, nold, now, nnow, counts->days, counts->ndays, ratio);
	for (int i = 0, f = 0; i < nold && !common; i++)
	{
		while (f < counts->ndays && counts->days[f] < old[i].day)
			f++;
		common = f < counts->ndays && counts->days[f] == old[i].day;
	}
	if (nold > 0 && !common)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("full history of symbol \"%s\" from %s shares no day with the stored bars",
						symbol, source->label),
				 errdetail("refresh() re-fetched it because of %s; its bars cannot be put on the stored ones' scale.",
						   reason),
				 errhint("Check the symbol, or delete its stored bars and fetch it again: DELETE FROM stockml.prices WHERE symbol = '%s';",
						 symbol)));
	forecasts = RescaleLedger(symbol, old, nold, ratio);
	return psprintf("re-adjusted: %s; full history re-fetched, %lld bars rewritten, %lld new"
					"%s%s",
					reason, (long long) counts->updated + (long long) rescaled, (long long) counts->inserted,
					rescaled > 0 ? psprintf(", %lld stored bars the provider no longer sends re-scaled like their neighbours",
											(long long) rescaled) :
								   "",
					forecasts > 0 ? psprintf(", %lld forecasts put on the new scale", (long long) forecasts) : "");
}
