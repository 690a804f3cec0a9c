/*
 * predict.c — serving: stockml.predict(model_name, symbol) and
 * stockml.predict(model_name, x), through a per-backend cache of
 * deserialized production models.
 *
 * The cache maps a model name to the version its `production` alias points
 * to, decoded once (model, feature spec, interval residuals: interval.c), at most
 * stockml.model_cache_size of them, least recently used out first.  It is
 * never stale across a commit: a statement trigger on model_aliases and
 * models sends a relcache invalidation of its table, which every backend
 * receives at its next transaction start (or lock), and the callback
 * registered here marks the whole cache stale.  Entries are freed only at
 * the next lookup, never from inside the callback, so a caller that holds
 * an entry while it runs SPI cannot see it freed under it; call sites keep
 * the cache generation with their entry pointer and look up again when it
 * has moved.  A model loaded while an invalidation arrived is used for that
 * call only and not kept.
 *
 * Privileges: predict() may be granted to roles that cannot read the models,
 * aliases or prices (stockml_reader, which Grafana uses).  Rather than make
 * the functions SECURITY DEFINER, which would set search_path on every call
 * and cost batch predict(model, x) several times a bare scan, the reads
 * themselves — a cache miss, and the bars of predict(model, symbol) — run as
 * the extension's owner with search_path pinned to pg_catalog, pg_temp and
 * as a security-restricted operation; an ERROR inside is undone by the
 * (sub)transaction abort, as for SECURITY DEFINER.
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "calendar.h"
#include "feature_matrix.h"
#include "interval.h"
#include "model.h"
#include "model_matrix.h"
#include "price_store.h"
#include "roles.h"
#include "stockml.h"
#include "train.h"

PG_FUNCTION_INFO_V1(stockml_predict_symbol);
PG_FUNCTION_INFO_V1(stockml_predict_vector);
PG_FUNCTION_INFO_V1(stockml_models_changed);

int			stockml_model_cache_size = 16;
double		stockml_interval_level = 0.9;

typedef struct CachedModel
{
	char		name[NAMEDATALEN];	/* hash key */
	MemoryContext cxt;			/* everything below */
	int64		model_id;
	int32		version;
	int			horizon;
	Model	   *model;
	FeatureSpec *spec;
	double	   *abs_residuals;	/* sorted order statistics of |log error| */
	int			nabs;
	int64		n_residuals;	/* how many out-of-sample errors they summarise */
	/* versions of 0.2.0: the same of |log error| / (σ_t sqrt(h)), nscaled 0 when none */
	double	   *scaled_residuals;
	int			nscaled;
	int64		n_scaled;
	IntervalScale scale;
	double	   *work;			/* n_features scratch */
	uint64		last_used;
} CachedModel;

/* What a call site of predict(name, x) remembers between rows */
typedef struct PredictCallCache
{
	uint64		generation;
	CachedModel *entry;
	bool		name_is_constant;	/* the model name cannot change between rows */
	char		name[NAMEDATALEN];
} PredictCallCache;

static HTAB *model_cache = NULL;
static MemoryContext model_cache_cxt = NULL;
static uint64 cache_generation = 1;	/* moves whenever an entry may be gone */
static bool cache_stale = false;
static uint64 use_clock = 0;
static Oid	aliases_relid = InvalidOid;
static Oid	models_relid = InvalidOid;
static bool callback_registered = false;
/* a model loaded outside the cache (stale while loading, or cache size 0) */
static CachedModel *uncached = NULL;

static void ModelCacheCallback(Datum arg, Oid relid);
static void FlushModelCache(void);
static void EvictLeastRecentlyUsed(void);
static CachedModel *LookupModel(const char *name);
static void LoadModel(const char *name, CachedModel *entry);
static int	ReadOrderStatistics(Datum d, bool isnull, double **values);
static double HalfWidth(const CachedModel *entry, const FeatureBar *bars, int nbars);
static double ForecastPrice(double close, double log_return, const char *name, const char *symbol);

