/*
 * indicators.c — technical indicators: the streaming kernels declared in
 * indicators.h and the window aggregates stockml.sma, ema, rsi, macd,
 * macd_signal, bb_pctb, atr, rolling_std, zscore, log_return and momentum.
 *
 * The aggregates keep an Indicator as internal state.  The transition function
 * pushes a row and stores the value at that row; the final function only reads
 * it, so it can be called once per peer group with the default window frame
 * (RANGE UNBOUNDED PRECEDING .. CURRENT ROW) and the aggregate is declared
 * FINALFUNC_MODIFY = READ_ONLY.  A NULL input is a missing row: the state is
 * unchanged and the row gets the value of the rows before it, as avg() does.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "nodes/plannodes.h"
#include "utils/builtins.h"

#include "indicators.h"

static void							   RollingInit(RollingWindow *w, int n, double *buf);
static pg_attribute_always_inline void RollingPush(RollingWindow *w, double x);
static void							   RollingExact(RollingWindow *w);
static pg_attribute_always_inline bool RollingVariance(const RollingWindow *w, int ddof, double *var);
static pg_attribute_always_inline bool LagPush(RollingWindow *w, double x, double *old);
static void							   EmaInit(EmaState *e, int n);
static pg_attribute_always_inline bool EmaPush(EmaState *e, double x);
static void							   WilderInit(WilderState *s, int n);
static pg_attribute_always_inline bool WilderPush(WilderState *s, double up, double down);
static void							   CheckWindow(const char *what, int n, int min);
static Datum						   IndicatorTransition(FunctionCallInfo fcinfo, IndicatorKind kind);
static void							   CheckWindowFrame(FunctionCallInfo fcinfo, IndicatorKind kind);
static int							   IntArg(FunctionCallInfo fcinfo, int i, IndicatorKind kind, const char *what);

/* ---------------------------------------------------------------- kernels */

static void
RollingInit(RollingWindow *w, int n, double *buf)
{
	memset(w, 0, sizeof(*w));
	w->n = n;
	w->buf = buf;
}

/*
 * Add x, dropping the oldest value once n are held.  Between exact passes the
 * mean and M2 are updated incrementally (Welford add, and the fixed-size
 * replace update); every n replacements they are recomputed by two passes over
 * the buffer, O(n) every n rows, so the rounding error cannot accumulate.
 */
static pg_attribute_always_inline void
RollingPush(RollingWindow *w, double x)
{
	if (w->count < w->n)
	{
		double delta = x - w->mean;

		w->buf[w->pos] = x;
		w->count++;
		w->mean += delta / w->count;
		w->m2 += delta * (x - w->mean);
	}
	else
	{
		double old = w->buf[w->pos];
		double mean = w->mean + (x - old) / w->n;

		w->buf[w->pos] = x;
		w->m2 += (x - old) * (x - mean + old - w->mean);
		w->mean = mean;
		if (++w->since_exact >= w->n)
			RollingExact(w);
	}
	if (++w->pos == w->n)
		w->pos = 0;

	/* a constant window has exactly zero variance, whatever the rounding */
	if (w->run_len > 0 && x == w->run_value)
		w->run_len++;
	else
	{
		w->run_value = x;
		w->run_len = 1;
	}
}

/* Two-pass mean and M2 of the values held */
static void
RollingExact(RollingWindow *w)
{
	double sum = 0.0;
	double m2 = 0.0;
	double mean;

	for (int i = 0; i < w->count; i++)
		sum += w->buf[i];
	mean = sum / w->count;
	for (int i = 0; i < w->count; i++)
	{
		double d = w->buf[i] - mean;

		m2 += d * d;
	}
	w->mean = mean;
	w->m2 = m2;
	w->since_exact = 0;
}

/* Variance of the full window with the given delta degrees of freedom */
static pg_attribute_always_inline bool
RollingVariance(const RollingWindow *w, int ddof, double *var)
{
	if (w->count < w->n || w->count <= ddof)
		return false;
	if (w->run_len >= w->count)
		*var = 0.0;
	else
		*var = Max(w->m2, 0.0) / (w->count - ddof);
	return true;
}

