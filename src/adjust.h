/*
 * adjust.h — total-return adjustment of a symbol's bars (doc/adjustment.md):
 * the factor that puts every stored price on the scale of the latest bar, from
 * the provider's adjusted close where two neighbouring bars both have one,
 * else from the splits and cash dividends in stockml.corporate_actions.
 */
#ifndef STOCKML_ADJUST_H
#define STOCKML_ADJUST_H

#include "postgres.h"

#include "utils/date.h"

/* What one bar contributes to the adjustment */
typedef struct AdjustInput
{
	DateADT day;
	double	close;	   /* as stored (raw) */
	double	adj_close; /* NaN when NULL */
} AdjustInput;

/*
 * Fill price[t] (multiply open, high, low, close of bar t) and volume[t]
 * (multiply its volume) for bars[0..nbars) ordered by day; both are 1 at the
 * last bar.  volume may be NULL.  Reads stockml.corporate_actions (as the
 * extension's owner) only when some pair of neighbouring bars lacks adj_close.
 */
extern void PriceAdjustFactors(const char *symbol, const AdjustInput *bars, int nbars,
							   double *price, double *volume);

#endif /* STOCKML_ADJUST_H */
