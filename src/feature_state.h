/*
 * feature_state.h — predict()'s per-backend feature state (feature_state.c):
 * the last bar's feature row of a symbol, kept between calls and continued
 * with appended bars, validated by stockml.bar_changes.
 */
#ifndef FEATURE_STATE_H
#define FEATURE_STATE_H

#include "postgres.h"

#include "calendar.h"
#include "feature_matrix.h"
#include "interval.h"

extern int stockml_feature_state_cache_size;

extern void StockmlFeatureStateInit(void);

/*
 * The feature row of symbol's last stored bar for the spec of version
 * model_id (x: spec->nfeatures values; calendar features in the symbol's
 * calendar), its day, its close, the symbol's calendar (SymbolCalendar's) and,
 * when want_sigma, the volatility σ on it at scale — the values
 * FeatureBarsLoad + FeatureMatrixFromBars + IntervalVolatility give, bit for
 * bit.  false when they must be computed so instead (no state can be kept or
 * trusted here, too few bars, a feature not finite: the full computation
 * gives the ERROR); *calendar is then unset.  Called as the caller: it reads
 * bars and the calendar as the extension's owner itself, only when it must.
 */
extern bool FeatureStateLastRow(int64 model_id, const FeatureSpec *spec, const IntervalScale *scale,
								bool want_sigma, const char *symbol, TradingCalendar *calendar,
								double *x, DateADT *as_of, double *close, double *sigma);

#endif /* FEATURE_STATE_H */
