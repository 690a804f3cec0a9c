/*
 * compare.c — the Diebold–Mariano test behind the deploy gate and
 * stockml.compare() (sql/install/53_gate.sql), and DirectionHit(), the one
 * definition of a directional hit for train() and monitor().
 *
 * d_t is a loss differential, one value per day (loss of A minus loss of B,
 * averaged over the symbols of that day, so the series is one time series).
 * The statistic is mean(d) / sqrt(S / T) with S the Newey–West (Bartlett
 * kernel) long-run variance of d at lag L = max(h - 1, floor(4 (T/100)^(2/9))):
 * h-step forecasts overlap, so their errors are MA(h - 1) at least, and the
 * bandwidth rule of Newey and West (1994) covers dependence beyond that.  The
 * p-value is one-sided from the normal distribution: small when mean(d) > 0,
 * i.e. when B's loss is lower.  test/reference/dm.py is the same in numpy.
 *
 * Probability forecasts of an up move (a classifier's p_up) are scored by
 * log loss, Brier score, AUC and accuracy as sklearn.metrics scores them
 * (test/reference/logistic_reference.py): train() reports them, the deploy
 * gate compares classifiers by log loss (stockml.log_loss, the same C).
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/memutils.h"

#include "compare.h"

PG_FUNCTION_INFO_V1(stockml_dm_test);
PG_FUNCTION_INFO_V1(stockml_direction_hit);
PG_FUNCTION_INFO_V1(stockml_log_loss);
PG_FUNCTION_INFO_V1(stockml_probability_scores);

/* a row's probability and class, sorted by probability for the AUC */
typedef struct ScoredRow
{
	double p;
	bool   up;
} ScoredRow;

static int CompareScoredRows(const void *a, const void *b);

/*
 * Whether a predicted move has the sign of the realized one: 1 a hit, 0 a
 * miss, -1 when either is exactly 0 (or not a number): no direction, left
 * out of a directional accuracy.  train() and monitor() both count with it.
 */
int
DirectionHit(double predicted_move, double realized_move)
{
	if (!(predicted_move != 0 && realized_move != 0) || isnan(predicted_move) || isnan(realized_move))
		return -1;
	return (predicted_move > 0) == (realized_move > 0) ? 1 : 0;
}

/* stockml.direction_hit(predicted_move float8, realized_move float8) RETURNS boolean */
Datum
stockml_direction_hit(PG_FUNCTION_ARGS)
{
	int hit = DirectionHit(PG_GETARG_FLOAT8(0), PG_GETARG_FLOAT8(1));

	if (hit < 0)
		PG_RETURN_NULL();
	PG_RETURN_BOOL(hit == 1);
}

/* The Bartlett-kernel lag for T values of h-step forecasts */
int
DmLag(int n, int horizon)
{
	int lag = (int) floor(4.0 * pow(n / 100.0, 2.0 / 9.0));

	lag = Max(lag, horizon - 1);
	return Min(lag, Max(n - 1, 0));
}

/*
 * Fill *r from the n values of d.  With fewer than 2 values nothing is
 * defined (statistic and p NaN).  A zero long-run variance (d constant, up to
 * rounding)
 * leaves the statistic NaN and gives p = 0 when the constant is positive, 1
 * otherwise.
 */
