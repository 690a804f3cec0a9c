/*
 * interval.c — prediction intervals that follow volatility.
 *
 * A version trained by 0.2.0 keeps two residual samples of its walk-forward
 * validation rows (models.reference, written by train.c): |y - ŷ| (the
 * fixed-width interval of 0.1.0, still used by versions without the second)
 * and |y - ŷ| / (σ_t sqrt(h)), σ_t the volatility of the symbol known on the
 * row's day.  predict() gives ŷ ± q σ_t sqrt(h) in log return, q the
 * split-conformal quantile of the second sample, so the width follows each
 * symbol's recent volatility (doc/intervals.md).
 *
 * σ_t is RiskMetrics' EWMA: v_t = λ v_{t-1} + (1 - λ) r_t², r_t the one-bar
 * log return of the closes ending at bar t, v seeded with the mean of the
 * first `seed` r²; σ_t = sqrt(v_t) uses bars up to t only.  Log returns do not
 * depend on the price scale, so the total-return adjustment of the bars
 * (doc/adjustment.md) changes nothing but the returns across a corporate
 * action, which it corrects.
 *
 * A regressor's probability of an up move comes from the same residuals:
 * with y - ŷ taken as symmetric, P(y > 0) = 1/2 + sign(ŷ)/2 · F(|ŷ| / (σ_t
 * sqrt(h))), F the conformal CDF of the scaled residuals (predict()'s p_up).
 *
 * The coverage rule of monitor() tests the realized coverage of a version's
 * own forecasts against the policy's bound with the exact binomial tail,
 * stockml.coverage_test().
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/float.h"

#include "interval.h"

PG_FUNCTION_INFO_V1(stockml_coverage_test);
PG_FUNCTION_INFO_V1(stockml_conformal_p_up);

/* sort_doubles(): an inlined-comparison sort of doubles (no NaN here) */
#define ST_SORT sort_doubles
#define ST_ELEMENT_TYPE double
#define ST_COMPARE(a, b) (*(a) < *(b) ? -1 : *(a) > *(b) ? 1 : \
														   0)
#define ST_SCOPE static
#define ST_DECLARE
#define ST_DEFINE
#include "lib/sort_template.h"

void
IntervalVolatilityInit(IntervalVolState *st)
{
	memset(st, 0, sizeof(*st));
}

double
IntervalVolatilityPush(IntervalVolState *st, double close, const IntervalScale *scale)
{
	double prev = st->prev;
	bool   known = st->has_prev && prev > 0 && close > 0 && isfinite(prev) && isfinite(close);
	double r;

	st->has_prev = true;
	st->prev = close;
	if (!known)
	{
		st->returns = 0;
		st->v = 0;
		return NAN;
	}
	r = log(close / prev);
	st->returns++;
	if (st->returns <= scale->seed)
	{
		st->v += r * r;
		if (st->returns < scale->seed)
			return NAN;
		st->v /= scale->seed;
	}
	else
		st->v = scale->lambda * st->v + (1 - scale->lambda) * r * r;
	return sqrt(st->v);
}

void
IntervalVolatility(const FeatureBar *bars, int nbars, const IntervalScale *scale, double *sigma)
{
	IntervalVolState st;

	IntervalVolatilityInit(&st);
	for (int i = 0; i < nbars; i++)
		sigma[i] = IntervalVolatilityPush(&st, bars[i].close, scale);
}

/*
 * The split-conformal quantile at level: the ceil((n + 1) level)-th smallest
 * of the n values, read off the nkept stored order statistics (evenly spaced
 * ranks, IntervalAppendOrderStatistics) by linear interpolation; NaN when the
 * level asks for more than n values can give.
 */
double
IntervalQuantile(const double *kept, int nkept, int64 n, double level)
{
	int64  k;
	double pos;
	int	   lo;

	if (level <= 0 || nkept == 0 || n < 1)
		return NAN;
	k = (int64) ceil((double) (n + 1) * level);
	if (k > n)
		return NAN;
	if (nkept == 1 || n == 1)
		return kept[0];
	pos = (double) (Max(k, 1) - 1) * (nkept - 1) / (double) (n - 1);
	lo = (int) floor(pos);
	if (lo >= nkept - 1)
		return kept[nkept - 1];
	return kept[lo] + (pos - lo) * (kept[lo + 1] - kept[lo]);
}

/*
 * The conformal CDF at t of n values summarised by nkept sorted order
 * statistics (kept[k] is the value of rank 1 + k (n - 1) / (nkept - 1)):
 * rank(t) / (n + 1), rank(t) the number of values at most t, interpolated
 * linearly between the kept ranks; 0 below the smallest, n / (n + 1) at or
 * above the largest.  The inverse of IntervalQuantile.
 */
