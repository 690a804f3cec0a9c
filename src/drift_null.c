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
/* the guard on each side of a null window, in window lengths */
#define DRIFT_NULL_GUARD 1

/*
 * The windows of a null: rows [from, to) of days [day_from, day_to); their
 * finite values of one feature at cur + off[b] (SortedSamples, unless pooled).
 */
typedef struct NullWindows
{
	int	   nwin;
	int64 *from,
		*to;
	int *day_from,
		*day_to;
	int64 *off;
	bool   pooled; /* SortedSamples sorts the period once into a pool */
} NullWindows;

#define ST_SORT SortRefValues
#define ST_ELEMENT_TYPE DriftRefValue
#define ST_COMPARE(a, b) (((a)->v > (b)->v) - ((a)->v < (b)->v))
#define ST_SCOPE static
#define ST_DECLARE
#define ST_DEFINE
#include "lib/sort_template.h"

static void	 PlanWindows(const DriftNullInput *in, int64 rows, NullWindows *w);
static int64 SortedSamples(const DriftNullInput *in, int j, const NullWindows *w, const int32 *ref_k,
						   int64 rows, DriftRefValue *ref, double *cur, int *ncur, uint64 *keys,
						   DriftPoolValue *pool, DriftPoolValue *pool_tmp);
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

/*
 * Where each window's values go in cur (off), and whether SortedSamples
 * pools: when sorting every training value once and walking all of them per
 * window costs less than sorting the reference and each window and merging
 * the two (sum of m log m + m + rows), as with one symbol's few thousand rows
 * and long windows; not with many symbols' rows and a small reference.
 */
static void
PlanWindows(const DriftNullInput *in, int64 rows, NullWindows *w)
{
	double gather = (double) rows * log2((double) rows + 1.0);
	double pool = (double) in->n * log2((double) in->n + 1.0);

	w->off = palloc(sizeof(int64) * (w->nwin + 1));
	w->off[0] = 0;
	for (int b = 0; b < w->nwin; b++)
	{
		double m = (double) (w->to[b] - w->from[b]);

		w->off[b + 1] = w->off[b] + (w->to[b] - w->from[b]);
		gather += m * log2(m + 1.0) + m + (double) rows;
		pool += (double) in->n;
	}
	w->pooled = pool < gather;
}

/*
 * Feature j's samples, sorted: its reference values (returns how many are
 * finite) and its finite values in each window b, at cur + off[b] (ncur[b]
 * of them), each gathered and sorted; or (w->pooled) every finite training
 * value sorted once into pool (returns how many), which
 * DriftStatisticsOfPool reads the samples of every window from.
 */
static int64
SortedSamples(const DriftNullInput *in, int j, const NullWindows *w, const int32 *ref_k, int64 rows,
			  DriftRefValue *ref, double *cur, int *ncur, uint64 *keys, DriftPoolValue *pool,
			  DriftPoolValue *pool_tmp)
{
	int64 nref = 0;
	int64 npool = 0;

	if (!w->pooled)
	{
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
		for (int b = 0; b < w->nwin; b++)
		{
			double *c = cur + w->off[b];

			CHECK_FOR_INTERRUPTS();
			ncur[b] = 0;
			for (int64 i = w->from[b]; i < w->to[b]; i++)
			{
				double v = in->x[i * in->p + j];

				if (isfinite(v))
					c[ncur[b]++] = v;
			}
			DriftSortValues(c, ncur[b], keys);
		}
		return nref;
	}
	for (int d = 0; d < in->ndays; d++)
		for (int64 i = in->day_start[d]; i < in->day_start[d + 1]; i++)
		{
			double v = in->x[i * in->p + j];

			if (isfinite(v))
			{
				pool[npool].v = v;
				pool[npool].day = d;
				pool[npool].k = ref_k[i];
				npool++;
			}
		}
	CHECK_FOR_INTERRUPTS();
	DriftSortPool(pool, (int) npool, pool_tmp);
	return npool;
}

