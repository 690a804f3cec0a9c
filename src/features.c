/*
 * features.c — feature specifications (validation, names), the feature matrix
 * of one symbol computed in one ordered pass over its bars with the kernels of
 * indicators.c, and the SQL functions stockml.features(), features_spec(),
 * feature_names() and feature_spec_check().
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/fmgrprotos.h"
#include "utils/tuplestore.h"

#include "adjust.h"
#include "calendar.h"
#include "distributed.h"
#include "feature_matrix.h"
#include "price_store.h"
#include "roles.h"

/* Which parameters a feature kind takes */
#define FP_N		0x01
#define FP_K		0x02		/* log_return: lag; bb_pctb: band width */
#define FP_FAST		0x04
#define FP_SLOW		0x08
#define FP_SIGNAL	0x10

typedef struct FeatureKindInfo
{
	const char *name;
	FeatureKind kind;
	IndicatorKind indicator;
	int			params;			/* FP_* it accepts */
	int			required;		/* FP_* it needs */
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
	{"range", FEAT_RANGE, IND_SMA, 0, 0},	/* no indicator: IND_SMA unused */
	/* calendar features: no indicator, no bars */
	{"weekday", FEAT_WEEKDAY, IND_SMA, 0, 0},
	{"days_to_month_end", FEAT_DAYS_TO_MONTH_END, IND_SMA, 0, 0},
	{"days_since_holiday", FEAT_DAYS_SINCE_HOLIDAY, IND_SMA, 0, 0},
};

#define FEATURE_KINDS_HINT "Known indicators: log_return, momentum, volatility, sma_ratio, " \
	"ema_ratio, rsi, macd, macd_signal, bb_pctb, atr, zscore, volume_zscore, range, " \
	"and the calendar's weekday, days_to_month_end, days_since_holiday; \"symbol\" reads " \
	"another symbol's bars (see the README, section \"Feature sets\")."

typedef struct FeatureWhere
{
	int			index;
	const char *name;
} FeatureWhere;

static void FeatureErrorContext(void *arg);
static void SpecError(int index, const char *name, const char *fmt,...) pg_attribute_printf(3, 4);
static const FeatureKindInfo *LookupFeatureKind(const char *name);
static char *JsonbString(JsonbValue *v);
static double JsonbNumber(JsonbValue *v, bool *ok);
static void ParseFeature(JsonbValue *obj, int index, FeatureDef *def);
static void FeaturesToTuplestore(FunctionCallInfo fcinfo, const char *symbol, Jsonb *spec_jsonb,
								 int start_arg, int end_arg, int horizon);
static void CheckSymbolKnown(const char *symbol);
static FeatureBar *LoadBarsSpi(const char *symbol, int *nbars);
static FeatureBar *LoadBarsDirect(const char *symbol, int *nbars);
static char *RequiredText(FunctionCallInfo fcinfo, int arg, const char *what);
static int	RequiredHorizon(FunctionCallInfo fcinfo, int arg);

static void
SpecError(int index, const char *name, const char *fmt,...)
{
	char		buf[512];
	va_list		args;
	int			len;

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
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *name = NULL;
	char	   *indicator = NULL;
	char	   *symbol = NULL;
	const FeatureKindInfo *info;
	int			given = 0;
	double		values[5] = {0};	/* n, k, fast, slow, signal */
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
		char	   *key;
		int			p;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);
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
			bool		ok;

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
		FeatureWhere fw = {index, name};

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
	JsonbValue *features;
	int			n;
	Size		state_bytes = 0;

	if (!JB_ROOT_IS_OBJECT(spec) || JB_ROOT_IS_SCALAR(spec))
		SpecError(-1, NULL, "not a JSON object");
	/* the only keys: "features" and an optional "description" */
	{
		JsonbIterator *it = JsonbIteratorInit(&spec->root);
		JsonbValue	v;
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

Jsonb *
FeatureSetSpec(const char *name)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	Jsonb	   *result = NULL;
	MemoryContext caller = CurrentMemoryContext;
	int			rc;

	values[0] = CStringGetTextDatum(name);
	SPI_connect();
	rc = SPI_execute_with_args("SELECT spec FROM stockml.feature_sets WHERE name = $1",
							   1, argtypes, values, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading stockml.feature_sets failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			MemoryContext spi = MemoryContextSwitchTo(caller);

			result = DatumGetJsonbPCopy(d);
			MemoryContextSwitchTo(spi);
		}
	}
	SPI_finish();
	if (result == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("feature set \"%s\" does not exist", name),
				 errhint("SELECT name FROM stockml.feature_sets lists them; 'default' is built in.")));
	return result;
}

