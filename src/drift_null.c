/*
 * drift_null.c — the empirical drift null train() keeps (issue 15 item 1).
 *
 * Rolling-window features (ret_20, sma_ratio_50, ...) are strongly
 * autocorrelated, so a 40-60 row monitoring window is never an i.i.d. sample
 * of the reference and the textbook p-values (KS) or fixed distances (PSI
 * 0.1, ...) flag stationary series most of the time.  Instead train() keeps,
 * for each feature and each statistic, the statistic between the reference
 * sample and DRIFT_NULL_WINDOWS windows of the training period itself: blocks
 * of consecutive days as long as the policy's monitoring window (calendar
 * days, as monitor() cuts its window), their first days evenly spaced over
 * the period.  A block keeps the autocorrelation of the features.  Its rows,
 * and a guard of one window length on each side, are left out of the
 * reference it is compared with: a future window is not in the reference
 * either, and the rows next to a block share most of its rolling features
 * (sma_ratio_50 shares 49 of 50 closes with the day before), so without the
 * guard a block looks closer to the reference than a future window does.
 * The decision made with the null at monitor time is drift_rule.c's.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "drift.h"

#define DRIFT_NULL_WINDOWS 100
#define DRIFT_DEFAULT_WINDOW_DAYS 60

typedef struct RefValue
{
	double v;
	int64  k; /* its position in the reference sample */
} RefValue;

#define ST_SORT SortRefValues
#define ST_ELEMENT_TYPE RefValue
#define ST_COMPARE(a, b) (((a)->v > (b)->v) - ((a)->v < (b)->v))
#define ST_SCOPE static
#define ST_DECLARE
#define ST_DEFINE
#include "lib/sort_template.h"

#define ST_SORT SortDoubles
#define ST_ELEMENT_TYPE double
#define ST_COMPARE(a, b) ((*(a) > *(b)) - (*(a) < *(b)))
#define ST_SCOPE static
#define ST_DECLARE
#define ST_DEFINE
#include "lib/sort_template.h"

static int	 PolicyWindowDays(const char *model_name);
static int64 FirstReferenceAtOrAfter(int64 row, int64 rows, int64 n);
static int	 FirstDayAtOrAfter(const DriftNullInput *in, DateADT day);

