/*
 * feature_matrix.c — the feature matrix of a spec over a symbol's bars,
 * computed in one ordered pass with the kernels of indicators.c: row t uses
 * the bars up to t only (another symbol's at its last bar on or before the
 * day), calendar features in the symbol's trading days, y the log return
 * over the horizon.  Reading the bars is features.c, the spec feature_spec.c.
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "utils/datetime.h"

#include "calendar.h"
#include "feature_matrix.h"

/* rows of the matrix computed together: 256 x 16 features = 32 kB */
#define FEATURE_BLOCK 256


void
FeatureCheckHorizon(int horizon)
{
	if (horizon < 1 || horizon > FEATURE_MAX_HORIZON)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon must be between 1 and %d bars, not %d", FEATURE_MAX_HORIZON, horizon),
				 errhint("horizon => 1 predicts the next stored bar's close.")));
}

static void FeatureIndicatorsInit(const FeatureDef *def, Indicator **ind, Indicator **ret);

/* A feature from its indicator's value v at a bar closing at close */
static pg_attribute_always_inline double
FeatureOfIndicator(FeatureKind kind, double v, double close)
{
	switch (kind)
	{
		case FEAT_SMA_RATIO:
		case FEAT_EMA_RATIO:
			return close / v - 1.0;
		case FEAT_RSI:
			return v / 100.0;
		case FEAT_MACD:
		case FEAT_MACD_SIGNAL:
		case FEAT_ATR:
			return v / close;
		default:
			return v;
	}
}

/*
 * Push bar b into feature def's indicator (ind, and ret for volatility's
 * returns); *v is the feature's value when it returns true.  A calendar
 * feature is filled in later (FillCalendar): 0 here.
 */
static pg_attribute_always_inline bool
FeaturePush(const FeatureDef *def, Indicator *ind, Indicator *ret, const FeatureBar *b,
			double lnc, double *v)
{
	bool defined;

	*v = 0.0;
	switch (def->kind)
	{
		case FEAT_RANGE:
			*v = (b->high - b->low) / b->close;
			return true;
		case FEAT_WEEKDAY:
		case FEAT_DAYS_TO_MONTH_END:
		case FEAT_DAYS_SINCE_HOLIDAY:
			return true;
		case FEAT_LOG_RETURN:
			return IndicatorPushLog(ind, lnc, v);
		case FEAT_VOLATILITY:
		{
			double r;

			return IndicatorPushLog(ret, lnc, &r) && IndicatorPush(ind, r, 0, 0, v);
		}
		case FEAT_VOLUME_ZSCORE:
			return IndicatorPush(ind, log1p(Max(b->volume, 0.0)), 0, 0, v);
		case FEAT_ATR:
			defined = IndicatorPush(ind, b->close, b->high, b->low, v);
			*v = FeatureOfIndicator(def->kind, *v, b->close);
			return defined;
		default:
			defined = IndicatorPush(ind, b->close, 0, 0, v);
			*v = FeatureOfIndicator(def->kind, *v, b->close);
			return defined;
	}
}

/*
 * The columns of bars[0 .. n) the features read, for FeatureSeries; high,
 * low, volume and the returns filled on first use.
 */
typedef struct BarColumns
{
	const FeatureBar *bars;
	int				  n;
	double			 *close;
	double			 *lnc; /* log(close) */
	double			 *high;
	double			 *low;
	double			 *volume; /* log1p(max(volume, 0)) */
	double			 *ret;	  /* lnc[t] - lnc[t - 1] from t = 1 on */
} BarColumns;

enum BarColumnKind
{
	COL_HIGH,
	COL_LOW,
	COL_VOLUME,
	COL_RET
};

static void
BarColumnsInit(BarColumns *c, const FeatureBar *bars, int n)
{
	memset(c, 0, sizeof(*c));
	c->bars = bars;
	c->n = n;
	c->close = palloc(mul_size(Max(n, 1), sizeof(double)));
	c->lnc = palloc(mul_size(Max(n, 1), sizeof(double)));
	for (int t = 0; t < n; t++)
	{
		c->close[t] = bars[t].close;
		c->lnc[t] = log(bars[t].close);
	}
}