void
FeatureCheckHorizon(int horizon)
{
	if (horizon < 1 || horizon > FEATURE_MAX_HORIZON)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon must be between 1 and %d bars, not %d", FEATURE_MAX_HORIZON, horizon),
				 errhint("horizon => 1 predicts the next stored bar's close.")));
}

/* The bars through SPI: honours row-level security and column privileges */
static void LoadAdjustedCloses(const char *symbol, FeatureBar *bars, int nbars);

static FeatureBar *
LoadBarsSpi(const char *symbol, int *nbars)
{
	static SPIPlanPtr plan = NULL;
	Datum		values[1];
	FeatureBar *bars;
	MemoryContext caller = CurrentMemoryContext;
	int			rc;

	values[0] = CStringGetTextDatum(symbol);
	SPI_connect();
	if (plan == NULL)
	{
		Oid			argtypes[1] = {TEXTOID};
		SPIPlanPtr	p = SPI_prepare("SELECT day, high, low, close, volume::float8 FROM stockml.prices "
									"WHERE symbol = $1 ORDER BY day", 1, argtypes);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		plan = p;
	}
	rc = SPI_execute_plan(plan, values, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading stockml.prices failed: %s", SPI_result_code_string(rc));

	*nbars = (int) SPI_processed;
	bars = MemoryContextAlloc(caller, mul_size(Max(SPI_processed, 1), sizeof(FeatureBar)));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		vol;

		bars[i].day = DatumGetDateADT(SPI_getbinval(tup, desc, 1, &isnull));
		bars[i].high = DatumGetFloat8(SPI_getbinval(tup, desc, 2, &isnull));
		bars[i].low = DatumGetFloat8(SPI_getbinval(tup, desc, 3, &isnull));
		bars[i].close = DatumGetFloat8(SPI_getbinval(tup, desc, 4, &isnull));
		vol = SPI_getbinval(tup, desc, 5, &isnull);
		bars[i].volume = isnull ? 0.0 : DatumGetFloat8(vol);
		bars[i].adj_close = NAN;
	}
	SPI_finish();
	LoadAdjustedCloses(symbol, bars, *nbars);
	return bars;
}

/*
 * The stored adjusted closes of the bars the caller may see, read as the
 * extension's owner: the adjustment of a visible bar must not depend on
 * whether the caller may read the adj_close column (a caller without it
 * would otherwise apply Yahoo's splits a second time to its split-adjusted
 * closes).  Nothing else of a row is read.
 */
static void
LoadAdjustedCloses(const char *symbol, FeatureBar *bars, int nbars)
{
	StockmlOwnerSwitch sw;
	int			t = 0;

	if (nbars == 0)
		return;
	StockmlBecomeOwner(&sw);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT day, adj_close FROM stockml.prices"
							  " WHERE symbol = $1 AND adj_close IS NOT NULL ORDER BY day",
							  1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(symbol)},
							  NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading stockml.prices failed");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		bool		isnull;
		DateADT		day = DatumGetDateADT(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));

		while (t < nbars && bars[t].day < day)
			t++;
		if (t < nbars && bars[t].day == day)
			bars[t].adj_close = DatumGetFloat8(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));
	}
	SPI_finish();
	StockmlRestoreUser(&sw);
}

/*
 * The bars by a scan of the primary key (symbol, day) of stockml.prices: one
 * ordered index scan, no query.  NULL when the table is not as expected (no
 * such key, other column types), has row-level security for this user, or the
 * user lacks table-wide SELECT: LoadBarsSpi then does it with every check a
 * query makes.  NULL too when the table is a Citus table: on a coordinator it
 * is a shell whose rows live on the workers, which only a query reaches.
 */