void
StockmlPredictInit(void)
{
	DefineCustomIntVariable("stockml.model_cache_size",
							"Production models each backend keeps decoded for predict().",
							"Least recently used out first; 0 decodes the model on every call.",
							&stockml_model_cache_size,
							16, 0, 10000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomRealVariable("stockml.interval_level",
							 "Coverage of the interval predict() gives around a forecast.",
							 "Split-conformal, from the out-of-sample errors of the walk-forward folds; "
							 "0 gives no interval.",
							 &stockml_interval_level,
							 0.9, 0.0, 0.999,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
}

/* Relcache callback: only marks; freeing waits for the next lookup */
static void
ModelCacheCallback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == aliases_relid || relid == models_relid ||
		!OidIsValid(aliases_relid))
	{
		cache_stale = true;
		cache_generation++;
	}
}

static void
FlushModelCache(void)
{
	if (model_cache_cxt)
		MemoryContextReset(model_cache_cxt);
	model_cache = NULL;
	uncached = NULL;
	/* the extension may have been dropped and created again */
	aliases_relid = InvalidOid;
	models_relid = InvalidOid;
	cache_stale = false;
	cache_generation++;
}

static void
EvictLeastRecentlyUsed(void)
{
	HASH_SEQ_STATUS seq;
	CachedModel *e;
	CachedModel *oldest = NULL;

	hash_seq_init(&seq, model_cache);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (oldest == NULL || e->last_used < oldest->last_used)
			oldest = e;
	if (oldest)
	{
		MemoryContextDelete(oldest->cxt);
		hash_search(model_cache, oldest->name, HASH_REMOVE, NULL);
		cache_generation++;
	}
}

/*
 * Read the production version of a model and decode it into entry (whose
 * name is set), allocating in entry->cxt.
 */
static void
LoadModel(const char *name, CachedModel *entry)
{
	Datum		arg = CStringGetTextDatum(name);
	MemoryContext old;
	bool		isnull;
	int			rc;
	HeapTuple	tup;
	TupleDesc	desc;
	Datum		d;

	SPI_connect();
	rc = SPI_execute_with_args("SELECT m.id, m.version, m.horizon, m.feature_spec, m.model,"
							   " m.reference -> 'abs_residuals', (m.reference ->> 'n_residuals')::int8,"
							   " m.reference -> 'scaled_residuals', (m.reference ->> 'n_scaled')::int8,"
							   " (m.reference -> 'interval' ->> 'lambda')::float8,"
							   " (m.reference -> 'interval' ->> 'seed_returns')::int4"
							   " FROM stockml.model_aliases a"
							   " JOIN stockml.models m ON m.name = a.name AND m.version = a.version"
							   " WHERE a.name = $1 AND a.alias = 'production'",
							   1, (Oid[]) {TEXTOID}, &arg, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading the production model failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
	{
		rc = SPI_execute_with_args("SELECT FROM stockml.models WHERE name = $1",
								   1, (Oid[]) {TEXTOID}, &arg, NULL, true, 1);
		if (rc == SPI_OK_SELECT && SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("model \"%s\" does not exist", name),
					 errhint("SELECT * FROM stockml.train('%s', ARRAY['MSFT']) trains one.", name)));
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" has no production version", name),
				 errdetail("train() moves production only to a version whose skill beats the current one's (or the naive baseline's)."),
				 errhint("SELECT stockml.deploy('%s', version) with a version from stockml.model_versions.", name)));
	}
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;

	old = MemoryContextSwitchTo(entry->cxt);
	entry->model_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	entry->version = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
	entry->horizon = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
	if (entry->horizon < 1 || entry->horizon > FEATURE_MAX_HORIZON)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("model \"%s\" version %d has horizon %d", name, entry->version, entry->horizon),
				 errdetail("A horizon is 1 to %d bars.", FEATURE_MAX_HORIZON),
				 errhint("Retrain the model.")));
	entry->spec = FeatureSpecParse(DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 4, &isnull)));
	entry->model = ModelDeserialize(DatumGetByteaPP(SPI_getbinval(tup, desc, 5, &isnull)));
	if (entry->model->n_features != entry->spec->nfeatures)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("model \"%s\" version %d takes %d features but its feature spec has %d",
						name, entry->version, entry->model->n_features, entry->spec->nfeatures),
				 errhint("Retrain the model.")));
	entry->work = palloc(sizeof(double) * entry->model->n_features);
	d = SPI_getbinval(tup, desc, 6, &isnull);
	entry->nabs = ReadOrderStatistics(d, isnull, &entry->abs_residuals);
	d = SPI_getbinval(tup, desc, 7, &isnull);
	entry->n_residuals = isnull ? entry->nabs : DatumGetInt64(d);
	d = SPI_getbinval(tup, desc, 8, &isnull);
	entry->nscaled = ReadOrderStatistics(d, isnull, &entry->scaled_residuals);
	d = SPI_getbinval(tup, desc, 9, &isnull);
	entry->n_scaled = isnull ? entry->nscaled : DatumGetInt64(d);
	{
		bool		lnull,
					snull;
		Datum		ld = SPI_getbinval(tup, desc, 10, &lnull);
		Datum		sd = SPI_getbinval(tup, desc, 11, &snull);

		entry->scale.lambda = lnull ? NAN : DatumGetFloat8(ld);
		entry->scale.seed = snull ? 0 : DatumGetInt32(sd);
		/* a scale this stockml cannot apply: the fixed-width interval */
		if (!(entry->scale.lambda > 0 && entry->scale.lambda < 1) ||
			entry->scale.seed < 1 || entry->scale.seed > 100000)
			entry->nscaled = 0;
	}
	MemoryContextSwitchTo(old);
	SPI_finish();
}