void
DmTest(const double *d, int n, int horizon, DmResult *r)
{
	double mean = 0;
	double scale = 0;
	double s;

	r->n = n;
	r->lag = DmLag(n, horizon);
	r->mean = NAN;
	r->statistic = NAN;
	r->p_value = NAN;
	if (n < 2)
		return;
	for (int t = 0; t < n; t++)
	{
		mean += d[t];
		scale = Max(scale, fabs(d[t]));
	}
	mean /= n;
	r->mean = mean;

	s = 0;
	for (int t = 0; t < n; t++)
		s += (d[t] - mean) * (d[t] - mean);
	s /= n;
	for (int k = 1; k <= r->lag; k++)
	{
		double g = 0;

		for (int t = k; t < n; t++)
			g += (d[t] - mean) * (d[t - k] - mean);
		s += 2.0 * (1.0 - (double) k / (r->lag + 1)) * g / n;
	}
	/* rounding leaves a constant series a variance of about 1e-32 times its square */
	if (!(s > 1e-20 * scale * scale))
	{
		r->p_value = mean > 0 ? 0.0 : 1.0;
		return;
	}
	r->statistic = mean / sqrt(s / n);
	r->p_value = 0.5 * erfc(r->statistic / M_SQRT2);
}

/*
 * stockml.dm_test(d float8[], horizon integer DEFAULT 1)
 *   RETURNS (n integer, mean float8, statistic float8, hac_lag integer, p_value float8)
 */
Datum
stockml_dm_test(PG_FUNCTION_ARGS)
{
	ArrayType *arr;
	Datum	  *elems;
	bool	  *nulls;
	int		   n;
	int		   horizon = PG_ARGISNULL(1) ? 1 : PG_GETARG_INT32(1);
	double	  *d;
	DmResult   r;
	TupleDesc  tupdesc;
	Datum	   values[5];
	bool	   isnull[5] = {false, false, false, false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the loss differentials must not be NULL")));
	if (horizon < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon must be at least 1, not %d", horizon),
				 errhint("horizon is the number of steps ahead the compared forecasts were made.")));
	arr = PG_GETARG_ARRAYTYPE_P(0);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("the loss differentials must be a one-dimensional array")));
	deconstruct_array(arr, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &n);
	d = palloc(sizeof(double) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i] || !isfinite(DatumGetFloat8(elems[i])))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("loss differential %d is %s", i + 1, nulls[i] ? "NULL" : "not finite"),
					 errdetail("Every element must be a finite number: one loss differential per day, in time order."),
					 errhint("Leave out the days that have no forecast.")));
		d[i] = DatumGetFloat8(elems[i]);
	}
	DmTest(d, n, horizon, &r);

	values[0] = Int32GetDatum(r.n);
	values[1] = Float8GetDatum(r.mean);
	values[2] = Float8GetDatum(r.statistic);
	values[3] = Int32GetDatum(r.lag);
	values[4] = Float8GetDatum(r.p_value);
	isnull[1] = isnan(r.mean);
	isnull[2] = isnan(r.statistic);
	isnull[4] = isnan(r.p_value);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, isnull)));
}

/*
 * -ln of the probability given to what happened (up: realized_move > 0),
 * p clipped to [eps, 1 - eps] as sklearn's log_loss clips float64
 */
double
LogLoss(double p_up, double realized_move)
{
	double p = Min(Max(p_up, DBL_EPSILON), 1 - DBL_EPSILON);

	return realized_move > 0 ? -log(p) : -log1p(-p);
}

static int
CompareScoredRows(const void *a, const void *b)
{
	double x = ((const ScoredRow *) a)->p;
	double y = ((const ScoredRow *) b)->p;

	return (x > y) - (x < y);
}

