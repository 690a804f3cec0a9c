/*
 * feature_spec.c — feature specifications: the jsonb spec
 *		{"features": [{"name": "ret_1", "indicator": "log_return", "k": 1}, ...]}
 * read and checked into a FeatureSpec (names, indicators and their
 * parameters, another symbol's bars, calendar features, warm-up), with an
 * ERROR that says which feature is wrong and how.  Computing the matrix of a
 * spec is feature_matrix.c.
 */
#include "postgres.h"

#include <math.h>

#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

#include "feature_matrix.h"
#include "price_store.h"


/* Which parameters a feature kind takes */
#define FP_N 0x01
#define FP_K 0x02 /* log_return: lag; bb_pctb: band width */
#define FP_FAST 0x04
#define FP_SLOW 0x08
#define FP_SIGNAL 0x10

typedef struct FeatureKindInfo
{
	const char	 *name;
	FeatureKind	  kind;
	IndicatorKind indicator;
	int			  params;	/* FP_* it accepts */
	int			  required; /* FP_* it needs */
} FeatureKindInfo;

static const FeatureKindInfo feature_kinds[] = {
	{"log_return", FEAT_LOG_RETURN, IND_LOG_RETURN, FP_K, 0},
	{"momentum", FEAT_MOMENTUM, IND_MOMENTUM, FP_N, FP_N},
	{"volatility", FEAT_VOLATILITY, IND_ROLLING_STD, FP_N, FP_N},
	{"sma_ratio", FEAT_SMA_RATIO, IND_SMA, FP_N, FP_N},
	{"ema_ratio", FEAT_EMA_RATIO, IND_EMA, FP_N, FP_N},
	{"rsi", FEAT_RSI, IND_RSI, FP_N, 0},
	{"macd", FEAT_MACD, IND_MACD, FP_FAST | FP_SLOW, 0},
	{"macd_signal", FEAT_MACD_SIGNAL, IND_MACD_SIGNAL, FP_FAST | FP_SLOW | FP_SIGNAL, 0},
	{"bb_pctb", FEAT_BB_PCTB, IND_BB_PCTB, FP_N | FP_K, 0},
	{"atr", FEAT_ATR, IND_ATR, FP_N, 0},
	{"zscore", FEAT_ZSCORE, IND_ZSCORE, FP_N, FP_N},
	{"volume_zscore", FEAT_VOLUME_ZSCORE, IND_ZSCORE, FP_N, 0},
	{"range", FEAT_RANGE, IND_SMA, 0, 0}, /* no indicator: IND_SMA unused */
	/* calendar features: no indicator, no bars */
	{"weekday", FEAT_WEEKDAY, IND_SMA, 0, 0},
	{"days_to_month_end", FEAT_DAYS_TO_MONTH_END, IND_SMA, 0, 0},
	{"days_since_holiday", FEAT_DAYS_SINCE_HOLIDAY, IND_SMA, 0, 0},
};

#define FEATURE_KINDS_HINT "Known indicators: log_return, momentum, volatility, sma_ratio, "                      \
						   "ema_ratio, rsi, macd, macd_signal, bb_pctb, atr, zscore, volume_zscore, range, "      \
						   "and the calendar's weekday, days_to_month_end, days_since_holiday; \"symbol\" reads " \
						   "another symbol's bars (see the README, section \"Feature sets\")."

typedef struct FeatureWhere
{
	int			index;
	const char *name;
} FeatureWhere;

static void					  FeatureErrorContext(void *arg);
static void					  SpecError(int index, const char *name, const char *fmt, ...) pg_attribute_printf(3, 4) pg_attribute_noreturn();
static const FeatureKindInfo *LookupFeatureKind(const char *name);
static char					 *JsonbString(JsonbValue *v);
static double				  JsonbNumber(JsonbValue *v, bool *ok);
static void					  ParseFeature(JsonbValue *obj, int index, FeatureDef *def);


static void
SpecError(int index, const char *name, const char *fmt, ...)
{
	char	buf[512];
	va_list args;
	int		len;

	va_start(args, fmt);
	len = vsnprintf(buf, sizeof(buf), fmt, args);
	va_end(args);
	/* a cut message ends on a character boundary, not inside one */
	if (len >= (int) sizeof(buf))
	{
		len = (int) strlen(buf);
		buf[pg_mbcliplen(buf, len, len)] = '\0';
	}
	if (index < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid feature spec: %s", buf),
				 errhint("A spec looks like {\"features\": [{\"name\": \"ret_1\", \"indicator\": \"log_return\", \"k\": 1}, ...]}.")));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid feature spec: feature %d%s%s%s: %s", index + 1,
					name ? " (\"" : "", name ? name : "", name ? "\")" : "", buf),
			 errhint(FEATURE_KINDS_HINT)));
}