static CachedModel *
LookupModel(const char *name)
{
	CachedModel *entry;
	bool		found;
	uint64		generation;
	Oid			nsp;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(ModelCacheCallback, (Datum) 0);
		callback_registered = true;
	}
	if (model_cache_cxt == NULL)
		model_cache_cxt = AllocSetContextCreate(CacheMemoryContext, "stockml model cache",
												ALLOCSET_SMALL_SIZES);

	/*
	 * Take in alias moves committed since this transaction last took a lock:
	 * in a READ COMMITTED transaction block a statement after the deploy
	 * commits must see it, even when it needs no new lock.
	 */
	AcceptInvalidationMessages();
	if (cache_stale || uncached)
		FlushModelCache();
	if (strlen(name) >= NAMEDATALEN)
		ValidateModelName(name);
	if (!OidIsValid(aliases_relid))
	{
		nsp = get_namespace_oid("stockml", false);
		aliases_relid = get_relname_relid("model_aliases", nsp);
		models_relid = get_relname_relid("models", nsp);
	}
	if (model_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = NAMEDATALEN;
		ctl.entrysize = sizeof(CachedModel);
		ctl.hcxt = model_cache_cxt;
		model_cache = hash_create("stockml model cache", 16, &ctl,
								  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}

	entry = hash_search(model_cache, name, HASH_FIND, NULL);
	if (entry)
	{
		entry->last_used = ++use_clock;
		return entry;
	}

	while (hash_get_num_entries(model_cache) >= Max(stockml_model_cache_size, 1))
		EvictLeastRecentlyUsed();

	generation = cache_generation;
	entry = hash_search(model_cache, name, HASH_ENTER, &found);
	entry->cxt = AllocSetContextCreate(model_cache_cxt, "stockml cached model",
									   ALLOCSET_SMALL_SIZES);
	entry->last_used = ++use_clock;
	PG_TRY();
	{
		StockmlOwnerSwitch sw;

		StockmlBecomeOwner(&sw);
		LoadModel(name, entry);
		StockmlRestoreUser(&sw);
	}
	PG_CATCH();
	{
		MemoryContextDelete(entry->cxt);
		hash_search(model_cache, name, HASH_REMOVE, NULL);
		PG_RE_THROW();
	}
	PG_END_TRY();

	/*
	 * An invalidation that arrived while loading may mean what was read is
	 * already old: serve it this once (it was true at this snapshot) and
	 * drop it at the next lookup.  Under REPEATABLE READ the snapshot may
	 * predate a deploy whose invalidation was already taken, so what it
	 * reads is not kept either.  Cache size 0 keeps nothing.
	 */
	if (generation != cache_generation || stockml_model_cache_size == 0 ||
		IsolationUsesXactSnapshot())
		uncached = entry;
	return entry;
}