static const double *
BarColumn(BarColumns *c, enum BarColumnKind which)
{
	double **col = which == COL_HIGH ? &c->high : which == COL_LOW ? &c->low :
											  which == COL_VOLUME  ? &c->volume :
																	 &c->ret;

	if (*col == NULL)
	{
		double *v = palloc(mul_size(Max(c->n, 1), sizeof(double)));

		for (int t = 0; t < c->n; t++)
		{
			const FeatureBar *b = &c->bars[t];

			switch (which)
			{
				case COL_HIGH:
					v[t] = b->high;
					break;
				case COL_LOW:
					v[t] = b->low;
					break;
				case COL_VOLUME:
					v[t] = log1p(Max(b->volume, 0.0));
					break;
				case COL_RET:
					v[t] = t > 0 ? c->lnc[t] - c->lnc[t - 1] : 0.0;
					break;
			}
		}
		*col = v;
	}
	return *col;
}

static void
BarColumnsFree(BarColumns *c)
{
	double *cols[] = {c->close, c->lnc, c->high, c->low, c->volume, c->ret};

	for (int i = 0; i < (int) lengthof(cols); i++)
		if (cols[i])
			pfree(cols[i]);
}

/*
 * The indicator of feature def for FeatureSeries, ready for the first bar;
 * NULL for the features that need none (range, log returns, calendar).
 */
static Indicator *
FeatureSeriesIndicator(const FeatureDef *def)
{
	Indicator *ind;

	if (def->kind == FEAT_RANGE || def->kind == FEAT_LOG_RETURN || FEATURE_KIND_IS_CALENDAR(def->kind))
		return NULL;
	ind = palloc(IndicatorSize(&def->ind));
	IndicatorInit(ind, &def->ind);
	return ind;
}

/*
 * Feature def at bars t0 .. t1 - 1 of c, continuing its indicator ind (from
 * FeatureSeriesIndicator, fed bars 0 .. t0 - 1 before): out[(t - t0) * stride]
 * gets its value at bar t from the returned offset on (the first defined
 * bar minus t0; t1 - t0 when none).  Bit for bit what FeaturePush gives bar
 * after bar: the same kernels (IndicatorPushSeries), the same arithmetic in
 * the same order (log returns as differences of the same logarithms, which
 * is what IndicatorPushLog's lag buffer computes; volatility's one-bar
 * returns from bar 1 on).
 */
static int
FeatureSeries(const FeatureDef *def, Indicator *ind, BarColumns *c, int t0, int t1,
			  double *out, int stride)
{
	int n = t1 - t0;
	int first;

	switch (def->kind)
	{
		case FEAT_RANGE:
			for (int t = t0; t < t1; t++)
				out[(Size) (t - t0) * stride] = (c->bars[t].high - c->bars[t].low) / c->bars[t].close;
			return 0;
		case FEAT_WEEKDAY:
		case FEAT_DAYS_TO_MONTH_END:
		case FEAT_DAYS_SINCE_HOLIDAY:
			for (int t = t0; t < t1; t++)
				out[(Size) (t - t0) * stride] = 0.0;
			return 0;
		case FEAT_LOG_RETURN:
		{
			int k = def->ind.n;
			int from = Min(Max(t0, k), t1);

			for (int t = from; t < t1; t++)
				out[(Size) (t - t0) * stride] = c->lnc[t] - c->lnc[t - k];
			return from - t0;
		}
		case FEAT_VOLATILITY:
		{
			int from = Min(Max(t0, 1), t1);

			return (from - t0) + IndicatorPushSeries(ind, BarColumn(c, COL_RET) + from, NULL, NULL,
													 t1 - from, out + (Size) (from - t0) * stride, stride);
		}
		case FEAT_VOLUME_ZSCORE:
			return IndicatorPushSeries(ind, BarColumn(c, COL_VOLUME) + t0, NULL, NULL, n, out, stride);
		case FEAT_ATR:
			first = IndicatorPushSeries(ind, c->close + t0, BarColumn(c, COL_HIGH) + t0,
										BarColumn(c, COL_LOW) + t0, n, out, stride);
			break;
		default:
			first = IndicatorPushSeries(ind, c->close + t0, NULL, NULL, n, out, stride);
			break;
	}
	for (int i = first; i < n; i++)
		out[(Size) i * stride] = FeatureOfIndicator(def->kind, out[(Size) i * stride], c->close[t0 + i]);
	return first;
}