/* Store x in a lag buffer of n slots; *old gets x from n pushes ago if known */
static pg_attribute_always_inline bool
LagPush(RollingWindow *w, double x, double *old)
{
	bool known = (w->count == w->n);

	if (known)
		*old = w->buf[w->pos];
	else
		w->count++;
	w->buf[w->pos] = x;
	if (++w->pos == w->n)
		w->pos = 0;
	return known;
}

static void
EmaInit(EmaState *e, int n)
{
	e->n = n;
	e->count = 0;
	e->alpha = 2.0 / (n + 1.0);
	e->value = 0.0;
}

/* α = 2/(n+1), seeded with the SMA of the first n values: defined from row n */
static pg_attribute_always_inline bool
EmaPush(EmaState *e, double x)
{
	if (e->count < e->n)
	{
		e->value += x;
		if (++e->count < e->n)
			return false;
		e->value /= e->n;
		return true;
	}
	e->value += e->alpha * (x - e->value);
	return true;
}

static void
WilderInit(WilderState *s, int n)
{
	memset(s, 0, sizeof(*s));
	s->n = n;
}

/* Wilder's smoothing (α = 1/n) of two series, seeded with their first-n means */
static pg_attribute_always_inline bool
WilderPush(WilderState *s, double up, double down)
{
	if (s->count < s->n)
	{
		s->up += up;
		s->down += down;
		if (++s->count < s->n)
			return false;
		s->up /= s->n;
		s->down /= s->n;
		return true;
	}
	s->up = (s->up * (s->n - 1) + up) / s->n;
	s->down = (s->down * (s->n - 1) + down) / s->n;
	return true;
}

const char *
IndicatorName(IndicatorKind kind)
{
	switch (kind)
	{
		case IND_SMA:
			return "sma";
		case IND_EMA:
			return "ema";
		case IND_RSI:
			return "rsi";
		case IND_MACD:
			return "macd";
		case IND_MACD_SIGNAL:
			return "macd_signal";
		case IND_BB_PCTB:
			return "bb_pctb";
		case IND_ATR:
			return "atr";
		case IND_ROLLING_STD:
			return "rolling_std";
		case IND_ZSCORE:
			return "zscore";
		case IND_LOG_RETURN:
			return "log_return";
		case IND_MOMENTUM:
			return "momentum";
	}
	return "?";
}

/* The documented defaults (n = 0 where the caller must choose) */
void
IndicatorParamsDefault(IndicatorParams *p, IndicatorKind kind)
{
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->fast = 12;
	p->slow = 26;
	p->signal = 9;
	p->k = 2.0;
	switch (kind)
	{
		case IND_RSI:
		case IND_ATR:
			p->n = 14;
			break;
		case IND_BB_PCTB:
			p->n = 20;
			break;
		case IND_LOG_RETURN:
			p->n = 1;
			break;
		default:
			p->n = 0;
			break;
	}
}

static void
CheckWindow(const char *what, int n, int min)
{
	if (n < min || n > INDICATOR_MAX_WINDOW)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between %d and %d, not %d", what, min,
						INDICATOR_MAX_WINDOW, n),
				 min > 1 ?
					 errhint("A sample standard deviation needs at least 2 values, e.g. stockml.rolling_std(close, 20).") :
					 errhint("Pass the number of rows, e.g. stockml.sma(close, 20) OVER (PARTITION BY symbol ORDER BY day).")));
}

/* ERROR with a hint unless the parameters make sense for the kind */
void
IndicatorCheckParams(const IndicatorParams *p)
{
	const char *name = IndicatorName(p->kind);
	char		what[64];

	switch (p->kind)
	{
		case IND_MACD:
		case IND_MACD_SIGNAL:
			snprintf(what, sizeof(what), "%s fast window", name);
			CheckWindow(what, p->fast, 1);
			snprintf(what, sizeof(what), "%s slow window", name);
			CheckWindow(what, p->slow, 1);
			if (p->fast >= p->slow)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s fast window (%d) must be shorter than its slow window (%d)",
								name, p->fast, p->slow),
						 errhint("The usual choice is stockml.%s(close, 12, 26%s).", name,
								 p->kind == IND_MACD_SIGNAL ? ", 9" : "")));
			if (p->kind == IND_MACD_SIGNAL)
			{
				snprintf(what, sizeof(what), "%s signal window", name);
				CheckWindow(what, p->signal, 1);
			}
			break;
		case IND_ROLLING_STD:
		case IND_ZSCORE:
			snprintf(what, sizeof(what), "%s window", name);
			CheckWindow(what, p->n, 2);
			break;
		case IND_LOG_RETURN:
			CheckWindow("log_return lag", p->n, 1);
			break;
		case IND_MOMENTUM:
			CheckWindow("momentum lag", p->n, 1);
			break;
		case IND_BB_PCTB:
			CheckWindow("bb_pctb window", p->n, 1);
			if (!(p->k > 0.0) || isinf(p->k))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("bb_pctb band width must be a positive number of standard deviations, not %g", p->k),
						 errhint("Bollinger's choice is stockml.bb_pctb(close, 20, 2).")));
			break;
		default:
			snprintf(what, sizeof(what), "%s window", name);
			CheckWindow(what, p->n, 1);
			break;
	}
}

