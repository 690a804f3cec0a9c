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
#include "utils/lsyscache.h"

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

	/* as the owner: the adjustment must not depend on the caller's privileges */
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
	return events;
}

void
PriceAdjustFactors(const char *symbol, const AdjustInput *bars, int nbars,
				   double *price, double *volume)
{
	CorporateEvent *events = NULL;
	int				nevents = 0;
	int				e;
	bool			need_events = false;

	if (nbars == 0)
		return;
	for (int t = 0; t + 1 < nbars && !need_events; t++)
		need_events = isnan(bars[t].adj_close) || isnan(bars[t + 1].adj_close);
	if (need_events)
		events = LoadEvents(symbol, bars[0].day, bars[nbars - 1].day, &nevents);

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
 * stockml.total_return(symbol, from_day, to_day): adjusted close on to_day /
 * adjusted close on from_day, both days stored bars (NULL otherwise).  The
 * realized price of a forecast made on from_day, on that day's price scale,
 * is close(from_day) * total_return.  Reads the bars as the extension's
 * owner, like predict(), so the Grafana reader's views can call it.
 */
Datum
stockml_total_return(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr  plan = NULL;
	char			  *symbol = text_to_cstring(PG_GETARG_TEXT_PP(0));
	DateADT			   from = PG_GETARG_DATEADT(1);
	DateADT			   to = PG_GETARG_DATEADT(2);
	bool			   reversed = from > to;
	StockmlOwnerSwitch sw;
	AdjustInput		  *bars;
	double			  *factor;
	int				   nbars;
	double			   ratio;
	MemoryContext	   caller;
	int				   nested;

	if (reversed)
	{
		DateADT tmp = from;

		from = to;
		to = tmp;
	}
	/*
	 * Inside a query Citus pushed to this symbol's shard (a view over the
	 * ledger), the reads below are of that shard, on this node
	 */
	nested = CitusAllowLocalNestedReads(get_relname_relid("prices", get_namespace_oid("stockml", false)));
	StockmlBecomeOwner(&sw);
	caller = CurrentMemoryContext;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/*
	 * kept: monitor() and the forecast views call this once per forecast.
	 * Always the generic plan (an index scan of prices_pkey whatever the
	 * days): a custom plan per call was most of monitor()'s time, as the plan
	 * cache kept finding it cheaper than the generic one (issue 13 item 3)
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
	nbars = (int) SPI_processed;
	/* in the caller's context: SPI_finish frees SPI's, and the bars are read after it */
	bars = MemoryContextAlloc(caller, sizeof(AdjustInput) * Max(nbars, 1));
	for (int i = 0; i < nbars; i++)
	{
		HeapTuple tup = SPI_tuptable->vals[i];
		bool	  isnull;

		bars[i].day = DatumGetDateADT(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
		bars[i].close = DatumGetFloat8(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));
		bars[i].adj_close = DatumGetFloat8(SPI_getbinval(tup, SPI_tuptable->tupdesc, 3, &isnull));
	}
	SPI_finish();
	if (nbars == 0 || bars[0].day != from || bars[nbars - 1].day != to)
	{
		StockmlRestoreUser(&sw);
		CitusRestoreSettings(nested);
		PG_RETURN_NULL();
	}
	factor = palloc(sizeof(double) * nbars);
	PriceAdjustFactors(symbol, bars, nbars, factor, NULL);
	StockmlRestoreUser(&sw);
	CitusRestoreSettings(nested);
	ratio = bars[nbars - 1].close / (bars[0].close * factor[0]);
	PG_RETURN_FLOAT8(reversed ? 1.0 / ratio : ratio);
}