static FeatureBar *
LoadBarsDirect(const char *symbol, int *nbars)
{
	Oid			relid = get_relname_relid("prices", get_namespace_oid("stockml", false));
	static const char *const columns[] = {"symbol", "day", "high", "low", "close", "volume",
	"adj_close"};
	static const Oid types[] = {TEXTOID, DATEOID, FLOAT8OID, FLOAT8OID, FLOAT8OID, INT8OID,
	FLOAT8OID};
	AttrNumber	att[7];
	AttrNumber	maxatt = 0;
	Relation	rel;
	Relation	idx;
	Oid			pk;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	ScanKeyData key;
	Snapshot	snapshot;
	FeatureBar *bars;
	int			n = 0;
	int			size = 1024;

	if (!OidIsValid(relid) ||
		pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK ||
		check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED ||
		RelationIsCitusTable(relid))
		return NULL;
	for (int i = 0; i < 7; i++)
	{
		att[i] = get_attnum(relid, columns[i]);
		if (att[i] == InvalidAttrNumber || get_atttype(relid, att[i]) != types[i])
			return NULL;
		maxatt = Max(maxatt, att[i]);
	}

	rel = table_open(relid, AccessShareLock);
	pk = RelationGetPrimaryKeyIndex(rel);
	if (!OidIsValid(pk))
	{
		table_close(rel, AccessShareLock);
		return NULL;
	}
	idx = index_open(pk, AccessShareLock);
	if (idx->rd_rel->relam != BTREE_AM_OID ||
		IndexRelationGetNumberOfKeyAttributes(idx) != 2 ||
		idx->rd_index->indkey.values[0] != att[0] || idx->rd_index->indkey.values[1] != att[1])
	{
		index_close(idx, AccessShareLock);
		table_close(rel, AccessShareLock);
		return NULL;
	}

	ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   idx->rd_indcollation[0], F_TEXTEQ, CStringGetTextDatum(symbol));
	snapshot = ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
	scan = index_beginscan(rel, idx, snapshot, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	slot = table_slot_create(rel, NULL);
	bars = palloc(sizeof(FeatureBar) * size);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		FeatureBar *b;

		if ((n & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		if (n == size)
		{
			if (size > (int) (MaxAllocSize / sizeof(FeatureBar) / 2))
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("symbol \"%s\" has too many bars", symbol)));
			size *= 2;
			bars = repalloc(bars, sizeof(FeatureBar) * size);
		}
		slot_getsomeattrs(slot, maxatt);
		b = &bars[n++];
		/* the table's NOT NULL constraints hold day and prices; volume may be NULL */
		b->day = DatumGetDateADT(slot->tts_values[att[1] - 1]);
		b->high = DatumGetFloat8(slot->tts_values[att[2] - 1]);
		b->low = DatumGetFloat8(slot->tts_values[att[3] - 1]);
		b->close = DatumGetFloat8(slot->tts_values[att[4] - 1]);
		b->volume = slot->tts_isnull[att[5] - 1] ? 0.0 :
			(double) DatumGetInt64(slot->tts_values[att[5] - 1]);
		b->adj_close = slot->tts_isnull[att[6] - 1] ? NAN :
			DatumGetFloat8(slot->tts_values[att[6] - 1]);
	}
	ExecDropSingleTupleTableSlot(slot);
	index_endscan(scan);
	index_close(idx, AccessShareLock);
	table_close(rel, AccessShareLock);
	*nbars = n;
	return bars;
}

/*
 * The one place bars are read for modelling: as stored, then put on the
 * total-return scale of the last bar (src/adjust.c, doc/adjustment.md).
 */
