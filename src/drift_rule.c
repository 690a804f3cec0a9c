/*
 * drift_rule.c — monitor()'s calibrated drift decision (issue 15 item 1):
 * a feature's statistic against the empirical null train() kept
 * (drift_null.c), and the limit of the drifted share.
 *
 * A feature drifts when its statistic exceeds its threshold
 * (drift_null_check).  Without overlapping windows (neighbours 1) that is the
 * k-th smallest of the n null values, k = ceil((1 - alpha) (n + 1)): a
 * statistic exchangeable with the null exceeds it with probability at most
 * alpha.  Overlapping windows are not exchangeable with a future window: a
 * long-memory feature's window (vol_20) is a near-copy of the windows that
 * share its rows, so the plain rank let about 7 % of stationary windows
 * through.  So each window b is ranked, like the share below, only against
 * the windows that share no row with it (h = (neighbours + 1) / 2 places or
 * more away: neighbours counts the places a window and its guard reach), and
 * the threshold is calibrated on those ranks (Calibrate with h).
 *
 * The drifted share's null needs more care.  The null's 100 windows of
 * about 42 rows over a training period of a few years overlap (they hold
 * only about 20 disjoint ones), and window b is one of the values its own
 * features' thresholds were taken from, and so are its neighbours, which
 * share most of its rows.  Counting window b's features above those
 * thresholds understates how many a future window, close to none of them,
 * has (measured: 5.4-7.3 % retrains per method that way).  So for the share
 * each window is judged only against the windows away from it: u_jb = the
 * share of the windows at least `neighbours` places from b (they overlap
 * neither b nor its guard) whose statistic j is below b's; window b is
 * drifted for feature j when u_jb >= k_j / n_j, the share of the null a
 * future statistic must be above to exceed feature j's threshold.  The
 * share's own limit is calibrated the same way (Calibrate): L = the
 * ceil((1 - alpha) (m + 1))-th smallest of the m values u_b of the share;
 * the limit = the (floor(L n) + 1)-th smallest of the n shares (at most the
 * largest; Infinity when L cannot be had), so that a share above it is above
 * more than a share L of the share's null.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"

PG_FUNCTION_INFO_V1(stockml_drift_null_check);
PG_FUNCTION_INFO_V1(stockml_drift_share_check);

#define ST_SORT SortDoubles
#define ST_ELEMENT_TYPE double
#define ST_COMPARE(a, b) ((*(a) > *(b)) - (*(a) < *(b)))
#define ST_SCOPE static
#define ST_DECLARE
#define ST_DEFINE
#include "lib/sort_template.h"

/* A null in window order (NaN: no statistic for that window) and its calibration */
typedef struct CalibratedNull
{
	int		n;		   /* windows */
	double *v;		   /* n values, window order */
	double *u;		   /* n: the share of out-of-block windows below v[b]; NaN when none */
	double *sorted;	   /* the nf finite values, ascending */
	int		nf;		   /* finite values */
	double	level;	   /* L: drifted when above a share L of the null; > 1: never */
	double	threshold; /* the statistic to exceed (Infinity: never) */
} CalibratedNull;

static void	  Calibrate(CalibratedNull *c, double alpha, int neighbours);
static void	  CheckAlpha(FunctionCallInfo fcinfo, int argno);
static int	  CheckNeighbours(FunctionCallInfo fcinfo, int argno);
static double ConformalQuantile(double *v, int n, double alpha);
static int	  CountBelow(const double *sorted, int n, double x);

