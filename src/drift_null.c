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

/* The windows of a null: rows [from, to) of days [day_from, day_to) */
typedef struct NullWindows
{
	int	   nwin;
	int64 *from,
		*to;
	int *day_from,
		*day_to;
	int64 max_rows; /* rows of the longest window */
	bool  pooled;	/* SortedPool sorts the period once into a pool */
} NullWindows;

#define ST_SORT SortRefValues
#define ST_ELEMENT_TYPE DriftRefValue
#define ST_COMPARE(a, b) (((a)->v > (b)->v) - ((a)->v < (b)->v))
#define ST_SCOPE static
#define ST_DECLARE
#define ST_DEFINE
#include "lib/sort_template.h"

static void	 PlanWindows(const DriftNullInput *in, int64 rows, NullWindows *w);
static int64 SortedReference(const DriftNullInput *in, int j, int64 rows, DriftRefValue *ref);
static void	 SortedWindow(const DriftNullInput *in, int64 from, int64 to, double *cur, int64 stride, int *ncur,
						  uint64 *keys);
static int64 SortedPool(const DriftNullInput *in, int j, DriftPoolValue *pool, DriftPoolValue *pool_tmp);
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
 * Whether SortedPool pools: when sorting every training value once and
 * walking all of them per window costs less than sorting the reference and
 * each window and merging the two (sum of m log m + m + rows, where a radix
 * sort's 8 passes stand for log m), as with one symbol's few thousand rows
 * and long windows; not with many symbols' rows and a small reference.
 */
static void
PlanWindows(const DriftNullInput *in, int64 rows, NullWindows *w)
{
	double gather = (double) rows * log2((double) rows + 1.0);
	double pool = (double) in->n * log2((double) in->n + 1.0);

	w->max_rows = 0;
	for (int b = 0; b < w->nwin; b++)
	{
		double m = (double) (w->to[b] - w->from[b]);

		w->max_rows = Max(w->max_rows, w->to[b] - w->from[b]);
		gather += m * (m < DRIFT_RADIX_MIN ? log2(m + 1.0) : 8.0) + m + (double) rows;
		pool += (double) in->n;
	}
	w->pooled = pool < gather;
}

/* Feature j's finite reference values with their positions, sorted (returns how many) */
static int64
SortedReference(const DriftNullInput *in, int j, int64 rows, DriftRefValue *ref)
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
	return nref;
}

/*
 * The finite values of every feature in rows [from, to), feature j's at cur
 * + j * stride (ncur[j] of them), sorted: one pass over the rows, which are
 * stored feature after feature (read by feature, each value would cost a
 * cache line).
 */
static void
SortedWindow(const DriftNullInput *in, int64 from, int64 to, double *cur, int64 stride, int *ncur,
			 uint64 *keys)
{
	int p = in->p;

	for (int j = 0; j < p; j++)
		ncur[j] = 0;
	for (int64 i = from; i < to; i++)
	{
		const double *row = in->x + i * p;

		for (int j = 0; j < p; j++)
			if (isfinite(row[j]))
				cur[j * stride + ncur[j]++] = row[j];
	}
	for (int j = 0; j < p; j++)
	{
		CHECK_FOR_INTERRUPTS();
		DriftSortValues(cur + j * stride, ncur[j], keys);
	}
}

/*
 * Every finite training value of feature j with its row as its id, sorted
 * into pool (returns how many), which DriftStatisticsOfPool reads the
 * samples of every window from.
 */