static void
FeatureErrorContext(void *arg)
{
	FeatureWhere *fw = (FeatureWhere *) arg;

	errcontext("feature %d (\"%s\") of the feature spec", fw->index + 1, fw->name);
}

static const FeatureKindInfo *
LookupFeatureKind(const char *name)
{
	for (int i = 0; i < (int) lengthof(feature_kinds); i++)
		if (strcmp(feature_kinds[i].name, name) == 0)
			return &feature_kinds[i];
	return NULL;
}

/* The string in v, or NULL when v is not a string */
static char *
JsonbString(JsonbValue *v)
{
	if (v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

static double
JsonbNumber(JsonbValue *v, bool *ok)
{
	*ok = (v->type == jbvNumeric);
	if (!*ok)
		return 0.0;
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
											  NumericGetDatum(v->val.numeric)));
}

/* Parse and check feature number index (from 0) of a spec into def */
static void
ParseFeature(JsonbValue *obj, int index, FeatureDef *def)
{
	JsonbIterator			*it;
	JsonbValue				 v;
	JsonbIteratorToken		 tok;
	char					*name = NULL;
	char					*indicator = NULL;
	char					*symbol = NULL;
	const FeatureKindInfo	*info;
	int						 given = 0;
	double					 values[5] = {0}; /* n, k, fast, slow, signal */
	static const char *const param_names[] = {"n", "k", "fast", "slow", "signal"};

	if (obj->type != jbvBinary || !JsonContainerIsObject(obj->val.binary.data))
		SpecError(index, NULL, "not a JSON object");

	/* the name first, so that every later message can say which feature */
	{
		JsonbValue *n = getKeyJsonValueFromContainer(obj->val.binary.data, "name", 4, NULL);

		if (n != NULL && (name = JsonbString(n)) == NULL)
			SpecError(index, NULL, "\"name\" must be a string");
	}

	it = JsonbIteratorInit(obj->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char *key;
		int	  p;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		if (JsonbIteratorNext(&it, &v, true) != WJB_VALUE)
			elog(ERROR, "feature spec key \"%s\" has no value", key);
		if (strcmp(key, "name") == 0)
			continue;
		if (strcmp(key, "indicator") == 0)
		{
			if ((indicator = JsonbString(&v)) == NULL)
				SpecError(index, name, "\"indicator\" must be a string");
			continue;
		}
		if (strcmp(key, "description") == 0)
		{
			if (v.type != jbvString)
				SpecError(index, name, "\"description\" must be a string");
			continue;
		}
		if (strcmp(key, "symbol") == 0)
		{
			if ((symbol = JsonbString(&v)) == NULL)
				SpecError(index, name, "\"symbol\" must be a string");
			continue;
		}
		for (p = 0; p < (int) lengthof(param_names); p++)
			if (strcmp(key, param_names[p]) == 0)
				break;
		if (p == (int) lengthof(param_names))
			SpecError(index, name, "unknown key \"%s\" (keys: name, indicator, description, symbol, n, k, fast, slow, signal)", key);
		else
		{
			bool ok;

			values[p] = JsonbNumber(&v, &ok);
			if (!ok)
				SpecError(index, name, "\"%s\" must be a number", key);
			given |= 1 << p;
		}
	}

	if (name == NULL)
		SpecError(index, NULL, "\"name\" is missing");
	if (strlen(name) < 1 || strlen(name) >= NAMEDATALEN)
		SpecError(index, name, "a name has 1 to %d characters", NAMEDATALEN - 1);
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
			SpecError(index, name, "a name is made of a-z, 0-9 and _");
	if (indicator == NULL)
		SpecError(index, name, "\"indicator\" is missing");
	info = LookupFeatureKind(indicator);
	if (info == NULL)
		SpecError(index, name, "unknown indicator \"%s\"", indicator);
	for (int p = 0; p < (int) lengthof(param_names); p++)
	{
		if ((given & (1 << p)) && !(info->params & (1 << p)))
			SpecError(index, name, "indicator %s takes no parameter \"%s\"", info->name, param_names[p]);
		if ((info->required & (1 << p)) && !(given & (1 << p)))
			SpecError(index, name, "indicator %s needs parameter \"%s\"", info->name, param_names[p]);
		/* whole numbers, except bb_pctb's band width */
		if ((given & (1 << p)) && !(p == 1 && info->kind == FEAT_BB_PCTB) &&
			(values[p] != floor(values[p]) || fabs(values[p]) > INDICATOR_MAX_WINDOW))
			SpecError(index, name, "parameter \"%s\" must be a whole number between 1 and %d",
					  param_names[p], INDICATOR_MAX_WINDOW);
	}

	if (symbol != NULL)
	{
		if (!SymbolIsValid(symbol))
			SpecError(index, name, "\"symbol\" must be a symbol (1 to 32 of A-Z a-z 0-9 . ^ = _ -), e.g. \"^GSPC\"");
		if (FEATURE_KIND_IS_CALENDAR(info->kind))
			SpecError(index, name, "calendar feature %s takes no \"symbol\" (it reads the symbol's own calendar)",
					  info->name);
		strlcpy(def->symbol, symbol, NAMEDATALEN);
	}
	strlcpy(def->name, name, NAMEDATALEN);
	def->kind = info->kind;
	IndicatorParamsDefault(&def->ind, info->indicator);
	if (info->kind == FEAT_VOLUME_ZSCORE)
		def->ind.n = 20;
	if (given & FP_N)
		def->ind.n = (int) values[0];
	if (given & FP_K)
	{
		if (info->kind == FEAT_BB_PCTB)
			def->ind.k = values[1];
		else
			def->ind.n = (int) values[1];
	}
	if (given & FP_FAST)
		def->ind.fast = (int) values[2];
	if (given & FP_SLOW)
		def->ind.slow = (int) values[3];
	if (given & FP_SIGNAL)
		def->ind.signal = (int) values[4];

	if (info->kind == FEAT_RANGE || FEATURE_KIND_IS_CALENDAR(info->kind))
		def->first_row = 1;
	else
	{
		/* the indicator's own message says what is wrong; say where */
		ErrorContextCallback where;
		FeatureWhere		 fw = {index, name};

		where.callback = FeatureErrorContext;
		where.arg = &fw;
		where.previous = error_context_stack;
		error_context_stack = &where;
		IndicatorCheckParams(&def->ind);
		error_context_stack = where.previous;
		def->first_row = IndicatorFirstRow(&def->ind);
		/* volatility: σ of returns, and the first return needs a bar before */
		if (info->kind == FEAT_VOLATILITY)
			def->first_row++;
	}
	/* another symbol's warm-up is in its own bars: the matrix starts where it is defined */
	if (def->symbol[0] != '\0')
		def->first_row = 1;
}

