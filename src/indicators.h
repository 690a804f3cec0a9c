/*
 * indicators.h — the numeric kernels of stockml's technical indicators, one
 * implementation each, shared by the window aggregates (indicators.c) and the
 * feature matrix (features.c).
 *
 * An Indicator is a streaming state: push one observation at a time, in time
 * order, and read the value at that row.  Every push is O(1) (ring buffers and
 * recursive smoothing); the rolling mean and variance are updated Welford-style
 * and recomputed exactly from the ring buffer every n pushes, so they do not
 * drift over long series.  Conventions (seeding, which σ, first defined row)
 * are those of DESIGN.md, section "Indicators", which follow TA-Lib / TTR.
 *
 * Usage:
 *		IndicatorParams p;
 *		IndicatorParamsDefault(&p, IND_RSI);	p.n = 14;
 *		IndicatorCheckParams(&p);				-- ERROR with a hint when bad
 *		Indicator *ind = palloc(IndicatorSize(&p));
 *		IndicatorInit(ind, &p);
 *		for each bar: if (IndicatorPush(ind, close, high, low, &v)) use v;
 */
#ifndef INDICATORS_H
#define INDICATORS_H

#include "postgres.h"

/* Longest window accepted, so a typo cannot allocate gigabytes */
#define INDICATOR_MAX_WINDOW 100000

typedef enum IndicatorKind
{
	IND_SMA,
	IND_EMA,
	IND_RSI,
	IND_MACD,
	IND_MACD_SIGNAL,
	IND_BB_PCTB,
	IND_ATR,
	IND_ROLLING_STD,
	IND_ZSCORE,
	IND_LOG_RETURN,
	IND_MOMENTUM
} IndicatorKind;

typedef struct IndicatorParams
{
	IndicatorKind kind;
	int			  n;	  /* window; the lag k for log_return */
	int			  fast;	  /* macd, macd_signal */
	int			  slow;	  /* macd, macd_signal */
	int			  signal; /* macd_signal */
	double		  k;	  /* bb_pctb: band width in σ */
} IndicatorParams;

/* The last n values, their mean and sum of squared deviations (M2) */
typedef struct RollingWindow
{
	int		n;
	int		count;		 /* values held, <= n */
	int		pos;		 /* next slot to write */
	int		since_exact; /* rolling updates since the last exact pass */
	int		run_len;	 /* how many of the latest values equal run_value */
	double	run_value;
	double	mean;
	double	m2;
	double *buf;
} RollingWindow;

/* Exponential average seeded with the mean of the first n values */
typedef struct EmaState
{
	int	   n;
	int	   count;
	double alpha;
	double value; /* the running sum until count reaches n */
} EmaState;

/* Wilder smoothing of two series (gains/losses, true ranges) */
typedef struct WilderState
{
	int	   n;
	int	   count;
	bool   has_prev;
	double prev;
	double up; /* sums until count reaches n, then averages */
	double down;
} WilderState;

typedef struct Indicator
{
	IndicatorParams p;
	RollingWindow	win;		/* sma, bb_pctb, rolling_std, zscore, log_return,
								 * momentum (as a lag buffer) */
	EmaState		ema;		/* ema; the fast EMA of macd */
	EmaState		ema_slow;	/* macd */
	EmaState		ema_signal; /* macd_signal */
	WilderState		wilder;		/* rsi, atr */
	double			buf[FLEXIBLE_ARRAY_MEMBER];
} Indicator;

extern const char *IndicatorName(IndicatorKind kind);
extern void		   IndicatorParamsDefault(IndicatorParams *p, IndicatorKind kind);
extern void		   IndicatorCheckParams(const IndicatorParams *p);
extern int		   IndicatorFirstRow(const IndicatorParams *p);
extern Size		   IndicatorSize(const IndicatorParams *p);
extern void		   IndicatorInit(Indicator *ind, const IndicatorParams *p);
extern bool		   IndicatorPush(Indicator *ind, double x, double high, double low, double *value);
extern bool		   IndicatorPushLog(Indicator *ind, double lnx, double *value);
extern int		   IndicatorPushSeries(Indicator *ind, const double *restrict x,
									   const double *restrict high, const double *restrict low,
									   int n, double *restrict value, int stride);

#endif /* INDICATORS_H */
