/*
 * drift_null.c — drift tests calibrated for autocorrelation.
 *
 * Rolling-window features (ret_20, sma_ratio_50, ...) are strongly
 * autocorrelated, so a 40-60 row monitoring window is never an i.i.d. sample
 * of the reference and the textbook p-values (KS) or fixed distances (PSI
 * 0.1, ...) flag stationary series most of the time.  Instead train() keeps,
 * for each feature and each statistic, the statistic between the reference
 * sample and DRIFT_NULL_WINDOWS windows of the training period itself: blocks
 * of consecutive days as long as the policy's monitoring window (calendar
 * days, as monitor() cuts its window), at offsets drawn from a seeded PRNG.
 * A block keeps the autocorrelation of the features, and its rows are left
 * out of the reference it is compared with, as a future window is not in the
 * reference either.  monitor() flags a feature when its statistic exceeds the
 * (1 - alpha) quantile of that null (drift_null_check), and computes the null
 * of the drifted share from the same windows (window b of every feature).
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "drift.h"

#define DRIFT_NULL_WINDOWS 100
#define DRIFT_NULL_SEED UINT64CONST(0x5eed15)
#define DRIFT_DEFAULT_WINDOW_DAYS 60

PG_FUNCTION_INFO_V1(stockml_drift_null_check);

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

static int	  PolicyWindowDays(const char *model_name);
static int64  FirstReferenceAtOrAfter(int64 row, int64 rows, int64 n);
static double NullQuantile(const double *sorted, int n, double alpha);

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

int
DriftNullStore(int64 model_id, const char *model_name, const DriftNullInput *in)
{
	int	   window_days;
	int	   last_start;
	int	   nwin = DRIFT_NULL_WINDOWS;
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
	pg_prng_state rng;
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

	/* the windows: rows [win_from, win_to), reference positions [k_from, k_to) */
	win_from = palloc(sizeof(int64) * nwin);
	win_to = palloc(sizeof(int64) * nwin);
	k_from = palloc(sizeof(int64) * nwin);
	k_to = palloc(sizeof(int64) * nwin);
	pg_prng_seed(&rng, DRIFT_NULL_SEED);
	for (int b = 0; b < nwin; b++)
	{
		int s = (int) pg_prng_uint64_range(&rng, 0, (uint64) last_start);
		int e = s;

		while (e < in->ndays && in->days[e] <= in->days[s] + window_days - 1)
			e++;
		win_from[b] = in->day_start[s];
		win_to[b] = in->day_start[e];
		k_from[b] = FirstReferenceAtOrAfter(win_from[b], rows, in->n);
		k_to[b] = FirstReferenceAtOrAfter(win_to[b], rows, in->n);
	}

	plan = SPI_prepare("INSERT INTO stockml.drift_null (model_id, feature, method, window_days, statistics)"
					   " VALUES ($1, $2, $3, $4, $5)",
					   5, (Oid[]) {INT8OID, TEXTOID, TEXTOID, INT4OID, FLOAT8ARRAYOID});
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
			Datum  args[5];

			for (int b = 0; b < nwin; b++)
				elems[b] = Float8GetDatum(stats[m * nwin + b]);
			args[0] = Int64GetDatum(model_id);
			args[1] = CStringGetTextDatum(in->names[j]);
			args[2] = CStringGetTextDatum(DriftMethodNames[m]);
			args[3] = Int32GetDatum(window_days);
			args[4] = PointerGetDatum(construct_array(elems, nwin, FLOAT8OID, sizeof(float8),
													  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
			if (SPI_execute_plan(plan, args, NULL, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not store the drift null");
			pfree(elems);
		}
	}
	MemoryContextDelete(per_window);
	SPI_freeplan(plan);
	return nwin;
}

/*
 * The (1 - alpha) quantile as the order statistic a calibrated test compares
 * with: the k-th smallest, k = ceil((1 - alpha) (n + 1)), so that a statistic
 * exchangeable with the n null values exceeds it with probability at most
 * alpha; Infinity (never exceeded) when n is too small for alpha.
 */
static double
NullQuantile(const double *sorted, int n, double alpha)
{
	double k = ceil((1.0 - alpha) * (n + 1) - 1e-9);

	if (n == 0 || k > n)
		return INFINITY;
	return sorted[(int) Max(k, 1) - 1];
}

/*
 * stockml.drift_null_check(null float8[], statistic float8, alpha float8,
 *                          OUT threshold float8, OUT p_value float8)
 * threshold: the (1 - alpha) quantile of the finite null values (see
 * NullQuantile); p_value: (1 + #{null >= statistic}) / (1 + n), NULL when the
 * statistic is.
 */
Datum
stockml_drift_null_check(PG_FUNCTION_ARGS)
{
	ArrayType *array;
	Datum	  *elems;
	bool	  *nulls;
	int		   nelems;
	double	  *v;
	int		   n = 0;
	double	   alpha;
	TupleDesc  tupdesc;
	Datum	   values[2];
	bool	   rnulls[2] = {false, false};

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	if (PG_ARGISNULL(2) || !(PG_GETARG_FLOAT8(2) > 0 && PG_GETARG_FLOAT8(2) < 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("alpha must be between 0 and 1 (exclusive)"),
				 errhint("alpha is the false-alarm rate of the calibrated test, e.g. 0.05.")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	alpha = PG_GETARG_FLOAT8(2);
	array = PG_GETARG_ARRAYTYPE_P(0);
	deconstruct_array(array, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, &nelems);
	v = palloc(sizeof(double) * Max(nelems, 1));
	for (int i = 0; i < nelems; i++)
		if (!nulls[i] && isfinite(DatumGetFloat8(elems[i])))
			v[n++] = DatumGetFloat8(elems[i]);
	SortDoubles(v, n);
	values[0] = Float8GetDatum(NullQuantile(v, n, alpha));
	if (PG_ARGISNULL(1) || isnan(PG_GETARG_FLOAT8(1)))
		rnulls[1] = true;
	else
	{
		double s = PG_GETARG_FLOAT8(1);
		int	   below = 0;

		while (below < n && v[below] < s)
			below++;
		values[1] = Float8GetDatum((1.0 + (n - below)) / (1.0 + n));
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, rnulls)));
}