/* The monitoring window of the model's retrain policy (60 days without one) */
static int
PolicyWindowDays(const char *model_name)
{
	Datum arg = CStringGetTextDatum(model_name);
	bool  isnull;

	if (SPI_execute_with_args("SELECT window_days FROM stockml.retrain_policies WHERE model_name = $1",
							  1, (Oid[]) {TEXTOID}, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the retrain policy");
	if (SPI_processed == 1)
	{
		Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			return DatumGetInt32(d);
	}
	return DRIFT_DEFAULT_WINDOW_DAYS;
}

/* The first k whose reference row is at or after row (rows when none) */
static int64
FirstReferenceAtOrAfter(int64 row, int64 rows, int64 n)
{
	int64 lo = 0,
		  hi = rows;

	while (lo < hi)
	{
		int64 mid = lo + (hi - lo) / 2;

		if (ReferenceRowIndex(mid, rows, n) < row)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The first day index at or after day (ndays when none) */
static int
FirstDayAtOrAfter(const DriftNullInput *in, DateADT day)
{
	int lo = 0,
		hi = in->ndays;

	while (lo < hi)
	{
		int mid = lo + (hi - lo) / 2;

		if (in->days[mid] < day)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int
DriftNullStore(int64 model_id, const char *model_name, const DriftNullInput *in)
{
	int	   window_days;
	int	   last_start;
	int	   nwin;
	int	   neighbours;
	int	  *first_day;
	int64 *win_from,
		*win_to,
		*k_from,
		*k_to;
	int64		  rows = Min(in->reference_rows, in->n);
	RefValue	 *ref;
	double		 *refsub;
	double		 *cur;
	double		 *stats;
	double		  one[DRIFT_NMETHODS];
	SPIPlanPtr	  plan;
	MemoryContext per_window;
	MemoryContext old;
	bool		  isnull;

	if (SPI_execute("SELECT pg_catalog.to_regclass('stockml.drift_null') IS NOT NULL", true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look for stockml.drift_null");
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		return 0;
	if (in->ndays < 1 || rows < 1)
		return 0;
	window_days = PolicyWindowDays(model_name);

	/* the latest first day of a window that ends inside the training period */
	last_start = -1;
	for (int s = 0; s < in->ndays; s++)
		if (in->days[s] + window_days - 1 <= in->days[in->ndays - 1])
			last_start = s;
	if (last_start < 0)
	{
		/* monitor() says so when it matters */
		ereport(DEBUG1,
				(errmsg("no drift null kept for \"%s\": its training period is shorter than the %d-day monitoring window",
						model_name, window_days),
				 errhint("monitor() uses the fixed drift thresholds for this version.")));
		return 0;
	}

	/*
	 * the windows: rows [win_from, win_to), their first days evenly spaced;
	 * reference positions [k_from, k_to) left out: the window and window_days
	 * calendar days on each side
	 */
	nwin = Min(DRIFT_NULL_WINDOWS, last_start + 1);
	win_from = palloc(sizeof(int64) * nwin);
	win_to = palloc(sizeof(int64) * nwin);
	k_from = palloc(sizeof(int64) * nwin);
	k_to = palloc(sizeof(int64) * nwin);
	first_day = palloc(sizeof(int) * nwin);
	for (int b = 0; b < nwin; b++)
	{
		int s = nwin > 1 ? (int) ((int64) b * last_start / (nwin - 1)) : 0;
		int e = FirstDayAtOrAfter(in, in->days[s] + window_days);
		int g0 = FirstDayAtOrAfter(in, in->days[s] - window_days);
		int g1 = FirstDayAtOrAfter(in, in->days[s] + 2 * window_days);

		first_day[b] = s;
		win_from[b] = in->day_start[s];
		win_to[b] = in->day_start[e];
		k_from[b] = FirstReferenceAtOrAfter(in->day_start[g0], rows, in->n);
		k_to[b] = FirstReferenceAtOrAfter(in->day_start[g1], rows, in->n);
	}

	/*
	 * neighbours: windows fewer places apart than this overlap each other's
	 * window or guard, so drift_rule.c's calibration leaves them out of each
	 * other's comparison
	 */
	neighbours = 1;
	for (int b = 0; b < nwin; b++)
	{
		int c = b + 1;

		while (c < nwin && in->days[first_day[c]] < in->days[first_day[b]] + 2 * window_days)
			c++;
		neighbours = Max(neighbours, c - b);
	}

	plan = SPI_prepare("INSERT INTO stockml.drift_null (model_id, feature, method, window_days, statistics, neighbours)"
					   " VALUES ($1, $2, $3, $4, $5, $6)",
					   6, (Oid[]) {INT8OID, TEXTOID, TEXTOID, INT4OID, FLOAT8ARRAYOID, INT4OID});
	if (plan == NULL)
		elog(ERROR, "could not prepare the drift null insert");

	ref = palloc(sizeof(RefValue) * rows);
	refsub = palloc(sizeof(double) * rows);
	cur = palloc(sizeof(double) * Max(in->n, 1));
	stats = palloc(sizeof(double) * DRIFT_NMETHODS * nwin);
	per_window = AllocSetContextCreate(CurrentMemoryContext, "stockml drift null", ALLOCSET_DEFAULT_SIZES);
	for (int j = 0; j < in->p; j++)
	{
		int64 nref = 0;

		for (int64 k = 0; k < rows; k++)
		{
			double v = in->x[ReferenceRowIndex(k, rows, in->n) * in->p + j];

			if (isfinite(v))
			{
				ref[nref].v = v;
				ref[nref].k = k;
				nref++;
			}
		}
		SortRefValues(ref, nref);
		for (int b = 0; b < nwin; b++)
		{
			int ncur = 0;
			int nsub = 0;

			CHECK_FOR_INTERRUPTS();
			for (int64 i = win_from[b]; i < win_to[b]; i++)
			{
				double v = in->x[i * in->p + j];

				if (isfinite(v))
					cur[ncur++] = v;
			}
			for (int64 r = 0; r < nref; r++)
				if (ref[r].k < k_from[b] || ref[r].k >= k_to[b])
					refsub[nsub++] = ref[r].v;
			SortDoubles(cur, ncur);
			if (ncur > 0 && nsub > 0)
			{
				old = MemoryContextSwitchTo(per_window);
				DriftStatistics(refsub, nsub, cur, ncur, one);
				MemoryContextSwitchTo(old);
				MemoryContextReset(per_window);
			}
			for (int m = 0; m < DRIFT_NMETHODS; m++)
				stats[m * nwin + b] = (ncur > 0 && nsub > 0) ? one[m] : NAN;
		}
		for (int m = 0; m < DRIFT_NMETHODS; m++)
		{
			Datum *elems = palloc(sizeof(Datum) * nwin);
			Datum  args[6];

			for (int b = 0; b < nwin; b++)
				elems[b] = Float8GetDatum(stats[m * nwin + b]);
			args[0] = Int64GetDatum(model_id);
			args[1] = CStringGetTextDatum(in->names[j]);
			args[2] = CStringGetTextDatum(DriftMethodNames[m]);
			args[3] = Int32GetDatum(window_days);
			args[4] = PointerGetDatum(construct_array(elems, nwin, FLOAT8OID, sizeof(float8),
													  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
			args[5] = Int32GetDatum(neighbours);
			if (SPI_execute_plan(plan, args, NULL, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not store the drift null");
			pfree(elems);
		}
	}
	MemoryContextDelete(per_window);
	SPI_freeplan(plan);
	return nwin;
}