/* Sorted order statistics from a jsonb array of numbers; how many */
static int
ReadOrderStatistics(Datum d, bool isnull, double **values)
{
	Jsonb	   *arr;
	int			n;
	int			kept = 0;

	*values = NULL;
	if (isnull)
		return 0;
	arr = DatumGetJsonbP(d);
	if (!JB_ROOT_IS_ARRAY(arr) || JB_ROOT_IS_SCALAR(arr))
		return 0;
	n = JB_ROOT_COUNT(arr);
	*values = palloc(sizeof(double) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		JsonbValue *v = getIthJsonbValueFromContainer(&arr->root, i);

		if (v == NULL || v->type != jbvNumeric)
			break;
		(*values)[kept++] =
			DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
	}
	return kept;
}

/*
 * Half the interval's width in log return at stockml.interval_level: q σ_t
 * sqrt(h) with q the conformal quantile of the scaled residuals and σ_t the
 * volatility on the last bar, for a version that keeps them; else (a version
 * of 0.1.0, or no σ_t: too few bars, or constant closes) the quantile of the
 * plain |log error|, the same width for every day and symbol.  NaN: no interval.
 */
static double
HalfWidth(const CachedModel *entry, const FeatureBar *bars, int nbars)
{
	if (entry->nscaled > 0 && nbars > 0)
	{
		double	   *sigma = palloc(sizeof(double) * nbars);
		double		s;

		IntervalVolatility(bars, nbars, &entry->scale, sigma);
		s = sigma[nbars - 1];
		pfree(sigma);
		if (s > 0 && isfinite(s))
		{
			double		q = IntervalQuantile(entry->scaled_residuals, entry->nscaled,
											 entry->n_scaled, stockml_interval_level);

			return q * s * sqrt((double) entry->horizon);
		}
	}
	return IntervalQuantile(entry->abs_residuals, entry->nabs, entry->n_residuals,
							stockml_interval_level);
}

/* close * exp(log_return), or an ERROR when that is not a finite positive price */
static double
ForecastPrice(double close, double log_return, const char *name, const char *symbol)
{
	double		price = close * exp(log_return);

	if (!isfinite(price) || !(price > 0))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("model \"%s\" forecasts a close of %s for \"%s\"", name,
						float8out_internal(price), symbol),
				 errdetail("The last close is %s and the predicted log return %s.",
						   float8out_internal(close), float8out_internal(log_return)),
				 errhint("Check the symbol's last bars for extreme values, or retrain the model.")));
	return price;
}