/* A feature's indicator (and volatility's returns), ready for the first bar */
static void
FeatureIndicatorsInit(const FeatureDef *def, Indicator **ind, Indicator **ret)
{
	*ind = NULL;
	*ret = NULL;
	if (def->kind == FEAT_RANGE || FEATURE_KIND_IS_CALENDAR(def->kind))
		return;
	*ind = palloc(IndicatorSize(&def->ind));
	IndicatorInit(*ind, &def->ind);
	if (def->kind == FEAT_VOLATILITY)
	{
		IndicatorParams rp;

		IndicatorParamsDefault(&rp, IND_LOG_RETURN);
		*ret = palloc(IndicatorSize(&rp));
		IndicatorInit(*ret, &rp);
	}
}

/*
 * The values of feature def over another symbol's bars: value[k] at its bar k,
 * defined from bar *first on (*first = nbars when never).
 */
static double *
ExoSeries(const FeatureDef *def, const FeatureBar *bars, int nbars, int *first)
{
	double	  *value = palloc(mul_size(Max(nbars, 1), sizeof(double)));
	Indicator *ind = FeatureSeriesIndicator(def);
	BarColumns c;

	BarColumnsInit(&c, bars, nbars);
	*first = FeatureSeries(def, ind, &c, 0, nbars, value, 1);
	BarColumnsFree(&c);
	if (ind)
		pfree(ind);
	return value;
}

/* ISO weekday, 1 (Monday) .. 7 */
static int
IsoWeekday(DateADT day)
{
	return (j2day(day + POSTGRES_EPOCH_JDATE) + 6) % 7 + 1;
}

/*
 * The calendar features of the output rows (days[0 .. nrows), ascending):
 * weekday; trading days after the day up to its month's last day; trading
 * days in (h, day] where h is the last holiday (a Monday-to-Friday day the
 * calendar does not trade) on or before the day, at most FEATURE_HOLIDAY_CAP.
 * The last is kept while walking the days: every calendar day from 367 days
 * before the first row is looked at once.
 */
static void
FillCalendar(const FeatureSpec *spec, TradingCalendar cal, FeatureMatrix *m)
{
	int nf = spec->nfeatures;
	/* days up to here are counted; the calendar's first day is the furthest back */
	DateADT known = CalendarFirstDay(cal);
	DateADT walked = DATE_IS_NOBEGIN(known) ? m->days[0] - 367 : Max(m->days[0] - 367, known - 1);
	int		since = FEATURE_HOLIDAY_CAP;

	for (int i = 0; i < m->nrows; i++)
	{
		DateADT day = m->days[i];
		double *row = &m->x[(Size) i * nf];
		int		to_end = -1;

		if ((i & 255) == 0)
			CHECK_FOR_INTERRUPTS();
		for (; walked < day; walked++)
		{
			DateADT d = walked + 1;

			if (CalendarIsTradingDay(cal, d))
				since = Min(since + 1, FEATURE_HOLIDAY_CAP);
			else if (IsoWeekday(d) <= 5)
				since = 0;
		}
		for (int j = 0; j < nf; j++)
		{
			switch (spec->defs[j].kind)
			{
				case FEAT_WEEKDAY:
					row[j] = IsoWeekday(day);
					break;
				case FEAT_DAYS_TO_MONTH_END:
					if (to_end < 0)
					{
						int y,
							mo,
							d;
						DateADT month_end;

						j2date(day + POSTGRES_EPOCH_JDATE, &y, &mo, &d);
						month_end = (mo == 12 ? date2j(y + 1, 1, 1) : date2j(y, mo + 1, 1)) -
									POSTGRES_EPOCH_JDATE - 1;
						to_end = 0;
						for (DateADT t = day + 1; t <= month_end; t++)
							to_end += CalendarIsTradingDay(cal, t) ? 1 : 0;
					}
					row[j] = to_end;
					break;
				case FEAT_DAYS_SINCE_HOLIDAY:
					row[j] = since;
					break;
				default:
					break;
			}
		}
	}
}

