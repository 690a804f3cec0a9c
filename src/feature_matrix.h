/*
 * feature_matrix.h — feature specifications (read by src/feature_spec.c) and
 * the leakage-safe feature matrix of one symbol (src/feature_matrix.c, over
 * the bars src/features.c reads), for stockml.features() and for C callers
 * (training, predict) that need a symbol's matrix for a spec without going
 * through SQL text.  (Not "features.h": -Isrc would shadow glibc's
 * <features.h>.)
 *
 * A spec is jsonb of the form
 *		{"features": [{"name": "ret_1", "indicator": "log_return", "k": 1}, ...]}
 * (see FeatureSpecParse for the vocabulary).  Row t of the matrix uses the bars
 * up to and including t only; the indicators are pushed bar by bar in one
 * ordered pass, so the row at a day is the same whatever start_day asks for.
 *
 * Typical use from C (memory comes from CurrentMemoryContext):
 *		FeatureSpec   *spec = FeatureSpecParse(model->feature_spec);
 *		FeatureMatrix *m = FeatureMatrixCompute("MSFT", spec, NULL, NULL, 1);
 *		for (int i = 0; i < m->nrows; i++)
 *			use m->days[i], m->close[i], &m->x[i * m->nfeatures], m->y[i];
 * predict() takes the last row (its y is NaN: the future is not stored).
 *
 * A feature may read another symbol's bars ("symbol": "^GSPC"): its value on
 * day t is the indicator over that symbol's own bars at its last bar on or
 * before t; and calendar features read the symbol's trading calendar.  Both
 * come in a FeatureInputs, loaded beside the bars:
 *		FeatureInputs *in = FeatureInputsLoad(spec, "MSFT");
 *		m = FeatureMatrixFromBars(spec, in, bars, nbars, NULL, NULL, 1);
 */
#ifndef FEATURE_MATRIX_H
#define FEATURE_MATRIX_H

#include "postgres.h"

#include "utils/date.h"
#include "utils/jsonb.h"

#include "indicators.h"

#define FEATURE_MAX_COUNT 1000					   /* features in one spec */
#define FEATURE_MAX_HORIZON 10000				   /* bars ahead for y */
#define FEATURE_MAX_STATE_BYTES (16 * 1024 * 1024) /* all windows of a spec */

typedef enum FeatureKind
{
	FEAT_LOG_RETURN,		/* ln(c / c[k before]) */
	FEAT_MOMENTUM,			/* c / c[n before] - 1 */
	FEAT_VOLATILITY,		/* sample σ of the last n one-bar log returns */
	FEAT_SMA_RATIO,			/* c / sma(c, n) - 1 */
	FEAT_EMA_RATIO,			/* c / ema(c, n) - 1 */
	FEAT_RSI,				/* rsi(c, n) / 100 */
	FEAT_MACD,				/* macd(c, fast, slow) / c */
	FEAT_MACD_SIGNAL,		/* macd_signal(c, fast, slow, signal) / c */
	FEAT_BB_PCTB,			/* bb_pctb(c, n, k) */
	FEAT_ATR,				/* atr(h, l, c, n) / c */
	FEAT_ZSCORE,			/* zscore(c, n) */
	FEAT_VOLUME_ZSCORE,		/* zscore(ln(1 + volume), n), volume NULL = 0 */
	FEAT_RANGE,				/* (h - l) / c */
	FEAT_WEEKDAY,			/* ISO weekday of the day, 1 (Monday) .. 7 */
	FEAT_DAYS_TO_MONTH_END, /* trading days after the day up to the month's end */
	FEAT_DAYS_SINCE_HOLIDAY /* trading days since the last holiday, at most 250 */
} FeatureKind;

#define FEATURE_HOLIDAY_CAP 250

/* A calendar feature: a function of the day and the symbol's calendar, no bars */
#define FEATURE_KIND_IS_CALENDAR(k) ((k) >= FEAT_WEEKDAY)

typedef struct FeatureDef
{
	char			name[NAMEDATALEN];
	FeatureKind		kind;
	IndicatorParams ind;				 /* the indicator computing it (unused by range) */
	int				first_row;			 /* first bar (from 1) at which it is defined */
	char			symbol[NAMEDATALEN]; /* another symbol whose bars it reads, or "" */
} FeatureDef;

/* A parsed and validated spec */
typedef struct FeatureSpec
{
	int			nfeatures;
	int			warmup; /* first bar (from 1) at which all are defined */
	FeatureDef *defs;
	bool		needs_inputs; /* some feature reads another symbol or the calendar */
} FeatureSpec;

/* One stored bar, as the features read it */
typedef struct FeatureBar
{
	DateADT day;
	double	high;
	double	low;
	double	close;
	double	volume;	   /* 0 when NULL */
	double	adj_close; /* as stored, NaN when NULL (prices above are adjusted) */
} FeatureBar;