Datum
stockml_predict_symbol(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *symbol = text_to_cstring(PG_GETARG_TEXT_PP(1));
	TupleDesc	tupdesc;
	CachedModel *entry;
	FeatureBar *bars;
	FeatureMatrix *m;
	int			nbars;
	int			last;
	double		yhat;
	double		q;
	Datum		values[8];
	bool		nulls[8] = {false, false, false, false, false, false, false, false};
	StockmlOwnerSwitch sw;
	TradingCalendar cal;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	entry = LookupModel(name);
	ValidateSymbol(symbol);

	StockmlBecomeOwner(&sw);
	bars = FeatureBarsLoad(symbol, &nbars);
	cal = SymbolCalendar(symbol);
	StockmlRestoreUser(&sw);
	if (nbars < entry->spec->warmup)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("symbol \"%s\" has %d stored bar%s; model \"%s\" needs at least %d",
						symbol, nbars, nbars == 1 ? "" : "s", name, entry->spec->warmup),
				 errdetail("The model's features are defined from the %dth bar on.", entry->spec->warmup),
				 errhint("Load more history, e.g. SELECT stockml.ingest_yahoo('%s').", symbol)));
	m = FeatureMatrixFromBars(entry->spec, bars, nbars, &bars[nbars - 1].day, NULL, 1);
	if (m->nrows != 1)
		elog(ERROR, "expected one feature row for the last bar, got %d", m->nrows);
	last = 0;
	for (int j = 0; j < m->nfeatures; j++)
		if (!isfinite(m->x[j]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("feature \"%s\" of \"%s\" on its last bar is not a number",
							entry->spec->defs[j].name, symbol),
					 errhint("Check the last stored bars of the symbol.")));

	yhat = ModelPredict(entry->model, m->x + (int64) last * m->nfeatures, entry->work);
	q = HalfWidth(entry, bars, nbars);

	values[0] = CStringGetTextDatum(symbol);
	values[1] = DateADTGetDatum(m->days[last]);
	values[2] = DateADTGetDatum(CalendarAddTradingDays(cal, m->days[last], entry->horizon));
	/* the last bar's adjustment factor is 1: close[last] is as_of's close as quoted */
	values[3] = Float8GetDatum(ForecastPrice(m->close[last], yhat, name, symbol));
	nulls[4] = nulls[5] = isnan(q);
	if (!nulls[4])
	{
		values[4] = Float8GetDatum(ForecastPrice(m->close[last], yhat - q, name, symbol));
		values[5] = Float8GetDatum(ForecastPrice(m->close[last], yhat + q, name, symbol));
	}
	values[6] = Int32GetDatum(entry->version);
	/* 0.1.0's declaration has no price_scale column */
	values[7] = CStringGetTextDatum("as_of");
	if (tupdesc->natts < 7 || tupdesc->natts > 8)
		elog(ERROR, "predict: unexpected result row of %d columns", tupdesc->natts);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

Datum
stockml_predict_vector(PG_FUNCTION_ARGS)
{
	text	   *name_text = PG_GETARG_TEXT_PP(0);
	ArrayType  *xa = PG_GETARG_ARRAYTYPE_P(1);
	PredictCallCache *call = fcinfo->flinfo->fn_extra;
	int			name_len = VARSIZE_ANY_EXHDR(name_text);
	const double *x;
	int			n;

	if (call == NULL)
	{
		call = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(PredictCallCache));
		call->name_is_constant = get_fn_expr_arg_stable(fcinfo->flinfo, 0);
		fcinfo->flinfo->fn_extra = call;
	}
	/*
	 * The fast path: same model name, nothing invalidated since the last
	 * row.  fn_extra can outlive a statement (PL/pgSQL keeps expressions for
	 * the transaction), so take in other sessions' committed deploys first:
	 * without pending messages this is one unlocked read of shared memory.
	 */
	AcceptInvalidationMessages();
	if (call->entry == NULL || call->generation != cache_generation ||
		(!call->name_is_constant &&
		 (name_len >= NAMEDATALEN || strncmp(call->name, VARDATA_ANY(name_text), name_len) != 0 ||
		  call->name[name_len] != '\0')))
	{
		char	   *name = text_to_cstring(name_text);

		call->entry = NULL;
		call->entry = LookupModel(name);
		call->generation = cache_generation;
		strlcpy(call->name, name, NAMEDATALEN);
	}
	x = FloatArrayValues(xa, 1, "x", &n, NULL);
	if (n != call->entry->model->n_features)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("x has %d features but model \"%s\" takes %d", n, call->name,
						call->entry->model->n_features),
				 errhint("Pass x as stockml.features(symbol, feature_set => the model's feature_set) returns it.")));
	{
		double		yhat = ModelPredict(call->entry->model, x, call->entry->work);

		if (unlikely(!isfinite(yhat)))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("model \"%s\" predicts %s for this x", call->name, float8out_internal(yhat)),
					 errhint("Check x for extreme values.")));
		PG_RETURN_FLOAT8(yhat);
	}
}

/* Statement trigger on model_aliases and models: tell every backend at commit */
Datum
stockml_models_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "stockml_models_changed: not called as a trigger");
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}