/* How many of the n sorted values are below x */
static int
CountBelow(const double *sorted, int n, double x)
{
	int lo = 0,
		hi = n;

	while (lo < hi)
	{
		int mid = lo + (hi - lo) / 2;

		if (sorted[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The k-th smallest of n values, k = ceil((1 - alpha) (n + 1)); Infinity when k > n (sorts v) */
static double
ConformalQuantile(double *v, int n, double alpha)
{
	double k = ceil((1.0 - alpha) * (n + 1) - 1e-9);

	SortDoubles(v, n);
	if (n == 0 || k > n)
		return INFINITY;
	return v[(int) Max(k, 1) - 1];
}

/*
 * Fill u, sorted, level and threshold of a null whose n and v are set: see
 * the file's header comment.
 */
static void
Calibrate(CalibratedNull *c, double alpha, int neighbours)
{
	double *us = palloc(sizeof(double) * Max(c->n, 1));
	int		nu = 0;

	c->u = palloc(sizeof(double) * Max(c->n, 1));
	c->sorted = palloc(sizeof(double) * Max(c->n, 1));
	c->nf = 0;
	for (int b = 0; b < c->n; b++)
		if (isfinite(c->v[b]))
			c->sorted[c->nf++] = c->v[b];
	SortDoubles(c->sorted, c->nf);
	for (int b = 0; b < c->n; b++)
	{
		int out,
			below;

		c->u[b] = NAN;
		if (!isfinite(c->v[b]))
			continue;
		CHECK_FOR_INTERRUPTS();
		/* all finite values below v[b], less those of its neighbours */
		out = c->nf;
		below = CountBelow(c->sorted, c->nf, c->v[b]);
		for (int o = Max(b - neighbours + 1, 0); o < Min(b + neighbours, c->n); o++)
			if (isfinite(c->v[o]))
			{
				out--;
				below -= c->v[o] < c->v[b];
			}
		if (out > 0)
			us[nu++] = c->u[b] = (double) below / out;
	}
	c->level = ConformalQuantile(us, nu, alpha);
	if (c->level > 1.0 || c->nf == 0)
		c->threshold = INFINITY;
	else
	{
		/*
		 * above a share L: more than floor(L nf) values below, at most the
		 * largest (L = 1: more than 1 - alpha of the windows are above every
		 * window away from them, and a future window above the whole null is
		 * what the null can tell)
		 */
		int need = (int) floor(c->level * c->nf + 1e-9);

		c->threshold = c->sorted[Min(need, c->nf - 1)];
	}
	pfree(us);
}

static void
CheckAlpha(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno) || !(PG_GETARG_FLOAT8(argno) > 0 && PG_GETARG_FLOAT8(argno) < 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("alpha must be between 0 and 1 (exclusive)"),
				 errhint("alpha is the false-alarm rate of the calibrated test, e.g. 0.05.")));
}

static int
CheckNeighbours(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno) || PG_GETARG_INT32(argno) < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("neighbours must be at least 1"),
				 errhint("neighbours is stockml.drift_null.neighbours: windows fewer places apart overlap (1: none do).")));
	return PG_GETARG_INT32(argno);
}

/*
 * stockml.drift_null_check(null float8[], statistic float8, alpha float8,
 *                          neighbours integer DEFAULT 1,
 *                          OUT threshold float8, OUT p_value float8)
 * threshold: with h = (neighbours + 1) / 2 = 1, the k-th smallest finite
 * null value, k = ceil((1 - alpha) (n + 1)) (Infinity when k > n); with
 * h > 1, Calibrate's threshold over the windows at least h places apart (the
 * null in window order); p_value: (1 + #{null >= statistic}) / (1 + n) over
 * the finite null values, NULL when the statistic is.
 */