FeatureBar *
FeatureBarsLoad(const char *symbol, int *nbars)
{
	FeatureBar *bars = LoadBarsDirect(symbol, nbars);
	AdjustInput *in;
	double	   *price;
	double	   *volume;

	if (bars == NULL)
		bars = LoadBarsSpi(symbol, nbars);
	if (*nbars < 2)
		return bars;
	in = palloc(mul_size(*nbars, sizeof(AdjustInput)));
	price = palloc(mul_size(*nbars, sizeof(double)));
	volume = palloc(mul_size(*nbars, sizeof(double)));
	for (int t = 0; t < *nbars; t++)
	{
		in[t].day = bars[t].day;
		in[t].close = bars[t].close;
		in[t].adj_close = bars[t].adj_close;
	}
	PriceAdjustFactors(symbol, in, *nbars, price, volume);
	for (int t = 0; t < *nbars; t++)
	{
		bars[t].high *= price[t];
		bars[t].low *= price[t];
		bars[t].close *= price[t];
		bars[t].volume *= volume[t];
	}
	pfree(in);
	pfree(price);
	pfree(volume);
	return bars;
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
	bool		defined;

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
				double		r;

				return IndicatorPushLog(ret, lnc, &r) && IndicatorPush(ind, r, 0, 0, v);
			}
		case FEAT_VOLUME_ZSCORE:
			return IndicatorPush(ind, log1p(Max(b->volume, 0.0)), 0, 0, v);
		case FEAT_ATR:
			defined = IndicatorPush(ind, b->close, b->high, b->low, v);
			*v /= b->close;
			return defined;
		default:
			defined = IndicatorPush(ind, b->close, 0, 0, v);
			switch (def->kind)
			{
				case FEAT_SMA_RATIO:
				case FEAT_EMA_RATIO:
					*v = b->close / *v - 1.0;
					break;
				case FEAT_RSI:
					*v /= 100.0;
					break;
				case FEAT_MACD:
				case FEAT_MACD_SIGNAL:
					*v /= b->close;
					break;
				default:
					break;
			}
			return defined;
	}
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
	double	   *value = palloc(mul_size(Max(nbars, 1), sizeof(double)));
	Indicator  *ind;
	Indicator  *ret;

	FeatureIndicatorsInit(def, &ind, &ret);
	*first = nbars;
	for (int k = 0; k < nbars; k++)
	{
		if ((k & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		if (FeaturePush(def, ind, ret, &bars[k], log(bars[k].close), &value[k]) && *first == nbars)
			*first = k;
	}
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
	int			nf = spec->nfeatures;
	/* days up to here are counted; the calendar's first day is the furthest back */
	DateADT		known = CalendarFirstDay(cal);
	DateADT		walked = DATE_IS_NOBEGIN(known) ? m->days[0] - 367 : Max(m->days[0] - 367, known - 1);
	int			since = FEATURE_HOLIDAY_CAP;

	for (int i = 0; i < m->nrows; i++)
	{
		DateADT		day = m->days[i];
		double	   *row = &m->x[(Size) i * nf];
		int			to_end = -1;

		if ((i & 255) == 0)
			CHECK_FOR_INTERRUPTS();
		for (; walked < day; walked++)
		{
			DateADT		d = walked + 1;

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
						int			y,
									mo,
									d;
						DateADT		month_end;

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
	int			nf = spec->nfeatures;
	int			first = -1;
	int			last = -1;
	int			nrows;
	Indicator **ind = palloc0(sizeof(Indicator *) * nf);
	Indicator **returns = palloc0(sizeof(Indicator *) * nf);
	double	  **exo_value = NULL;
	int		   *exo_at = NULL;
	DateADT		exo_from = DATEVAL_NOBEGIN;	/* every other symbol's feature is defined */
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
			int			from;

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

	for (int j = 0; j < nf; j++)
		if (spec->defs[j].symbol[0] == '\0')
			FeatureIndicatorsInit(&spec->defs[j], &ind[j], &returns[j]);

	/* warm-up reads every bar before the first output row, whatever start_day */
	for (int t = 0; t <= last; t++)
	{
		const FeatureBar *b = &bars[t];
		double		lnc = log(b->close);
		bool		out = (t >= first);
		double	   *row = out ? &m->x[(Size) (t - first) * nf] : NULL;

		if ((t & 1023) == 0)
			CHECK_FOR_INTERRUPTS();

		for (int j = 0; j < nf; j++)
		{
			const FeatureDef *def = &spec->defs[j];
			double		v;
			bool		defined;

			if (exo_value && exo_value[j])
			{
				/* the other symbol's value at its last bar on or before this day */
				const FeatureBar *eb = inputs->exo_bars[j];
				int			ne = inputs->exo_nbars[j];

				if (!out)
					continue;
				while (exo_at[j] + 1 < ne && eb[exo_at[j] + 1].day <= b->day)
					exo_at[j]++;
				row[j] = exo_value[j][exo_at[j]];
				continue;
			}
			defined = FeaturePush(def, ind[j], returns[j], b, lnc, &v);
			if (out)
			{
				if (!defined)
					elog(ERROR, "feature \"%s\" undefined at bar %d after its warm-up of %d bars",
						 def->name, t + 1, spec->warmup);
				row[j] = v;
			}
		}
		if (out)
		{
			int			i = t - first;

			m->days[i] = b->day;
			m->close[i] = b->close;
			m->y[i] = (t + horizon < nbars) ? log(bars[t + horizon].close / b->close) : NAN;
		}
	}
	if (spec->needs_inputs)
		FillCalendar(spec, (TradingCalendar) inputs->calendar, m);	/* nrows > 0 */
	return m;
}

FeatureInputs *
FeatureInputsLoad(const FeatureSpec *spec, const char *symbol)
{
	FeatureInputs *in;
	bool		calendar = false;

	if (!spec->needs_inputs)
		return NULL;
	in = palloc0(sizeof(FeatureInputs));
	in->exo_bars = palloc0(sizeof(FeatureBar *) * spec->nfeatures);
	in->exo_nbars = palloc0(sizeof(int) * spec->nfeatures);
	in->exo_calendar = palloc0(sizeof(int) * spec->nfeatures);
	for (int j = 0; j < spec->nfeatures; j++)
	{
		const FeatureDef *def = &spec->defs[j];
		int			same = -1;

		calendar |= FEATURE_KIND_IS_CALENDAR(def->kind);
		if (def->symbol[0] == '\0')
			continue;
		for (int i = 0; i < j && same < 0; i++)
			if (strcmp(spec->defs[i].symbol, def->symbol) == 0)
				same = i;
		if (same >= 0)
		{
			in->exo_bars[j] = in->exo_bars[same];
			in->exo_nbars[j] = in->exo_nbars[same];
			in->exo_calendar[j] = in->exo_calendar[same];
			continue;
		}
		in->exo_bars[j] = FeatureBarsLoad(def->symbol, &in->exo_nbars[j]);
		if (in->exo_nbars[j] == 0)
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("feature \"%s\" reads symbol \"%s\", which has no stored bars",
							def->name, def->symbol),
					 errhint("Load it first, e.g. SELECT stockml.ingest_yahoo('%s');", def->symbol)));
		in->exo_calendar[j] = SymbolCalendar(def->symbol);
	}
	in->calendar = calendar ? SymbolCalendar(symbol) : CALENDAR_XNYS;
	return in;
}

void
FeatureInputsRequireCurrent(const FeatureSpec *spec, const FeatureInputs *inputs,
							const char *symbol, DateADT as_of)
{
	if (inputs == NULL)
		return;
	for (int j = 0; j < spec->nfeatures; j++)
	{
		const FeatureDef *def = &spec->defs[j];
		DateADT		latest;
		DateADT		needed;

		if (def->symbol[0] == '\0')
			continue;
		latest = inputs->exo_bars[j][inputs->exo_nbars[j] - 1].day;
		/* its last trading day on or before as_of */
		needed = CalendarAddTradingDays((TradingCalendar) inputs->exo_calendar[j], as_of + 1, -1);
		if (latest < needed)
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("feature \"%s\" needs the bar of symbol \"%s\" of %s, the latest bar of \"%s\"",
							def->name, def->symbol,
							DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(needed))),
							symbol),
					 errdetail("The latest stored bar of \"%s\" is of %s.", def->symbol,
							   DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(latest)))),
					 errhint("Refresh it first: SELECT * FROM stockml.refresh(ARRAY['%s']);", def->symbol)));
	}
}

