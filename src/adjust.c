/*
 * adjust.c — backward total-return adjustment (doc/adjustment.md) and
 * stockml.total_return(symbol, from_day, to_day).
 *
 * Between two neighbouring stored bars t < u the factor steps by
 *   (adj_close[t] / close[t]) / (adj_close[u] / close[u])   when both have an
 *                                                           adjusted close,
 * else by the product over the corporate actions with t < ex-date <= u of
 *   denominator / numerator   for a split (a 2:1 split halves earlier prices),
 *   1 - amount / close[t]     for a cash dividend (close[t]: the day before).
 * Factors are products of steps from the last bar back, so the last bar keeps
 * its stored price and every return is a total return.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "catalog/namespace.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "common/hashfn.h"
#include "storage/proc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#include "adjust.h"
#include "distributed.h"
#include "price_store.h"
#include "roles.h"

PG_FUNCTION_INFO_V1(stockml_total_return);

typedef struct CorporateEvent
{
	DateADT day;
	bool	split;
	double	amount; /* dividend per share */
	double	ratio;	/* numerator / denominator of a split */
} CorporateEvent;

static CorporateEvent *LoadEvents(const char *symbol, DateADT after, DateADT upto, int *nevents);
static void			   AdjustFactors(const char *symbol, const AdjustInput *bars, int nbars, const CorporateEvent *events,
									 int nevents, double *price, double *volume);

/* stockml.prices, whose distribution decides where a symbol's rows are read (distributed.c) */
static Oid
PricesRelid(void)
{
	return get_relname_relid("prices", get_namespace_oid("stockml", false));
}