Datum
stockml_drift_null_check(PG_FUNCTION_ARGS)
{
	ArrayType	  *array;
	Datum		  *elems;
	bool		  *nulls;
	int			   nelems;
	CalibratedNull c = {0};
	TupleDesc	   tupdesc;
	Datum		   values[2];
	bool		   rnulls[2] = {false, false};
	int			   h;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	CheckAlpha(fcinfo, 2);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	array = PG_GETARG_ARRAYTYPE_P(0);
	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("the null must be a one-dimensional array, not %d-dimensional", ARR_NDIM(array)),
				 errhint("Pass one feature's stockml.drift_null.statistics.")));
	deconstruct_array(array, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, &nelems);
	/* windows fewer than h places apart share rows */
	h = PG_NARGS() > 3 ? (CheckNeighbours(fcinfo, 3) + 1) / 2 : 1;
	if (h > 1)
	{
		c.n = nelems;
		c.v = palloc(sizeof(double) * Max(nelems, 1));
		for (int i = 0; i < nelems; i++)
			c.v[i] = nulls[i] ? NAN : DatumGetFloat8(elems[i]);
		Calibrate(&c, PG_GETARG_FLOAT8(2), h);
	}
	else
	{
		c.sorted = palloc(sizeof(double) * Max(nelems, 1));
		c.nf = 0;
		for (int i = 0; i < nelems; i++)
			if (!nulls[i] && isfinite(DatumGetFloat8(elems[i])))
				c.sorted[c.nf++] = DatumGetFloat8(elems[i]);
		c.threshold = ConformalQuantile(c.sorted, c.nf, PG_GETARG_FLOAT8(2));
	}
	values[0] = Float8GetDatum(c.threshold);
	if (PG_ARGISNULL(1) || isnan(PG_GETARG_FLOAT8(1)))
		rnulls[1] = true;
	else
	{
		double s = PG_GETARG_FLOAT8(1);
		int	   below = 0;

		below = CountBelow(c.sorted, c.nf, s);
		values[1] = Float8GetDatum((1.0 + (c.nf - below)) / (1.0 + c.nf));
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, rnulls)));
}

/*
 * stockml.drift_share_check(nulls float8[][], alpha float8, neighbours integer)
 * → float8: the limit of the drifted share, from one row of window statistics
 * per feature (same windows in the same order): see the header comment.
 * NULL for an empty array.
 */
Datum
stockml_drift_share_check(PG_FUNCTION_ARGS)
{
	ArrayType *array;
	Datum	  *elems;
	bool	  *nulls;
	int		   nelems;
	int		   p,
		n;
	int			   neighbours;
	double		   alpha;
	int			  *counted;
	CalibratedNull share = {0};

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	CheckAlpha(fcinfo, 1);
	neighbours = CheckNeighbours(fcinfo, 2);
	alpha = PG_GETARG_FLOAT8(1);
	array = PG_GETARG_ARRAYTYPE_P(0);
	if (ARR_NDIM(array) == 0)
		PG_RETURN_NULL();
	if (ARR_NDIM(array) != 2)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("the nulls must be a two-dimensional array (features x windows), not %d-dimensional",
						ARR_NDIM(array)),
				 errhint("Aggregate the features' stockml.drift_null.statistics with array_agg.")));
	p = ARR_DIMS(array)[0];
	n = ARR_DIMS(array)[1];
	deconstruct_array(array, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, &nelems);
	share.n = n;
	share.v = palloc0(sizeof(double) * Max(n, 1));
	counted = palloc0(sizeof(int) * Max(n, 1));
	for (int j = 0; j < p; j++)
	{
		CalibratedNull f = {0};
		double		   need;

		f.n = n;
		f.v = palloc(sizeof(double) * Max(n, 1));
		for (int b = 0; b < n; b++)
			f.v[b] = nulls[j * n + b] ? NAN : DatumGetFloat8(elems[j * n + b]);
		Calibrate(&f, alpha, neighbours);
		/* the feature rule: above the k-th smallest, i.e. above k of the nf values */
		need = ceil((1.0 - alpha) * (f.nf + 1) - 1e-9) / Max(f.nf, 1);
		for (int b = 0; b < n; b++)
			if (!isnan(f.u[b]))
			{
				counted[b]++;
				share.v[b] += need <= 1.0 && f.u[b] >= need;
			}
		pfree(f.v);
		pfree(f.u);
		pfree(f.sorted);
	}
	for (int b = 0; b < n; b++)
		share.v[b] = counted[b] > 0 ? share.v[b] / counted[b] : NAN;
	Calibrate(&share, alpha, neighbours);
	PG_RETURN_FLOAT8(share.threshold);
}