static int64
SortedPool(const DriftNullInput *in, int j, DriftPoolValue *pool, DriftPoolValue *pool_tmp)
{
	int64 npool = 0;

	for (int64 i = 0; i < in->n; i++)
	{
		double v = in->x[i * in->p + j];

		if (isfinite(v))
		{
			pool[npool].v = v;
			pool[npool].id = (int32) i;
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
	Datum			 *stats;
	Datum			 *names;
	Datum			 *methods;
	Datum			  args[7];
	double			  one[DRIFT_NMETHODS];
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

	scratch = DriftWalkScratchCreate((int) (w.pooled ? in->n : Max(rows, w.max_rows)));
	/* feature j, method m, window b at stats[(j * DRIFT_NMETHODS + m) * nwin + b] */
	stats = palloc(sizeof(Datum) * DRIFT_NMETHODS * w.nwin * Max(in->p, 1));
	/* what a reference the walks do not walk themselves needs is allocated in per_window */
	per_window = AllocSetContextCreate(CurrentMemoryContext, "stockml drift null", ALLOCSET_DEFAULT_SIZES);
	if (w.pooled)
	{
		DriftPoolValue *pool = palloc(sizeof(DriftPoolValue) * in->n);
		DriftPoolValue *pool_tmp = palloc(sizeof(DriftPoolValue) * in->n);
		uint8		   *flags = MemoryContextAllocHuge(CurrentMemoryContext, mul_size(in->n, w.nwin));

		/*
		 * which samples of window b each training row is in, at flags + b n:
		 * the same for every feature
		 */
		for (int b = 0; b < w.nwin; b++)
		{
			uint8 *flag = flags + (int64) b * in->n;

			memset(flag, 0, in->n);
			for (int64 k = 0; k < rows; k++)
				if (k < k_from[b] || k >= k_to[b])
					flag[ReferenceRowIndex(k, rows, in->n)] = DRIFT_IN_REF;
			for (int64 i = w.from[b]; i < w.to[b]; i++)
				flag[i] |= DRIFT_IN_CUR;
		}
		for (int j = 0; j < in->p; j++)
		{
			int64 npool = SortedPool(in, j, pool, pool_tmp);

			for (int b = 0; b < w.nwin; b++)
			{
				bool ok;

				CHECK_FOR_INTERRUPTS();
				old = MemoryContextSwitchTo(per_window);
				ok = DriftStatisticsOfPool(pool, (int) npool, flags + (int64) b * in->n, scratch, one);
				MemoryContextSwitchTo(old);
				MemoryContextReset(per_window);
				for (int m = 0; m < DRIFT_NMETHODS; m++)
					stats[((int64) j * DRIFT_NMETHODS + m) * w.nwin + b] = Float8GetDatum(ok ? one[m] : NAN);
			}
		}
	}
	else
	{
		/* every feature's reference sorted once, then each window's values of every feature */
		DriftRefValue *ref = palloc(mul_size(sizeof(DriftRefValue), mul_size(Max(rows, 1), Max(in->p, 1))));
		int64		  *nref = palloc(sizeof(int64) * Max(in->p, 1));
		int64		   stride = Max(w.max_rows, 1);
		double		  *cur = MemoryContextAllocHuge(CurrentMemoryContext,
													mul_size(sizeof(double), mul_size(stride, Max(in->p, 1))));
		int			  *ncur = palloc(sizeof(int) * Max(in->p, 1));
		uint64		  *keys = MemoryContextAllocHuge(CurrentMemoryContext, mul_size(sizeof(uint64), mul_size(2, stride)));

		for (int j = 0; j < in->p; j++)
			nref[j] = SortedReference(in, j, rows, ref + j * rows);
		for (int b = 0; b < w.nwin; b++)
		{
			CHECK_FOR_INTERRUPTS();
			SortedWindow(in, w.from[b], w.to[b], cur, stride, ncur, keys);
			for (int j = 0; j < in->p; j++)
			{
				bool ok;

				old = MemoryContextSwitchTo(per_window);
				ok = DriftStatisticsExcluding(ref + j * rows, (int) nref[j], k_from[b], k_to[b], cur + j * stride,
											  ncur[j], scratch, one);
				MemoryContextSwitchTo(old);
				MemoryContextReset(per_window);
				for (int m = 0; m < DRIFT_NMETHODS; m++)
					stats[((int64) j * DRIFT_NMETHODS + m) * w.nwin + b] = Float8GetDatum(ok ? one[m] : NAN);
			}
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