int
DriftNullStore(int64 model_id, const char *model_name, const DriftNullInput *in)
{
	int			window_days;
	int			last_start;
	int			neighbours;
	NullWindows w;
	int64	   *k_from,
		*k_to;
	int64			  rows = Min(in->reference_rows, in->n);
	DriftRefValue	 *ref;
	double			 *cur;
	int				 *ncur;
	DriftPoolValue	 *pool;
	DriftPoolValue	 *pool_tmp = NULL;
	uint64			 *keys = NULL;
	int32			 *ref_k = NULL;
	Datum			 *stats;
	Datum			 *names;
	Datum			 *methods;
	Datum			  args[7];
	double			  one[DRIFT_NMETHODS];
	int64			  max_values = rows;
	DriftWalkScratch *scratch;
	MemoryContext	  per_window;
	MemoryContext	  old;
	bool			  isnull;

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
	 * the windows: rows [from, to) of days [day_from, day_to), their first
	 * days evenly spaced; reference positions [k_from, k_to) left out: the
	 * window and DRIFT_NULL_GUARD window lengths on each side, or the window
	 * alone where that would leave out more than half the reference
	 */
	w.nwin = Min(DRIFT_NULL_WINDOWS, last_start + 1);
	w.from = palloc(sizeof(int64) * w.nwin);
	w.to = palloc(sizeof(int64) * w.nwin);
	w.day_from = palloc(sizeof(int) * w.nwin);
	w.day_to = palloc(sizeof(int) * w.nwin);
	k_from = palloc(sizeof(int64) * w.nwin);
	k_to = palloc(sizeof(int64) * w.nwin);
	for (int b = 0; b < w.nwin; b++)
	{
		int s = w.nwin > 1 ? (int) ((int64) b * last_start / (w.nwin - 1)) : 0;
		int e = FirstDayAtOrAfter(in, in->days[s] + window_days);
		int g0 = FirstDayAtOrAfter(in, in->days[s] - DRIFT_NULL_GUARD * window_days);
		int g1 = FirstDayAtOrAfter(in, in->days[s] + (1 + DRIFT_NULL_GUARD) * window_days);

		w.day_from[b] = s;
		w.day_to[b] = e;
		w.from[b] = in->day_start[s];
		w.to[b] = in->day_start[e];
		k_from[b] = FirstReferenceAtOrAfter(in->day_start[g0], rows, in->n);
		k_to[b] = FirstReferenceAtOrAfter(in->day_start[g1], rows, in->n);
		if (2 * (k_to[b] - k_from[b]) > rows)
		{
			/* a short period: the guard would leave less than half the reference */
			k_from[b] = FirstReferenceAtOrAfter(w.from[b], rows, in->n);
			k_to[b] = FirstReferenceAtOrAfter(w.to[b], rows, in->n);
		}
	}
	PlanWindows(in, rows, &w);

	/*
	 * neighbours: windows fewer places apart than this overlap each other's
	 * window or guard, so drift_rule.c's calibration leaves them out of each
	 * other's comparison
	 */
	neighbours = 1;
	for (int b = 0; b < w.nwin; b++)
	{
		int c = b + 1;

		while (c < w.nwin && in->days[w.day_from[c]] < in->days[w.day_from[b]] + (1 + DRIFT_NULL_GUARD) * window_days)
			c++;
		neighbours = Max(neighbours, c - b);
	}

	ref = NULL;
	cur = NULL;
	ncur = NULL;
	pool = NULL;
	if (!w.pooled)
	{
		ref = palloc(sizeof(DriftRefValue) * rows);
		cur = palloc(sizeof(double) * Max(w.off[w.nwin], 1));
		ncur = palloc(sizeof(int) * w.nwin);
		for (int b = 0; b < w.nwin; b++)
			max_values = Max(max_values, w.to[b] - w.from[b]);
		keys = palloc(sizeof(uint64) * 2 * Max(max_values, 1));
	}
	else
	{
		/* the reference position of each training row */
		pool = palloc(sizeof(DriftPoolValue) * in->n);
		pool_tmp = palloc(sizeof(DriftPoolValue) * in->n);
		ref_k = palloc(sizeof(int32) * in->n);
		for (int64 i = 0; i < in->n; i++)
			ref_k[i] = -1;
		for (int64 k = 0; k < rows; k++)
			ref_k[ReferenceRowIndex(k, rows, in->n)] = (int32) k;
		max_values = in->n;
	}
	scratch = DriftWalkScratchCreate((int) max_values);
	/* feature j, method m, window b at stats[(j * DRIFT_NMETHODS + m) * nwin + b] */
	stats = palloc(sizeof(Datum) * DRIFT_NMETHODS * w.nwin * Max(in->p, 1));
	per_window = AllocSetContextCreate(CurrentMemoryContext, "stockml drift null", ALLOCSET_DEFAULT_SIZES);
	for (int j = 0; j < in->p; j++)
	{
		int64 nvalues = SortedSamples(in, j, &w, ref_k, rows, ref, cur, ncur, keys, pool, pool_tmp);

		for (int b = 0; b < w.nwin; b++)
		{
			bool ok;

			CHECK_FOR_INTERRUPTS();
			/* what a reference it does not walk itself needs is allocated in per_window */
			old = MemoryContextSwitchTo(per_window);
			if (w.pooled)
				ok = DriftStatisticsOfPool(pool, (int) nvalues, w.day_from[b], w.day_to[b], k_from[b],
										   k_to[b], scratch, one);
			else
				ok = DriftStatisticsExcluding(ref, (int) nvalues, k_from[b], k_to[b], cur + w.off[b], ncur[b],
											  scratch, one);
			MemoryContextSwitchTo(old);
			MemoryContextReset(per_window);
			for (int m = 0; m < DRIFT_NMETHODS; m++)
				stats[((int64) j * DRIFT_NMETHODS + m) * w.nwin + b] = Float8GetDatum(ok ? one[m] : NAN);
		}
	}
	MemoryContextDelete(per_window);

	/* every row in one statement: its slice of the statistics, in feature and method order */
	names = palloc(sizeof(Datum) * Max(in->p, 1));
	for (int j = 0; j < in->p; j++)
		names[j] = CStringGetTextDatum(in->names[j]);
	methods = palloc(sizeof(Datum) * DRIFT_NMETHODS);
	for (int m = 0; m < DRIFT_NMETHODS; m++)
		methods[m] = CStringGetTextDatum(DriftMethodNames[m]);
	args[0] = Int64GetDatum(model_id);
	args[1] = PointerGetDatum(construct_array(names, in->p, TEXTOID, -1, false, TYPALIGN_INT));
	args[2] = PointerGetDatum(construct_array(methods, DRIFT_NMETHODS, TEXTOID, -1, false, TYPALIGN_INT));
	args[3] = Int32GetDatum(window_days);
	args[4] = PointerGetDatum(construct_array(stats, DRIFT_NMETHODS * w.nwin * in->p, FLOAT8OID,
											  sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[5] = Int32GetDatum(w.nwin);
	args[6] = Int32GetDatum(neighbours);
	if (SPI_execute_with_args("INSERT INTO stockml.drift_null (model_id, feature, method, window_days, statistics,"
							  " neighbours)"
							  " SELECT $1, f.name, m.name, $4,"
							  " $5[((f.i - 1) * pg_catalog.cardinality($3) + m.i - 1) * $6 + 1"
							  " : ((f.i - 1) * pg_catalog.cardinality($3) + m.i) * $6], $7"
							  " FROM pg_catalog.unnest($2) WITH ORDINALITY f(name, i),"
							  " pg_catalog.unnest($3) WITH ORDINALITY m(name, i)"
							  " ORDER BY f.i, m.i",
							  7, (Oid[]) {INT8OID, TEXTARRAYOID, TEXTARRAYOID, INT4OID, FLOAT8ARRAYOID, INT4OID, INT4OID},
							  args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not store the drift null");
	return w.nwin;
}