/* The first row (counting from 1) at which the indicator has a value */
int
IndicatorFirstRow(const IndicatorParams *p)
{
	switch (p->kind)
	{
		case IND_RSI:
		case IND_ATR:
		case IND_LOG_RETURN:
		case IND_MOMENTUM:
			return p->n + 1;
		case IND_MACD:
			return p->slow;
		case IND_MACD_SIGNAL:
			return p->slow + p->signal - 1;
		default:
			return p->n;
	}
}

/* Bytes an Indicator with these (checked) parameters needs */
Size
IndicatorSize(const IndicatorParams *p)
{
	int slots;

	switch (p->kind)
	{
		case IND_SMA:
		case IND_BB_PCTB:
		case IND_ROLLING_STD:
		case IND_ZSCORE:
		case IND_LOG_RETURN:
		case IND_MOMENTUM:
			slots = p->n;
			break;
		default:
			slots = 0;
			break;
	}
	return add_size(offsetof(Indicator, buf), mul_size(slots, sizeof(double)));
}

void
IndicatorInit(Indicator *ind, const IndicatorParams *p)
{
	ind->p = *p;
	RollingInit(&ind->win, p->n, ind->buf);
	switch (p->kind)
	{
		case IND_EMA:
			EmaInit(&ind->ema, p->n);
			break;
		case IND_MACD:
		case IND_MACD_SIGNAL:
			EmaInit(&ind->ema, p->fast);
			EmaInit(&ind->ema_slow, p->slow);
			EmaInit(&ind->ema_signal, p->signal);
			break;
		case IND_RSI:
		case IND_ATR:
			WilderInit(&ind->wilder, p->n);
			break;
		default:
			break;
	}
}

/*
 * Push one row (high and low are read by atr only) and return whether the
 * indicator is defined at it, with its value in *value.  x must be finite.
 * kind is ind->p.kind: IndicatorPushSeries passes it as a constant, so that
 * each of its loops is this function for one kind, the switch folded away.
 */