/* The symbol's splits and dividends with after < day <= upto, oldest first */
static CorporateEvent *
LoadEvents(const char *symbol, DateADT after, DateADT upto, int *nevents)
{
	static SPIPlanPtr  plan = NULL;
	MemoryContext	   caller = CurrentMemoryContext;
	CorporateEvent	  *events;
	Datum			   args[3];
	int				   rc;
	StockmlOwnerSwitch sw;
	int				   nested;

	/* as the owner: the adjustment must not depend on the caller's privileges */
	/* inside a query Citus pushed to the symbol's shard: that shard, on this node */
	nested = CitusAllowLocalNestedReads(PricesRelid());
	StockmlBecomeOwner(&sw);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* the generic plan, as total_return()'s: no planning per call */
	if (plan == NULL)
	{
		SPIPlanPtr p = SPI_prepare_cursor("SELECT day, kind = 'split', amount, numerator / denominator"
										  "  FROM stockml.corporate_actions"
										  " WHERE symbol = $1 AND day > $2 AND day <= $3"
										  " ORDER BY day, kind",
										  3, (Oid[]) {TEXTOID, DATEOID, DATEOID}, CURSOR_OPT_GENERIC_PLAN);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		plan = p;
	}
	args[0] = CStringGetTextDatum(symbol);
	args[1] = DateADTGetDatum(after);
	args[2] = DateADTGetDatum(upto);
	rc = SPI_execute_plan(plan, args, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading stockml.corporate_actions failed: %s", SPI_result_code_string(rc));
	*nevents = (int) SPI_processed;
	events = MemoryContextAlloc(caller, sizeof(CorporateEvent) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple tup = SPI_tuptable->vals[i];
		TupleDesc desc = SPI_tuptable->tupdesc;
		bool	  isnull;
		Datum	  v;

		events[i].day = DatumGetDateADT(SPI_getbinval(tup, desc, 1, &isnull));
		events[i].split = DatumGetBool(SPI_getbinval(tup, desc, 2, &isnull));
		v = SPI_getbinval(tup, desc, 3, &isnull);
		events[i].amount = isnull ? 0.0 : DatumGetFloat8(v);
		v = SPI_getbinval(tup, desc, 4, &isnull);
		events[i].ratio = isnull ? 1.0 : DatumGetFloat8(v);
	}
	SPI_finish();
	StockmlRestoreUser(&sw);
	CitusRestoreSettings(nested);
	return events;
}

/* Whether some pair of neighbouring bars lacks an adjusted close (the factors then need the events) */
static bool
NeedEvents(const AdjustInput *bars, int nbars)
{
	for (int t = 0; t + 1 < nbars; t++)
		if (isnan(bars[t].adj_close) || isnan(bars[t + 1].adj_close))
			return true;
	return false;
}

void
PriceAdjustFactors(const char *symbol, const AdjustInput *bars, int nbars,
				   double *price, double *volume)
{
	CorporateEvent *events = NULL;
	int				nevents = 0;

	if (nbars == 0)
		return;
	if (NeedEvents(bars, nbars))
		events = LoadEvents(symbol, bars[0].day, bars[nbars - 1].day, &nevents);
	AdjustFactors(symbol, bars, nbars, events, nevents, price, volume);
}

/*
 * PriceAdjustFactors with the events given: at least those with
 * bars[0].day < day <= bars[nbars - 1].day, oldest first (the steps consume
 * only those; others, before or after, change nothing)
 */
static void
AdjustFactors(const char *symbol, const AdjustInput *bars, int nbars, const CorporateEvent *events, int nevents,
			  double *price, double *volume)
{
	int e;

	price[nbars - 1] = 1.0;
	if (volume)
		volume[nbars - 1] = 1.0;
	e = nevents - 1;
	for (int t = nbars - 2; t >= 0; t--)
	{
		const AdjustInput *a = &bars[t];
		const AdjustInput *b = &bars[t + 1];
		double			   step = 1.0;
		double			   vstep = 1.0;

		/* the events in (a->day, b->day]; later ones were passed already */
		for (; e >= 0 && events[e].day > b->day; e--)
			;
		if (!isnan(a->adj_close) && !isnan(b->adj_close))
		{
			step = (a->adj_close / a->close) / (b->adj_close / b->close);
			for (; e >= 0 && events[e].day > a->day; e--)
				;
		}
		else
		{
			for (; e >= 0 && events[e].day > a->day; e--)
			{
				if (events[e].split)
				{
					step /= events[e].ratio;
					vstep *= events[e].ratio;
				}
				else if (events[e].amount >= a->close)
				{
					char *day = DatumGetCString(DirectFunctionCall1(date_out,
																	DateADTGetDatum(events[e].day)));

					ereport(ERROR,
							(errcode(ERRCODE_DATA_EXCEPTION),
							 errmsg("dividend of %g on %s for symbol \"%s\" is not below the close of the day before (%g)",
									events[e].amount, day, symbol, a->close),
							 errdetail("A cash dividend multiplies earlier prices by 1 - dividend / close, which must stay positive."),
							 errhint("Correct the row in stockml.corporate_actions, or store the bars with an adjusted close.")));
				}
				else
					step *= 1.0 - events[e].amount / a->close;
			}
		}
		price[t] = price[t + 1] * step;
		if (volume)
			volume[t] = volume[t + 1] * vstep;
	}
}

/*
 * What total_return() keeps between the calls of one query (fn_extra, in
 * the query's memory): a symbol's bars over [lo, hi], all it stores there,
 * and the corporate actions in that span once some call needed them.  The
 * function is STABLE: every call of one query reads under the same
 * snapshot, so a kept bar is the bar a new read would return.  A symbol's
 * first call reads just its two days (a single call costs what it did); a
 * second call of the same symbol outside them reads its whole history, so
 * monitor() and the forecast views, one call per forecast, read each
 * symbol once instead of once a forecast.  Kept only while the active
 * snapshot sees what it saw: PL/pgSQL keeps a simple expression's fn_extra
 * for the whole transaction and evaluates it under a new snapshot each time
 * in a volatile function, which may have changed prices in between; another
 * snapshot (or command id) starts the cache anew.
 */
#define RETURN_CACHE_SYMBOLS 8

/* What decides which rows a read sees: equal keys, equal rows */
typedef struct SnapshotKey
{
	LocalTransactionId lxid;
	TransactionId	   xmin,
		xmax;
	CommandId curcid;
	uint32	  xcnt;
	int32	  subxcnt;
	bool	  suboverflowed;
	uint32	  xip_hash;
} SnapshotKey;

typedef struct ReturnCacheEntry
{
	char   *symbol;
	DateADT lo,
		hi;
	AdjustInput	   *bars;
	int				nbars;
	bool			events_loaded;
	CorporateEvent *events;
	int				nevents;
} ReturnCacheEntry;

typedef struct ReturnCache
{
	SnapshotKey		 key;
	int				 n;
	int				 next; /* the entry a new symbol replaces when all are taken */
	ReturnCacheEntry entry[RETURN_CACHE_SYMBOLS];
} ReturnCache;

/* Free what entry e holds (its symbol too when all) */
static void
ForgetEntry(ReturnCacheEntry *e, bool all)
{
	if (all && e->symbol)
		pfree(e->symbol);
	if (e->bars)
		pfree(e->bars);
	if (e->events)
		pfree(e->events);
}

/* The bars of symbol over [from, to] into e (its memory: cxt), as the extension's owner */
static void
LoadReturnBars(ReturnCacheEntry *e, const char *symbol, DateADT from, DateADT to, MemoryContext cxt)
{
	static SPIPlanPtr  plan = NULL;
	StockmlOwnerSwitch sw;
	int				   nested;
	AdjustInput		  *bars;
	int				   nbars;

	/*
	 * Inside a query Citus pushed to this symbol's shard (a view over the
	 * ledger), the reads below are of that shard, on this node
	 */
	nested = CitusAllowLocalNestedReads(PricesRelid());
	StockmlBecomeOwner(&sw);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/*
	 * kept: always the generic plan (an index scan of prices_pkey whatever
	 * the days): a custom plan per call was most of monitor()'s time, as the
	 * plan cache kept finding it cheaper than the generic one (issue 13)
	 */
	if (plan == NULL)
	{
		SPIPlanPtr p = SPI_prepare_cursor("SELECT day, close, coalesce(adj_close, 'NaN')"
										  "  FROM stockml.prices"
										  " WHERE symbol = $1 AND day >= $2 AND day <= $3 ORDER BY day",
										  3, (Oid[]) {TEXTOID, DATEOID, DATEOID}, CURSOR_OPT_GENERIC_PLAN);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		plan = p;
	}
	if (SPI_execute_plan(plan,
						 (Datum[]) {CStringGetTextDatum(symbol), DateADTGetDatum(from), DateADTGetDatum(to)},
						 NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading stockml.prices failed");
	/* in cxt: SPI_finish frees SPI's; e changes only once all is read */
	nbars = (int) SPI_processed;
	bars = MemoryContextAlloc(cxt, sizeof(AdjustInput) * Max(nbars, 1));
	for (int i = 0; i < nbars; i++)
	{
		HeapTuple tup = SPI_tuptable->vals[i];
		bool	  isnull;

		bars[i].day = DatumGetDateADT(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
		bars[i].close = DatumGetFloat8(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));
		bars[i].adj_close = DatumGetFloat8(SPI_getbinval(tup, SPI_tuptable->tupdesc, 3, &isnull));
	}
	if (e->symbol == NULL || strcmp(e->symbol, symbol) != 0)
	{
		char *copy = MemoryContextStrdup(cxt, symbol);

		if (e->symbol)
			pfree(e->symbol);
		e->symbol = copy;
	}
	ForgetEntry(e, false);
	e->lo = from;
	e->hi = to;
	e->bars = bars;
	e->nbars = nbars;
	e->events_loaded = false;
	e->events = NULL;
	e->nevents = 0;
	SPI_finish();
	StockmlRestoreUser(&sw);
	CitusRestoreSettings(nested);
}

static bool
SnapshotKeyEqual(const SnapshotKey *a, const SnapshotKey *b)
{
	return a->lxid == b->lxid && a->xmin == b->xmin && a->xmax == b->xmax && a->curcid == b->curcid &&
		   a->xcnt == b->xcnt && a->subxcnt == b->subxcnt && a->suboverflowed == b->suboverflowed &&
		   a->xip_hash == b->xip_hash;
}

/* The key of the active snapshot */
static void
ActiveSnapshotKey(SnapshotKey *k)
{
	Snapshot snap = GetActiveSnapshot();

	memset(k, 0, sizeof(SnapshotKey));
	k->lxid = MyProc->lxid;
	k->xmin = snap->xmin;
	k->xmax = snap->xmax;
	k->curcid = snap->curcid;
	k->xcnt = snap->xcnt;
	k->subxcnt = snap->subxcnt;
	k->suboverflowed = snap->suboverflowed;
	if (snap->xcnt > 0)
		k->xip_hash = hash_bytes((const unsigned char *) snap->xip, (int) (sizeof(TransactionId) * snap->xcnt));
	if (snap->subxcnt > 0)
		k->xip_hash ^= hash_bytes((const unsigned char *) snap->subxip,
								  (int) (sizeof(TransactionId) * snap->subxcnt));
}

/* The index of the bar of day in bars[0..n) (ordered by day), -1 when none */
static int
FindBar(const AdjustInput *bars, int n, DateADT day)
{
	int lo = 0,
		hi = n;

	while (lo < hi)
	{
		int mid = lo + (hi - lo) / 2;

		if (bars[mid].day < day)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && bars[lo].day == day ? lo : -1;
}

/*
 * stockml.total_return(symbol, from_day, to_day): adjusted close on to_day /
 * adjusted close on from_day, both days stored bars (NULL otherwise).  The
 * realized price of a forecast made on from_day, on that day's price scale,
 * is close(from_day) * total_return.  Reads the bars as the extension's
 * owner, like predict(), so the Grafana reader's views can call it.
 */
Datum
stockml_total_return(PG_FUNCTION_ARGS)
{
	char			  *symbol = text_to_cstring(PG_GETARG_TEXT_PP(0));
	DateADT			   from = PG_GETARG_DATEADT(1);
	DateADT			   to = PG_GETARG_DATEADT(2);
	bool			   reversed = from > to;
	ReturnCache		  *cache = (ReturnCache *) fcinfo->flinfo->fn_extra;
	MemoryContext	   cxt = fcinfo->flinfo->fn_mcxt;
	ReturnCacheEntry  *e = NULL;
	SnapshotKey		   key;
	const AdjustInput *bars;
	double			  *factor;
	int				   first,
		last,
		nbars;
	double ratio;

	if (reversed)
	{
		DateADT tmp = from;

		from = to;
		to = tmp;
	}
	if (cache == NULL)
		fcinfo->flinfo->fn_extra = cache = MemoryContextAllocZero(cxt, sizeof(ReturnCache));
	ActiveSnapshotKey(&key);
	if (!SnapshotKeyEqual(&key, &cache->key))
	{
		/* rows this snapshot may not see as the kept ones were seen: forget them */
		for (int i = 0; i < cache->n; i++)
			ForgetEntry(&cache->entry[i], true);
		memset(cache, 0, sizeof(ReturnCache));
		cache->key = key;
	}
	for (int i = 0; i < cache->n && e == NULL; i++)
		if (cache->entry[i].symbol && strcmp(cache->entry[i].symbol, symbol) == 0)
			e = &cache->entry[i];
	if (e == NULL)
	{
		/* a symbol not kept: its two days only */
		if (cache->n < RETURN_CACHE_SYMBOLS)
			e = &cache->entry[cache->n++];
		else
		{
			e = &cache->entry[cache->next];
			cache->next = (cache->next + 1) % RETURN_CACHE_SYMBOLS;
		}
		LoadReturnBars(e, symbol, from, to, cxt);
	}
	else if (from < e->lo || to > e->hi)
		LoadReturnBars(e, symbol, DATEVAL_NOBEGIN, DATEVAL_NOEND, cxt);
	first = FindBar(e->bars, e->nbars, from);
	last = FindBar(e->bars, e->nbars, to);
	if (first < 0 || last < 0)
		PG_RETURN_NULL();
	bars = e->bars + first;
	nbars = last - first + 1;
	factor = palloc(sizeof(double) * nbars);
	if (NeedEvents(bars, nbars) && !e->events_loaded)
	{
		/* the actions of the whole span kept: those of [from, to] among them */
		MemoryContext old = MemoryContextSwitchTo(cxt);

		e->events = LoadEvents(symbol, e->bars[0].day, e->bars[e->nbars - 1].day, &e->nevents);
		e->events_loaded = true;
		MemoryContextSwitchTo(old);
	}
	AdjustFactors(symbol, bars, nbars, e->events, e->nevents, factor, NULL);
	ratio = bars[nbars - 1].close / (bars[0].close * factor[0]);
	pfree(factor);
	PG_RETURN_FLOAT8(reversed ? 1.0 / ratio : ratio);
}