FeatureSpec *
FeatureSpecParse(Jsonb *spec)
{
	FeatureSpec *result;
	JsonbValue	*features;
	int			 n;
	Size		 state_bytes = 0;

	if (!JB_ROOT_IS_OBJECT(spec) || JB_ROOT_IS_SCALAR(spec))
		SpecError(-1, NULL, "not a JSON object");
	/* the only keys: "features" and an optional "description" */
	{
		JsonbIterator	  *it = JsonbIteratorInit(&spec->root);
		JsonbValue		   v;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok != WJB_KEY)
				continue;
			if (!(v.val.string.len == 8 && strncmp(v.val.string.val, "features", 8) == 0) &&
				!(v.val.string.len == 11 && strncmp(v.val.string.val, "description", 11) == 0))
				SpecError(-1, NULL, "unknown key \"%.*s\" (keys: features, description)",
						  v.val.string.len, v.val.string.val);
		}
	}
	features = getKeyJsonValueFromContainer(&spec->root, "features", strlen("features"), NULL);
	if (features == NULL)
		SpecError(-1, NULL, "key \"features\" is missing");
	if (features->type != jbvBinary || !JsonContainerIsArray(features->val.binary.data))
		SpecError(-1, NULL, "\"features\" must be an array");
	n = JsonContainerSize(features->val.binary.data);
	if (n < 1 || n > FEATURE_MAX_COUNT)
		SpecError(-1, NULL, "\"features\" must hold 1 to %d features, not %d", FEATURE_MAX_COUNT, n);

	result = palloc(sizeof(FeatureSpec));
	result->nfeatures = n;
	result->warmup = 1;
	result->needs_inputs = false;
	result->defs = palloc0(sizeof(FeatureDef) * n);
	for (int i = 0; i < n; i++)
	{
		JsonbValue *obj = getIthJsonbValueFromContainer(features->val.binary.data, i);

		ParseFeature(obj, i, &result->defs[i]);
		for (int j = 0; j < i; j++)
			if (strcmp(result->defs[j].name, result->defs[i].name) == 0)
				SpecError(i, result->defs[i].name, "the name is already used by feature %d", j + 1);
		result->warmup = Max(result->warmup, result->defs[i].first_row);
		if (result->defs[i].symbol[0] != '\0' || FEATURE_KIND_IS_CALENDAR(result->defs[i].kind))
			result->needs_inputs = true;
		state_bytes = add_size(state_bytes, IndicatorSize(&result->defs[i].ind));
	}
	/* every feature keeps its window in memory while a matrix is computed */
	if (state_bytes > FEATURE_MAX_STATE_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("invalid feature spec: the windows of its features need %zu kB, more than the %d kB allowed",
						state_bytes / 1024, FEATURE_MAX_STATE_BYTES / 1024),
				 errhint("Use fewer features or shorter windows (n).")));
	return result;
}