FeatureMatrix *
FeatureMatrixCompute(const char *symbol, const FeatureSpec *spec,
					 const DateADT *start_day, const DateADT *end_day, int horizon)
{
	int			nbars;
	FeatureBar *bars;
	FeatureMatrix *m;

	FeatureCheckHorizon(horizon);
	bars = FeatureBarsLoad(symbol, &nbars);
	m = FeatureMatrixFromBars(spec, FeatureInputsLoad(spec, symbol), bars, nbars,
							  start_day, end_day, horizon);
	pfree(bars);
	return m;
}

/* ------------------------------------------------------------ SQL-callable */

static void
CheckSymbolKnown(const char *symbol)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		known;

	values[0] = CStringGetTextDatum(symbol);
	SPI_connect();
	if (SPI_execute_with_args("SELECT 1 FROM stockml.symbols WHERE symbol = $1",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading stockml.symbols failed");
	known = (SPI_processed > 0);
	SPI_finish();
	if (!known)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("symbol \"%s\" has no stored prices", symbol),
				 errhint("Load bars first, e.g. SELECT * FROM stockml.ingest_csv('%s', :'csv');", symbol)));
}

static void
FeaturesToTuplestore(FunctionCallInfo fcinfo, const char *symbol, Jsonb *spec_jsonb,
					 int start_arg, int end_arg, int horizon)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	FeatureSpec *spec;
	FeatureMatrix *m;
	DateADT		start_day,
				end_day;
	ArrayType  *x;
	Size		xsize;
	Datum		symbol_datum;
	int			nbars;
	FeatureBar *bars;
	MemoryContext work;
	MemoryContext caller;

	ValidateSymbol(symbol);
	FeatureCheckHorizon(horizon);

	/*
	 * The bars and the matrix live only until they are in the tuplestore: in
	 * a LATERAL call over many symbols the caller's context is not reset
	 * between calls.
	 */
	work = AllocSetContextCreate(CurrentMemoryContext, "stockml features",
								 ALLOCSET_DEFAULT_SIZES);
	caller = MemoryContextSwitchTo(work);
	spec = FeatureSpecParse(spec_jsonb);
	if (!PG_ARGISNULL(start_arg))
		start_day = PG_GETARG_DATEADT(start_arg);
	if (!PG_ARGISNULL(end_arg))
		end_day = PG_GETARG_DATEADT(end_arg);

	bars = FeatureBarsLoad(symbol, &nbars);
	if (nbars == 0)
		CheckSymbolKnown(symbol);
	m = FeatureMatrixFromBars(spec, nbars > 0 ? FeatureInputsLoad(spec, symbol) : NULL,
							  bars, nbars,
							  PG_ARGISNULL(start_arg) ? NULL : &start_day,
							  PG_ARGISNULL(end_arg) ? NULL : &end_day, horizon);

	InitMaterializedSRF(fcinfo, 0);
	symbol_datum = CStringGetTextDatum(symbol);

	/*
	 * One float8[] buffer, refilled for every row: tuplestore_putvalues copies
	 * it into the stored tuple.  Built by hand, as construct_array would,
	 * without its per-element work.
	 */
	xsize = add_size(ARR_OVERHEAD_NONULLS(1), mul_size(m->nfeatures, sizeof(float8)));
	x = (ArrayType *) palloc0(xsize);
	SET_VARSIZE(x, xsize);
	x->ndim = 1;
	x->dataoffset = 0;
	x->elemtype = FLOAT8OID;
	ARR_DIMS(x)[0] = m->nfeatures;
	ARR_LBOUND(x)[0] = 1;

	for (int i = 0; i < m->nrows; i++)
	{
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		memcpy((char *) x + ARR_OVERHEAD_NONULLS(1), &m->x[(Size) i * m->nfeatures], m->nfeatures * sizeof(float8));
		values[0] = symbol_datum;
		values[1] = DateADTGetDatum(m->days[i]);
		values[2] = Float8GetDatum(m->close[i]);
		values[3] = PointerGetDatum(x);
		if (isnan(m->y[i]))
			nulls[4] = true;
		else
			values[4] = Float8GetDatum(m->y[i]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	MemoryContextSwitchTo(caller);
	MemoryContextDelete(work);
}

static char *
RequiredText(FunctionCallInfo fcinfo, int arg, const char *what)
{
	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what)));
	return text_to_cstring(PG_GETARG_TEXT_PP(arg));
}

