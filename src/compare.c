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
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"

#include "compare.h"

PG_FUNCTION_INFO_V1(stockml_dm_test);
PG_FUNCTION_INFO_V1(stockml_direction_hit);

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
