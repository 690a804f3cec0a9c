/*
 * fuzz_feature_spec.c — libFuzzer target: a feature spec (src/feature_spec.c)
 * as JSON text, made jsonb as jsonb_in() would (pg_stubs.c), then, when it
 * is valid, its feature matrix (src/feature_matrix.c with the kernels of
 * src/indicators.c and the calendars of src/calendar.c) over 300 fixed
 * weekday bars, as features() and train() compute it; a feature that reads
 * another symbol reads 400 daily bars that start earlier.  Checked: what FeatureSpecParse promises (1..FEATURE_MAX_COUNT
 * features with distinct names of a-z 0-9 _, warm-up the latest first row,
 * windows within FEATURE_MAX_STATE_BYTES) and that every feature is defined
 * from the warm-up on (feature_matrix.c's elog otherwise).
 */
#include "postgres.h"

#include <math.h>

#include "utils/datetime.h"

#include "calendar.h"
#include "feature_matrix.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8 *data, size_t size);

#define NBARS 300
#define NEXO 400

static FeatureBar bars[NBARS];
static FeatureBar exo[NEXO];

/* a deterministic random walk with ranges and volumes from day, weekdays only or every day */
static void
MakeBars(FeatureBar *b, int n, DateADT day, bool weekdays, uint32 seed)
{
	double close = 50;

	for (int t = 0; t < n; t++, day++)
	{
		double u;

		while (weekdays && j2day(day + POSTGRES_EPOCH_JDATE) % 6 == 0)
			day++;
		seed = seed * 1103515245 + 12345;
		u = ((seed >> 8) & 0xFFFF) / 65536.0 - 0.5;
		close *= exp(0.04 * u);
		b[t].day = day;
		b[t].close = close;
		b[t].high = close * (1 + 0.01 * (1 + u));
		b[t].low = close * (1 - 0.01 * (1 - u));
		b[t].volume = t % 7 == 3 ? 0 : 1e6 * (1.5 + u);
		b[t].adj_close = NAN;
	}
}

/* what FeatureInputsLoad reads from the catalog: the fixed bars instead */
static FeatureInputs *
Inputs(const FeatureSpec *spec)
{
	FeatureInputs *in;

	if (!spec->needs_inputs)
		return NULL;
	in = palloc0(sizeof(FeatureInputs));
	in->exo_bars = palloc0(sizeof(FeatureBar *) * spec->nfeatures);
	in->exo_nbars = palloc0(sizeof(int) * spec->nfeatures);
	in->exo_calendar = palloc0(sizeof(int) * spec->nfeatures);
	for (int j = 0; j < spec->nfeatures; j++)
		if (spec->defs[j].symbol[0] != '\0')
		{
			in->exo_bars[j] = exo;
			in->exo_nbars[j] = NEXO;
			in->exo_calendar[j] = CALENDAR_24X7;
		}
	in->calendar = CALENDAR_XNYS;
	return in;
}

static void
ParseAndCompute(void *arg)
{
	FeatureSpec	  *spec = FeatureSpecParse((Jsonb *) arg);
	FeatureMatrix *m;
	int			   warmup = 1;
	Size		   state = 0;
	bool		   exogenous = false;

	if (spec->nfeatures < 1 || spec->nfeatures > FEATURE_MAX_COUNT)
		FuzzFail("a spec of %d features was accepted", spec->nfeatures);
	for (int i = 0; i < spec->nfeatures; i++)
	{
		const FeatureDef *def = &spec->defs[i];
		size_t			  len = strnlen(def->name, NAMEDATALEN);

		if (len < 1 || len >= NAMEDATALEN || strspn(def->name, "abcdefghijklmnopqrstuvwxyz0123456789_") != len)
			FuzzFail("feature %d has the name \"%.*s\"", i + 1, (int) len, def->name);
		for (int j = 0; j < i; j++)
			if (strcmp(spec->defs[j].name, def->name) == 0)
				FuzzFail("features %d and %d are both \"%s\"", j + 1, i + 1, def->name);
		if (def->first_row < 1)
			FuzzFail("feature %d starts at row %d", i + 1, def->first_row);
		warmup = Max(warmup, def->first_row);
		exogenous |= def->symbol[0] != '\0';
		if (def->kind != FEAT_RANGE)
			state += IndicatorSize(&def->ind);
	}
	if (spec->warmup != warmup)
		FuzzFail("warm-up %d, but the latest first row is %d", spec->warmup, warmup);
	if (state > FEATURE_MAX_STATE_BYTES)
		FuzzFail("a spec whose windows need %zu bytes was accepted", state);

	m = FeatureMatrixFromBars(spec, Inputs(spec), bars, NBARS, NULL, NULL, 1);
	if (exogenous ? m->nrows > Max(0, NBARS - spec->warmup + 1) : m->nrows != Max(0, NBARS - spec->warmup + 1))
		FuzzFail("%d rows from %d bars and a warm-up of %d", m->nrows, NBARS, spec->warmup);
	for (int i = 0; i < m->nrows * m->nfeatures; i++)
		if (isnan(m->x[i]))
			FuzzFail("feature %d of row %d is NaN", i % m->nfeatures + 1, i / m->nfeatures + 1);
}

int
LLVMFuzzerTestOneInput(const uint8 *data, size_t size)
{
	Jsonb *spec;

	if (bars[0].close == 0)
	{
		MakeBars(bars, NBARS, date2j(2001, 1, 2) - POSTGRES_EPOCH_JDATE, true, 12345);
		MakeBars(exo, NEXO, date2j(2000, 11, 1) - POSTGRES_EPOCH_JDATE, false, 777);
	}
	spec = FuzzJsonbFromText(FuzzCString(data, size), size);
	if (spec)
		FuzzCall(ParseAndCompute, spec);
	FuzzReset();
	return 0;
}