/* Log loss, Brier score, AUC (ranks, ties averaged) and accuracy of n forecasts */
void
ProbScoresCompute(const double *p_up, const double *y, int64 n, ProbScores *out)
{
	ScoredRow *rows = MemoryContextAllocHuge(CurrentMemoryContext, mul_size(Max(n, 1), sizeof(ScoredRow)));
	double	   ll = 0,
		   brier = 0,
		   rank_sum = 0;
	int64 hits = 0;

	out->n = n;
	out->n_up = 0;
	for (int64 i = 0; i < n; i++)
	{
		bool up = y[i] > 0;

		ll += LogLoss(p_up[i], y[i]);
		brier += (p_up[i] - (up ? 1 : 0)) * (p_up[i] - (up ? 1 : 0));
		hits += (p_up[i] > 0.5) == up;
		out->n_up += up;
		rows[i].p = p_up[i];
		rows[i].up = up;
	}
	qsort(rows, n, sizeof(ScoredRow), CompareScoredRows);
	for (int64 i = 0; i < n;)
	{
		int64 j = i;
		int64 ups = 0;

		while (j < n && rows[j].p == rows[i].p)
			ups += rows[j++].up;
		/* ranks i + 1 .. j share their mean */
		rank_sum += ups * (i + 1 + j) / 2.0;
		i = j;
	}
	out->log_loss = n > 0 ? ll / n : NAN;
	out->brier = n > 0 ? brier / n : NAN;
	out->accuracy = n > 0 ? (double) hits / n : NAN;
	out->auc = out->n_up > 0 && out->n_up < n ?
				   (rank_sum - out->n_up * (out->n_up + 1) / 2.0) / ((double) out->n_up * (n - out->n_up)) :
				   NAN;
	pfree(rows);
}

/* stockml.log_loss(p_up float8, realized_move float8) RETURNS float8 */
Datum
stockml_log_loss(PG_FUNCTION_ARGS)
{
	double p = PG_GETARG_FLOAT8(0);

	if (!(p >= 0 && p <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("p_up must be a probability between 0 and 1, not %g", p)));
	PG_RETURN_FLOAT8(LogLoss(p, PG_GETARG_FLOAT8(1)));
}

/*
 * stockml.probability_scores(p_up float8[], realized_move float8[])
 *   RETURNS (n bigint, up_share float8, log_loss float8, brier float8, auc float8, accuracy float8)
 */
Datum
stockml_probability_scores(PG_FUNCTION_ARGS)
{
	ArrayType *pa;
	ArrayType *ya;
	Datum	  *pe,
		*ye;
	bool *pn,
		*yn;
	int n,
		ny;
	double *p,
		*y;
	ProbScores s;
	TupleDesc  tupdesc;
	Datum	   values[6];
	bool	   isnull[6] = {false, false, false, false, false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	pa = PG_GETARG_ARRAYTYPE_P(0);
	ya = PG_GETARG_ARRAYTYPE_P(1);
	if (ARR_NDIM(pa) > 1 || ARR_NDIM(ya) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("p_up and realized_move must be one-dimensional arrays")));
	deconstruct_array(pa, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &pe, &pn, &n);
	deconstruct_array(ya, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &ye, &yn, &ny);
	if (n != ny)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("p_up has %d values but realized_move %d", n, ny),
				 errhint("Pass one realized move per probability.")));
	p = palloc(sizeof(double) * Max(n, 1));
	y = palloc(sizeof(double) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		if (pn[i] || yn[i] || !isfinite(DatumGetFloat8(ye[i])) ||
			!(DatumGetFloat8(pe[i]) >= 0 && DatumGetFloat8(pe[i]) <= 1))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("row %d has %s", i + 1,
							pn[i] || yn[i] ? "a NULL" : !isfinite(DatumGetFloat8(ye[i])) ? "a realized move that is not finite" :
																						   "a p_up outside [0, 1]"),
					 errhint("Every p_up is a probability, every realized move a finite number.")));
		p[i] = DatumGetFloat8(pe[i]);
		y[i] = DatumGetFloat8(ye[i]);
	}
	ProbScoresCompute(p, y, n, &s);
	values[0] = Int64GetDatum(s.n);
	values[1] = Float8GetDatum(n > 0 ? (double) s.n_up / n : NAN);
	values[2] = Float8GetDatum(s.log_loss);
	values[3] = Float8GetDatum(s.brier);
	values[4] = Float8GetDatum(s.auc);
	values[5] = Float8GetDatum(s.accuracy);
	for (int i = 1; i < 6; i++)
		isnull[i] = isnan(DatumGetFloat8(values[i]));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, isnull)));
}