static pg_attribute_always_inline bool
PushRow(Indicator *ind, IndicatorKind kind, double x, double high, double low, double *value)
{
	const IndicatorParams *p = &ind->p;
	double				   var;
	double				   old;

	switch (kind)
	{
		case IND_SMA:
			RollingPush(&ind->win, x);
			if (ind->win.count < p->n)
				return false;
			*value = ind->win.mean;
			return true;

		case IND_EMA:
			if (!EmaPush(&ind->ema, x))
				return false;
			*value = ind->ema.value;
			return true;

		case IND_RSI:
		{
			WilderState *s = &ind->wilder;
			double		 d;

			if (!s->has_prev)
			{
				s->has_prev = true;
				s->prev = x;
				return false;
			}
			d = x - s->prev;
			s->prev = x;
			if (!WilderPush(s, Max(d, 0.0), Max(-d, 0.0)))
				return false;
			/* no move at all over the smoothing: neither overbought nor oversold */
			*value = (s->up + s->down > 0.0) ? 100.0 * s->up / (s->up + s->down) : 50.0;
			return true;
		}

		case IND_MACD:
		case IND_MACD_SIGNAL:
		{
			bool   fast = EmaPush(&ind->ema, x);
			bool   slow = EmaPush(&ind->ema_slow, x);
			double macd;

			if (!(fast && slow))
				return false;
			macd = ind->ema.value - ind->ema_slow.value;
			if (p->kind == IND_MACD)
			{
				*value = macd;
				return true;
			}
			if (!EmaPush(&ind->ema_signal, macd))
				return false;
			*value = ind->ema_signal.value;
			return true;
		}

		case IND_BB_PCTB:
			RollingPush(&ind->win, x);
			if (!RollingVariance(&ind->win, 0, &var))
				return false;
			/* zero width bands: the price sits on the middle band */
			if (var == 0.0)
				*value = 0.5;
			else
			{
				double width = p->k * sqrt(var);

				*value = (x - (ind->win.mean - width)) / (2.0 * width);
			}
			return true;

		case IND_ATR:
		{
			WilderState *s = &ind->wilder;
			double		 tr;

			if (!s->has_prev)
			{
				s->has_prev = true;
				s->prev = x;
				return false;
			}
			tr = Max(high, s->prev) - Min(low, s->prev);
			s->prev = x;
			if (!WilderPush(s, tr, 0.0))
				return false;
			*value = s->up;
			return true;
		}

		case IND_ROLLING_STD:
			RollingPush(&ind->win, x);
			if (!RollingVariance(&ind->win, 1, &var))
				return false;
			*value = sqrt(var);
			return true;

		case IND_ZSCORE:
			RollingPush(&ind->win, x);
			if (!RollingVariance(&ind->win, 1, &var))
				return false;
			/* a constant window: x equals its mean */
			*value = (var == 0.0) ? 0.0 : (x - ind->win.mean) / sqrt(var);
			return true;

		case IND_LOG_RETURN:
			if (x <= 0.0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_ARGUMENT_FOR_LOG),
						 errmsg("log_return needs positive values, got %g", x),
						 errhint("Log returns are taken of prices; skip other rows with NULLIF or a FILTER.")));
			return IndicatorPushLog(ind, log(x), value);

		case IND_MOMENTUM:
			if (!LagPush(&ind->win, x, &old))
				return false;
			if (old == 0.0)
				ereport(ERROR,
						(errcode(ERRCODE_DIVISION_BY_ZERO),
						 errmsg("momentum is undefined after a zero value"),
						 errdetail("momentum(x, n) = x / x[n rows before] - 1.")));
			*value = x / old - 1.0;
			return true;
	}
	elog(ERROR, "unknown indicator kind %d", (int) p->kind);
	return false;
}

bool
IndicatorPush(Indicator *ind, double x, double high, double low, double *value)
{
	return PushRow(ind, ind->p.kind, x, high, low, value);
}

/*
 * Push x[0 .. n) (with high[] and low[] for atr; NULL otherwise), as n calls
 * of IndicatorPush would: value[t * stride] gets the value at row t from the first
 * defined row on, which is returned (n when none; an indicator stays defined
 * once it is).  The same kernels in the same order, so the same bits, in one
 * loop per kind without a call or a switch per row.
 */
int
IndicatorPushSeries(Indicator *ind, const double *restrict x, const double *restrict high,
					const double *restrict low, int n, double *restrict value, int stride)
{
	int		  first = n;
	Indicator st;

	/*
	 * The state in a local copy (its ring buffer stays ind's): the compiler
	 * keeps it in registers, as no store through value or the buffer can
	 * reach it.
	 */
	memcpy(&st, ind, offsetof(Indicator, buf));

#define PUSH_SERIES(K, H, L)                                                              \
	case K:                                                                               \
		for (int t = 0; t < n; t++)                                                       \
		{                                                                                 \
			if ((t & 4095) == 0)                                                          \
				CHECK_FOR_INTERRUPTS();                                                   \
			if (PushRow(&st, K, x[t], (H), (L), &value[(Size) t * stride]) && first == n) \
				first = t;                                                                \
		}                                                                                 \
		break

	switch (ind->p.kind)
	{
		PUSH_SERIES(IND_SMA, 0.0, 0.0);
		PUSH_SERIES(IND_EMA, 0.0, 0.0);
		PUSH_SERIES(IND_RSI, 0.0, 0.0);
		PUSH_SERIES(IND_MACD, 0.0, 0.0);
		PUSH_SERIES(IND_MACD_SIGNAL, 0.0, 0.0);
		PUSH_SERIES(IND_BB_PCTB, 0.0, 0.0);
		PUSH_SERIES(IND_ATR, high[t], low[t]);
		PUSH_SERIES(IND_ROLLING_STD, 0.0, 0.0);
		PUSH_SERIES(IND_ZSCORE, 0.0, 0.0);
		PUSH_SERIES(IND_LOG_RETURN, 0.0, 0.0);
		PUSH_SERIES(IND_MOMENTUM, 0.0, 0.0);
	}
#undef PUSH_SERIES
	memcpy(ind, &st, offsetof(Indicator, buf));
	return first;
}