static int
RequiredHorizon(FunctionCallInfo fcinfo, int arg)
{
	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("horizon must not be NULL"),
				 errhint("horizon => 1 predicts the next stored bar's close.")));
	return PG_GETARG_INT32(arg);
}

/*
 * stockml_reader reads no table, yet its documented batch prediction is
 * SELECT predict(model, x) FROM features(...): for a member of it that may not
 * read stockml.prices, features() reads the feature set, the bars and the
 * watchlist as the extension's owner, as predict() does (search_path pinned,
 * security-restricted, reading only; the bars are what price_history shows
 * it).  Everyone else reads them as themselves, row-level security included.
 */
static bool
FeaturesReadAsOwner(void)
{
	Oid			reader = get_role_oid(STOCKML_READER_ROLE, true);
	Oid			prices = get_relname_relid("prices", get_namespace_oid("stockml", false));

	return OidIsValid(reader) && OidIsValid(prices) &&
		has_privs_of_role(GetUserId(), reader) &&
		pg_class_aclcheck(prices, GetUserId(), ACL_SELECT) != ACLCHECK_OK;
}

/* features(symbol, start_day, end_day, feature_set, horizon) */
PG_FUNCTION_INFO_V1(stockml_features);
Datum
stockml_features(PG_FUNCTION_ARGS)
{
	char	   *symbol = RequiredText(fcinfo, 0, "symbol");
	char	   *set = RequiredText(fcinfo, 3, "feature_set");
	int			horizon = RequiredHorizon(fcinfo, 4);
	bool		as_owner = FeaturesReadAsOwner();
	StockmlOwnerSwitch sw;

	/* an ERROR in between is undone by the (sub)transaction's abort */
	if (as_owner)
		StockmlBecomeOwner(&sw);
	FeaturesToTuplestore(fcinfo, symbol, FeatureSetSpec(set), 1, 2, horizon);
	if (as_owner)
		StockmlRestoreUser(&sw);
	return (Datum) 0;
}