/*
 * The matrix: nrows rows of nfeatures values, row-major in x (x[i * nfeatures
 * + j] is feature j at days[i]); y[i] = ln(close[i + horizon] / close[i]) in
 * stored bars, NaN when that bar is not stored.
 */
typedef struct FeatureMatrix
{
	int		 nrows;
	int		 nfeatures;
	DateADT *days;
	double	*close;
	double	*x;
	double	*y;
} FeatureMatrix;

/*
 * What a spec reads beside the symbol's own bars: for each feature j that names
 * another symbol, that symbol's adjusted bars (exo_bars[j], exo_nbars[j], NULL
 * otherwise, shared between features naming one symbol), and the symbol's
 * calendar.  NULL for a spec that needs neither.
 */
typedef struct FeatureInputs
{
	int			 calendar; /* TradingCalendar of the symbol */
	FeatureBar **exo_bars;
	int			*exo_nbars;
	int			*exo_calendar; /* TradingCalendar of the other symbol */
} FeatureInputs;

/* ERROR (with what is wrong and a hint) unless spec is a valid spec */
extern FeatureSpec *FeatureSpecParse(Jsonb *spec);

/* The spec stored in stockml.feature_sets under name; ERROR when none */
extern Jsonb *FeatureSetSpec(const char *name);

/* ERROR unless 1 <= horizon <= FEATURE_MAX_HORIZON */
extern void FeatureCheckHorizon(int horizon);

/*
 * All bars of a symbol, oldest first (none when the symbol has none), with
 * high, low, close and volume total-return adjusted to the last bar's scale
 */
extern FeatureBar *FeatureBarsLoad(const char *symbol, int *nbars);

/*
 * The bars of symbol with a day after *after (all when after is NULL), as
 * stored (not adjusted), by one scan of the primary key in the active
 * snapshot; NULL when only a query may read them (row-level security, column
 * privileges, a Citus table, another layout): FeatureBarsLoad then uses SPI.
 */
extern FeatureBar *FeatureBarsLoadStored(const char *symbol, const DateADT *after, int *nbars);

/*
 * Put stored bars (ordered by day) on the total-return scale of the last one,
 * as FeatureBarsLoad does; true when every factor was exactly 1 (the bars are
 * unchanged)
 */
extern bool FeatureBarsAdjust(const char *symbol, FeatureBar *bars, int nbars);

/*
 * The matrix over bars (ordered by day): rows from the spec's warm-up on, and
 * with start_day <= day <= end_day when those are not NULL.
 */
extern FeatureMatrix *FeatureMatrixFromBars(const FeatureSpec	*spec,
											const FeatureInputs *inputs,
											const FeatureBar *bars, int nbars,
											const DateADT *start_day,
											const DateADT *end_day,
											int			   horizon);

/*
 * The other symbols' bars and the calendar the spec reads, for symbol (NULL
 * when the spec reads neither); ERROR when another symbol has no bars
 */
extern FeatureInputs *FeatureInputsLoad(const FeatureSpec *spec, const char *symbol);

/*
 * ERROR unless every other symbol the spec reads has its bar of the last
 * trading day (of its own calendar) on or before as_of: predict() must not
 * carry a stale value forward.
 */
extern void FeatureInputsRequireCurrent(const FeatureSpec *spec, const FeatureInputs *inputs,
										const char *symbol, DateADT as_of);

/*
 * The indicators of a spec's features over the symbol's own bars, pushed one
 * bar at a time: after bars[0..t] are pushed, FeatureStreamPush's row is
 * FeatureMatrixFromBars's row of bar t, bit for bit (the same kernels in the
 * same order), so a caller that keeps the stream (feature_state.c) continues
 * with later bars instead of recomputing.  Not for specs that read another
 * symbol (FeatureStreamSupports); calendar features are filled in by
 * FeatureCalendarRow.
 */
typedef struct FeatureStream
{
	int			nfeatures;
	Indicator **ind; /* per feature, NULL for range and calendar features */
	Indicator **ret; /* volatility's one-bar returns */
	int64		nbars;
} FeatureStream;

extern bool			  FeatureStreamSupports(const FeatureSpec *spec);
extern FeatureStream *FeatureStreamCreate(const FeatureSpec *spec);

/* push bar b; row[j] gets feature j at b; false when some feature is not defined yet */
extern bool FeatureStreamPush(FeatureStream *s, const FeatureSpec *spec, const FeatureBar *b,
							  double *row);

/* the calendar features of a row of day, in the symbol's calendar (other features untouched) */
extern void FeatureCalendarRow(const FeatureSpec *spec, int calendar, DateADT day, double *row);

/* FeatureBarsLoad + FeatureInputsLoad + FeatureMatrixFromBars */
extern FeatureMatrix *FeatureMatrixCompute(const char *symbol, const FeatureSpec *spec,
										   const DateADT *start_day,
										   const DateADT *end_day, int horizon);

#endif /* FEATURE_MATRIX_H */