/*
 * log_return given ln(x) rather than x: the lag buffer holds logarithms and the
 * return is their difference, so a caller that needs several lags of the same
 * series (features) takes one logarithm per row.
 */
bool
IndicatorPushLog(Indicator *ind, double lnx, double *value)
{
	double old;

	Assert(ind->p.kind == IND_LOG_RETURN);
	if (!LagPush(&ind->win, lnx, &old))
		return false;
	*value = lnx - old;
	return true;
}

/* ------------------------------------------------------------- aggregates */

typedef struct IndicatorAggState
{
	bool	  defined; /* value holds the indicator at the last row */
	double	  value;
	Indicator ind; /* variable size: keep last */
} IndicatorAggState;

/*
 * Inside a window, an indicator is a running value: the frame must grow from
 * the partition start and the rows must be ordered, or the result means
 * nothing.  Checked once per partition, when the state is created.
 */
static void
CheckWindowFrame(FunctionCallInfo fcinfo, IndicatorKind kind)
{
	WindowAggState *winstate;
	WindowAgg	   *plan;

	if (fcinfo->context == NULL || !IsA(fcinfo->context, WindowAggState))
		return;
	winstate = (WindowAggState *) fcinfo->context;
	plan = (WindowAgg *) winstate->ss.ps.plan;
	if (plan->ordNumCols == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WINDOWING_ERROR),
				 errmsg("window aggregate stockml.%s needs ORDER BY in its window", IndicatorName(kind)),
				 errhint("Write stockml.%s(...) OVER (PARTITION BY symbol ORDER BY day).", IndicatorName(kind))));
	if (!(winstate->frameOptions & FRAMEOPTION_START_UNBOUNDED_PRECEDING) ||
		(winstate->frameOptions & FRAMEOPTION_EXCLUSION))
		ereport(ERROR,
				(errcode(ERRCODE_WINDOWING_ERROR),
				 errmsg("window aggregate stockml.%s needs a frame that starts at the partition's first row",
						IndicatorName(kind)),
				 errdetail("The indicator keeps its own window of the last rows; a moving frame would restart it."),
				 errhint("Use the default frame: OVER (PARTITION BY symbol ORDER BY day).")));
}

/* The argument at position i as an int, ERROR when NULL */
static int
IntArg(FunctionCallInfo fcinfo, int i, IndicatorKind kind, const char *what)
{
	if (PG_ARGISNULL(i))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s %s must not be NULL", IndicatorName(kind), what),
				 errhint("Pass a number of rows, e.g. stockml.%s(close, 14).", IndicatorName(kind))));
	return PG_GETARG_INT32(i);
}

/*
 * The transition function of every indicator aggregate.  Arguments after the
 * state: the value (or high, low, close for atr), then the parameters in the
 * order of the SQL signature; omitted ones take the documented defaults.
 */