FeatureMatrix *
FeatureMatrixFromBars(const FeatureSpec *spec, const FeatureInputs *inputs,
					  const FeatureBar *bars, int nbars,
					  const DateADT *start_day, const DateADT *end_day, int horizon)
{
	int			   nf = spec->nfeatures;
	int			   first = -1;
	int			   last = -1;
	int			   nrows;
	BarColumns	   cols;
	double		  *warm;
	Indicator	 **ind = palloc0(sizeof(Indicator *) * Max(nf, 1));
	double		 **exo_value = NULL;
	int			  *exo_at = NULL;
	DateADT		   exo_from = DATEVAL_NOBEGIN; /* every other symbol's feature is defined */
	FeatureMatrix *m = palloc0(sizeof(FeatureMatrix));

	FeatureCheckHorizon(horizon);
	if (spec->needs_inputs && inputs == NULL && nbars > 0)
		elog(ERROR, "feature spec needs FeatureInputsLoad");

	/* another symbol's features over its own bars, and from when they are known */
	if (spec->needs_inputs && nbars > 0)
	{
		exo_value = palloc0(sizeof(double *) * nf);
		exo_at = palloc0(sizeof(int) * nf);
		for (int j = 0; j < nf; j++)
		{
			int from;

			if (spec->defs[j].symbol[0] == '\0')
				continue;
			exo_value[j] = ExoSeries(&spec->defs[j], inputs->exo_bars[j], inputs->exo_nbars[j], &from);
			if (from == inputs->exo_nbars[j])
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
						 errmsg("feature \"%s\" is never defined: symbol \"%s\" has %d stored bar%s, too few for its indicator",
								spec->defs[j].name, spec->defs[j].symbol, inputs->exo_nbars[j],
								inputs->exo_nbars[j] == 1 ? "" : "s"),
						 errhint("Load more history of \"%s\", e.g. SELECT stockml.ingest_yahoo('%s').",
								 spec->defs[j].symbol, spec->defs[j].symbol)));
			exo_from = Max(exo_from, inputs->exo_bars[j][from].day);
			exo_at[j] = from;
		}
	}

	/* the output rows are bars[first .. last] */
	for (int t = spec->warmup - 1; t < nbars; t++)
	{
		if (start_day && bars[t].day < *start_day)
			continue;
		if (bars[t].day < exo_from)
			continue;
		if (end_day && bars[t].day > *end_day)
			break;
		if (first < 0)
			first = t;
		last = t;
	}
	nrows = (first < 0) ? 0 : last - first + 1;
	m->nrows = nrows;
	m->nfeatures = nf;
	m->days = palloc(mul_size(Max(nrows, 1), sizeof(DateADT)));
	m->close = palloc(mul_size(Max(nrows, 1), sizeof(double)));
	m->y = palloc(mul_size(Max(nrows, 1), sizeof(double)));
	m->x = palloc(mul_size(mul_size(Max(nrows, 1), nf), sizeof(double)));
	if (nrows == 0)
		return m;

	/*
	 * Warm-up reads every bar before the first output row, whatever start_day
	 * (into warm, discarded); then the rows, FEATURE_BLOCK at a time, one
	 * feature after the other, each straight into its column of x: a block of
	 * rows stays in the cache while its features are written.
	 */
	BarColumnsInit(&cols, bars, last + 1);
	warm = palloc(mul_size(Max(first, 1), sizeof(double)));
	for (int j = 0; j < nf; j++)
		if (!(exo_value && exo_value[j]))
		{
			ind[j] = FeatureSeriesIndicator(&spec->defs[j]);
			(void) FeatureSeries(&spec->defs[j], ind[j], &cols, 0, first, warm, 1);
		}
	for (int t0 = first; t0 <= last; t0 += FEATURE_BLOCK)
	{
		int		t1 = Min(t0 + FEATURE_BLOCK, last + 1);
		double *block = &m->x[(Size) (t0 - first) * nf];

		CHECK_FOR_INTERRUPTS();
		for (int j = 0; j < nf; j++)
		{
			const FeatureDef *def = &spec->defs[j];

			if (exo_value && exo_value[j])
			{
				/* the other symbol's value at its last bar on or before each day */
				const FeatureBar *eb = inputs->exo_bars[j];
				int				  ne = inputs->exo_nbars[j];

				for (int t = t0; t < t1; t++)
				{
					while (exo_at[j] + 1 < ne && eb[exo_at[j] + 1].day <= bars[t].day)
						exo_at[j]++;
					block[(Size) (t - t0) * nf + j] = exo_value[j][exo_at[j]];
				}
				continue;
			}
			/* defined at the first row, defined at every later one */
			if (FeatureSeries(def, ind[j], &cols, t0, t1, block + j, nf) != 0)
				elog(ERROR, "feature \"%s\" undefined at bar %d after its warm-up of %d bars",
					 def->name, t0 + 1, spec->warmup);
		}
	}
	for (int t = first; t <= last; t++)
	{
		int i = t - first;

		m->days[i] = bars[t].day;
		m->close[i] = bars[t].close;
		m->y[i] = (t + horizon < nbars) ? log(bars[t + horizon].close / bars[t].close) : NAN;
	}
	pfree(warm);
	BarColumnsFree(&cols);
	for (int j = 0; j < nf; j++)
		if (ind[j])
			pfree(ind[j]);
	if (spec->needs_inputs)
		FillCalendar(spec, (TradingCalendar) inputs->calendar, m); /* nrows > 0 */
	return m;
}