static double
ConformalCdf(const double *kept, int nkept, int64 n, double t)
{
	int lo = 0,
		hi = nkept - 1;
	double rlo,
		rhi;

	if (t < kept[0])
		return 0;
	if (t >= kept[nkept - 1] || nkept == 1)
		return (double) n / (n + 1);
	/* kept[lo] <= t < kept[hi] */
	while (hi - lo > 1)
	{
		int mid = (lo + hi) / 2;

		if (kept[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	rlo = 1 + (double) lo * (n - 1) / (nkept - 1);
	rhi = 1 + (double) hi * (n - 1) / (nkept - 1);
	return (rlo + (t - kept[lo]) / (kept[hi] - kept[lo]) * (rhi - rlo)) / (n + 1);
}

double
IntervalProbabilityUp(double yhat, double scale, const double *kept, int nkept, int64 n)
{
	double f;

	if (nkept < 1 || n < 1 || !(scale > 0) || !isfinite(scale) || !isfinite(yhat))
		return NAN;
	if (yhat == 0)
		return 0.5;
	f = ConformalCdf(kept, nkept, n, fabs(yhat) / scale);
	return yhat > 0 ? 0.5 + 0.5 * f : 0.5 - 0.5 * f;
}

void
IntervalAppendOrderStatistics(StringInfo buf, double *values, int64 n)
{
	int kept = (int) Min(n, (int64) INTERVAL_KEPT);

	sort_doubles(values, n);
	appendStringInfoChar(buf, '[');
	for (int k = 0; k < kept; k++)
	{
		int64 i = kept > 1 ? (int64) k * (n - 1) / (kept - 1) : 0;

		appendStringInfo(buf, "%s%s", k > 0 ? ", " : "", float8out_internal(values[i]));
	}
	appendStringInfoChar(buf, ']');
}

/* P(X <= covered), X ~ Binomial(n, bound): the terms summed in log space */
double
IntervalCoverageP(int64 covered, int64 n, double bound)
{
	double lmax;
	double sum = 0;
	double lp,
		lq;

	if (covered >= n || bound <= 0)
		return 1;
	if (bound >= 1)
		return 0;
	lp = log(bound);
	lq = log1p(-bound);
	/* the largest term is the one nearest the mode, at most covered */
	{
		int64 k = Min(covered, (int64) floor((n + 1) * bound));

		lmax = lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0) + k * lp + (n - k) * lq;
	}
	for (int64 k = covered; k >= 0; k--)
	{
		double lt = lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0) + k * lp + (n - k) * lq;
		double t = exp(lt - lmax);

		sum += t;
		/* the terms fall geometrically below the mode: stop when they no longer count */
		if (t < 1e-17 * sum && k < n * bound)
			break;
		if ((k & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	return Min(exp(lmax + log(sum)), 1.0);
}

/* stockml.coverage_test(covered bigint, n bigint, bound float8) RETURNS float8 */
Datum
stockml_coverage_test(PG_FUNCTION_ARGS)
{
	int64  covered = PG_GETARG_INT64(0);
	int64  n = PG_GETARG_INT64(1);
	double bound = PG_GETARG_FLOAT8(2);

	if (n < 0 || covered < 0 || covered > n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("coverage_test needs 0 <= covered <= n, not covered " INT64_FORMAT " of " INT64_FORMAT,
						covered, n),
				 errhint("covered is how many of the n realized values fell inside their interval.")));
	if (!(bound >= 0 && bound <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("coverage_test's bound must be between 0 and 1, not %s", float8out_internal(bound)),
				 errhint("For example 0.8 for an interval whose coverage should not fall below 80 %%.")));
	PG_RETURN_FLOAT8(IntervalCoverageP(covered, n, bound));
}

/*
 * stockml.conformal_p_up(yhat float8, scale float8, abs_residuals float8[])
 * RETURNS float8: IntervalProbabilityUp over the residuals given (all kept)
 */
Datum
stockml_conformal_p_up(PG_FUNCTION_ARGS)
{
	double	   yhat = PG_GETARG_FLOAT8(0);
	double	   scale = PG_GETARG_FLOAT8(1);
	ArrayType *a = PG_GETARG_ARRAYTYPE_P(2);
	Datum	  *elems;
	bool	  *nulls;
	int		   n;
	double	  *r;

	if (!(scale > 0) || !isfinite(scale) || !isfinite(yhat))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("conformal_p_up needs a finite yhat and a finite scale above 0, not %s and %s",
						float8out_internal(yhat), float8out_internal(scale)),
				 errhint("scale is what the residuals were divided by (1 for plain |y - yhat|).")));
	deconstruct_array(a, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("conformal_p_up needs at least one residual")));
	r = palloc(sizeof(double) * n);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i] || !isfinite(DatumGetFloat8(elems[i])) || DatumGetFloat8(elems[i]) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("residual %d is %s", i + 1, nulls[i] ? "NULL" : "not a finite number of 0 or more"),
					 errhint("Pass absolute residuals |y - yhat| (divided by their scale).")));
		r[i] = DatumGetFloat8(elems[i]);
	}
	sort_doubles(r, n);
	PG_RETURN_FLOAT8(IntervalProbabilityUp(yhat, scale, r, n, n));
}
