/*
 * interval.h — prediction intervals (interval.c): the volatility scale known
 * at forecast time, the split-conformal quantile read off stored order
 * statistics, the order statistics train() keeps, and the binomial test of
 * the coverage rule.
 */
#ifndef STOCKML_INTERVAL_H
#define STOCKML_INTERVAL_H

#include "postgres.h"

#include "lib/stringinfo.h"

#include "feature_matrix.h"

/* RiskMetrics' EWMA of squared one-bar log returns, seeded with their mean */
#define INTERVAL_EWMA_LAMBDA 0.94
#define INTERVAL_EWMA_SEED 20 /* returns averaged for the first variance */
/* order statistics of a residual sample kept with a model */
#define INTERVAL_KEPT 1000

/* How a version scales its residuals (stored in models.reference -> 'interval') */
typedef struct IntervalScale
{
	double lambda; /* EWMA decay, in (0, 1) */
	int	   seed;   /* returns in the seed variance, >= 1 */
} IntervalScale;

/*
 * sigma[i] = the EWMA σ of one-bar log returns of the closes up to and
 * including bar i (no later bar), NaN before bar seed (0-based) or after a
 * non-positive close
 */
extern void IntervalVolatility(const FeatureBar *bars, int nbars, const IntervalScale *scale,
							   double *sigma);

/* IntervalVolatility one bar at a time: the state after the closes pushed so far */
typedef struct IntervalVolState
{
	double v;		/* the variance (the sum of squares while seeding) */
	int	   returns; /* one-bar returns since the last bad close */
	double prev;	/* the last close pushed */
	bool   has_prev;
} IntervalVolState;

extern void IntervalVolatilityInit(IntervalVolState *st);

/* push the next close; σ on it, as IntervalVolatility's sigma[i] */
extern double IntervalVolatilityPush(IntervalVolState *st, double close, const IntervalScale *scale);

/* split-conformal quantile at level of n values summarised by nkept sorted ones */
extern double IntervalQuantile(const double *kept, int nkept, int64 n, double level);

/*
 * P(y > 0) for a forecast yhat whose residuals y - yhat are symmetric with
 * |y - yhat| / scale distributed as the n values summarised by nkept sorted
 * ones: 1/2 + sign(yhat)/2 * F(|yhat| / scale), F their conformal CDF; NaN
 * without residuals or scale
 */
extern double IntervalProbabilityUp(double yhat, double scale, const double *kept, int nkept, int64 n);

/* sort values and append up to INTERVAL_KEPT evenly spaced order statistics as a JSON array */
extern void IntervalAppendOrderStatistics(StringInfo buf, double *values, int64 n);

/* P(X <= covered) for X ~ Binomial(n, bound) */
extern double IntervalCoverageP(int64 covered, int64 n, double bound);

#endif /* STOCKML_INTERVAL_H */