bool
FeatureStreamSupports(const FeatureSpec *spec)
{
	for (int j = 0; j < spec->nfeatures; j++)
		if (spec->defs[j].symbol[0] != '\0')
			return false;
	return true;
}

FeatureStream *
FeatureStreamCreate(const FeatureSpec *spec)
{
	FeatureStream *s = palloc0(sizeof(FeatureStream));

	if (!FeatureStreamSupports(spec))
		elog(ERROR, "a feature stream cannot read another symbol's bars");
	s->nfeatures = spec->nfeatures;
	s->ind = palloc0(sizeof(Indicator *) * Max(spec->nfeatures, 1));
	s->ret = palloc0(sizeof(Indicator *) * Max(spec->nfeatures, 1));
	for (int j = 0; j < spec->nfeatures; j++)
		FeatureIndicatorsInit(&spec->defs[j], &s->ind[j], &s->ret[j]);
	return s;
}

/* FeatureMatrixFromBars's loop body for one bar, every feature being the bar's own */
bool
FeatureStreamPush(FeatureStream *s, const FeatureSpec *spec, const FeatureBar *b, double *row)
{
	double lnc = log(b->close);
	bool   all = true;

	Assert(s->nfeatures == spec->nfeatures);
	for (int j = 0; j < spec->nfeatures; j++)
		all &= FeaturePush(&spec->defs[j], s->ind[j], s->ret[j], b, lnc, &row[j]);
	s->nbars++;
	return all;
}

void
FeatureCalendarRow(const FeatureSpec *spec, int calendar, DateADT day, double *row)
{
	FeatureMatrix m;

	memset(&m, 0, sizeof(m));
	m.nrows = 1;
	m.nfeatures = spec->nfeatures;
	m.days = &day;
	m.x = row;
	FillCalendar(spec, (TradingCalendar) calendar, &m);
}