/* features_spec(symbol, spec, start_day, end_day, horizon) */
PG_FUNCTION_INFO_V1(stockml_features_spec);
Datum
stockml_features_spec(PG_FUNCTION_ARGS)
{
	char	   *symbol = RequiredText(fcinfo, 0, "symbol");
	int			horizon = RequiredHorizon(fcinfo, 4);

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("spec must not be NULL"),
				 errhint("Pass a spec, e.g. (SELECT spec FROM stockml.feature_sets WHERE name = 'default').")));
	{
		Jsonb	   *spec = PG_GETARG_JSONB_P(1);
		bool		as_owner = FeaturesReadAsOwner();
		StockmlOwnerSwitch sw;

		if (as_owner)
			StockmlBecomeOwner(&sw);
		FeaturesToTuplestore(fcinfo, symbol, spec, 2, 3, horizon);
		if (as_owner)
			StockmlRestoreUser(&sw);
	}
	return (Datum) 0;
}

/* feature_names(spec): the names, in the order of x */
PG_FUNCTION_INFO_V1(stockml_feature_names);
Datum
stockml_feature_names(PG_FUNCTION_ARGS)
{
	FeatureSpec *spec = FeatureSpecParse(PG_GETARG_JSONB_P(0));
	Datum	   *names = palloc(sizeof(Datum) * spec->nfeatures);

	for (int i = 0; i < spec->nfeatures; i++)
		names[i] = CStringGetTextDatum(spec->defs[i].name);
	PG_RETURN_ARRAYTYPE_P(construct_array(names, spec->nfeatures, TEXTOID, -1, false, TYPALIGN_INT));
}

/* feature_spec_check(spec): true, or an ERROR saying what is wrong */
PG_FUNCTION_INFO_V1(stockml_feature_spec_check);
Datum
stockml_feature_spec_check(PG_FUNCTION_ARGS)
{
	FeatureSpecParse(PG_GETARG_JSONB_P(0));
	PG_RETURN_BOOL(true);
}

/* feature_spec_warmup(spec): the first bar (from 1) with a full feature row */
PG_FUNCTION_INFO_V1(stockml_feature_spec_warmup);
Datum
stockml_feature_spec_warmup(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(FeatureSpecParse(PG_GETARG_JSONB_P(0))->warmup);
}