static Datum
IndicatorTransition(FunctionCallInfo fcinfo, IndicatorKind kind)
{
	MemoryContext	   aggcontext;
	IndicatorAggState *state;
	IndicatorParams	   p;
	int				   nvalues = (kind == IND_ATR) ? 3 : 1;
	int				   nargs = PG_NARGS();
	double			   x,
		high = 0.0,
		low = 0.0;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "stockml.%s_transfn called in non-aggregate context", IndicatorName(kind));

	IndicatorParamsDefault(&p, kind);
	switch (kind)
	{
		case IND_MACD:
			if (nargs > 2)
			{
				p.fast = IntArg(fcinfo, 2, kind, "fast window");
				p.slow = IntArg(fcinfo, 3, kind, "slow window");
			}
			break;
		case IND_MACD_SIGNAL:
			if (nargs > 2)
			{
				p.fast = IntArg(fcinfo, 2, kind, "fast window");
				p.slow = IntArg(fcinfo, 3, kind, "slow window");
				p.signal = IntArg(fcinfo, 4, kind, "signal window");
			}
			break;
		case IND_BB_PCTB:
			if (nargs > 2)
				p.n = IntArg(fcinfo, 2, kind, "window");
			if (nargs > 3)
			{
				if (PG_ARGISNULL(3))
					ereport(ERROR,
							(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
							 errmsg("bb_pctb band width must not be NULL"),
							 errhint("Bollinger's choice is stockml.bb_pctb(close, 20, 2).")));
				p.k = PG_GETARG_FLOAT8(3);
			}
			break;
		default:
			if (nargs > 1 + nvalues)
				p.n = IntArg(fcinfo, 1 + nvalues, kind,
							 (kind == IND_LOG_RETURN || kind == IND_MOMENTUM) ? "lag" : "window");
			break;
	}

	if (PG_ARGISNULL(0))
	{
		Size size;

		IndicatorCheckParams(&p);
		CheckWindowFrame(fcinfo, kind);
		size = add_size(offsetof(IndicatorAggState, ind), IndicatorSize(&p));
		state = (IndicatorAggState *) MemoryContextAllocZero(aggcontext, size);
		IndicatorInit(&state->ind, &p);
	}
	else
	{
		state = (IndicatorAggState *) PG_GETARG_POINTER(0);
		if (p.n != state->ind.p.n || p.fast != state->ind.p.fast ||
			p.slow != state->ind.p.slow || p.signal != state->ind.p.signal ||
			!(p.k == state->ind.p.k))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("stockml.%s parameters changed between rows", IndicatorName(kind)),
					 errhint("Pass constants as window lengths, not a column.")));
	}

	/* a NULL value is a missing row: the state stays as it was */
	for (int i = 1; i <= nvalues; i++)
		if (PG_ARGISNULL(i))
			PG_RETURN_POINTER(state);

	if (kind == IND_ATR)
	{
		high = PG_GETARG_FLOAT8(1);
		low = PG_GETARG_FLOAT8(2);
		x = PG_GETARG_FLOAT8(3);
	}
	else
		x = PG_GETARG_FLOAT8(1);
	if (!isfinite(x) || !isfinite(high) || !isfinite(low))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("stockml.%s input must be finite, got %g", IndicatorName(kind),
						!isfinite(x) ? x : !isfinite(high) ? high :
															 low),
				 errhint("Skip such rows with NULLIF(x, 'NaN') (NULL is a missing row).")));

	state->defined = IndicatorPush(&state->ind, x, high, low, &state->value);
	PG_RETURN_POINTER(state);
}

#define INDICATOR_TRANSFN(fn, kind)               \
	PG_FUNCTION_INFO_V1(fn);                      \
	Datum fn(PG_FUNCTION_ARGS)                    \
	{                                             \
		return IndicatorTransition(fcinfo, kind); \
	}

INDICATOR_TRANSFN(stockml_sma_transfn, IND_SMA)
INDICATOR_TRANSFN(stockml_ema_transfn, IND_EMA)
INDICATOR_TRANSFN(stockml_rsi_transfn, IND_RSI)
INDICATOR_TRANSFN(stockml_macd_transfn, IND_MACD)
INDICATOR_TRANSFN(stockml_macd_signal_transfn, IND_MACD_SIGNAL)
INDICATOR_TRANSFN(stockml_bb_pctb_transfn, IND_BB_PCTB)
INDICATOR_TRANSFN(stockml_atr_transfn, IND_ATR)
INDICATOR_TRANSFN(stockml_rolling_std_transfn, IND_ROLLING_STD)
INDICATOR_TRANSFN(stockml_zscore_transfn, IND_ZSCORE)
INDICATOR_TRANSFN(stockml_log_return_transfn, IND_LOG_RETURN)
INDICATOR_TRANSFN(stockml_momentum_transfn, IND_MOMENTUM)

/* The value at the last row pushed, NULL until warmed up; reads the state only */
PG_FUNCTION_INFO_V1(stockml_indicator_finalfn);
Datum
stockml_indicator_finalfn(PG_FUNCTION_ARGS)
{
	IndicatorAggState *state;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (IndicatorAggState *) PG_GETARG_POINTER(0);
	if (!state->defined)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(state->value);
}
