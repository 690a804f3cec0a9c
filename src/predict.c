/*
 * predict.c — serving: stockml.predict(model_name, symbol),
 * stockml.predict(model_name, x), stockml.predict_path(model_name, symbol)
 * and stockml.predict_p_up(model_name, x), through a per-backend cache of
 * deserialized models.
 *
 * Which version serves: version => N, alias => 'name' or, by default, the
 * `production` alias (0.1.0's two-argument functions always take that).
 * The cache maps (model name, alias or version) to that version, decoded
 * once (model heads, feature spec, interval residuals: interval.c), at most
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
#include "feature_state.h"
#include "interval.h"
#include "model.h"
#include "model_matrix.h"
#include "price_store.h"
#include "roles.h"
#include "stockml.h"
#include "train.h"

PG_FUNCTION_INFO_V1(stockml_predict_symbol);
PG_FUNCTION_INFO_V1(stockml_predict_vector);
PG_FUNCTION_INFO_V1(stockml_predict_symbol_0_2);
PG_FUNCTION_INFO_V1(stockml_predict_vector_0_2);
PG_FUNCTION_INFO_V1(stockml_predict_path);
PG_FUNCTION_INFO_V1(stockml_predict_p_up);
PG_FUNCTION_INFO_V1(stockml_resolve_version);
PG_FUNCTION_INFO_V1(stockml_models_changed);

int	   stockml_model_cache_size = 16;
double stockml_interval_level = 0.9;

/* Which version: the one an alias points to, or a version by number (zero-filled: a hash key) */
typedef struct ModelKey
{
	char  name[NAMEDATALEN];
	char  alias[NAMEDATALEN]; /* "" when by version */
	int32 version;			  /* 0 when by alias */
} ModelKey;

/* One head of a version, with the residuals of its interval (see CachedModel) */
typedef struct PathHead
{
	int		horizon;
	Model  *model;
	double *abs_residuals;
	int		nabs;
	int64	n_residuals;
	double *scaled_residuals;
	int		nscaled;
	int64	n_scaled;
} PathHead;

typedef struct CachedModel
{
	ModelKey	  key; /* hash key */
	MemoryContext cxt; /* everything below */
	int64		  model_id;
	int32		  version;
	int			  horizon;
	Model		 *model; /* the head of horizon (predict's) */
	FeatureSpec	 *spec;
	double		 *abs_residuals; /* sorted order statistics of |log error| */
	int			  nabs;
	int64		  n_residuals; /* how many out-of-sample errors they summarise */
	/* versions of 0.2.0: the same of |log error| / (σ_t sqrt(h)), nscaled 0 when none */
	double		 *scaled_residuals;
	int			  nscaled;
	int64		  n_scaled;
	IntervalScale scale;
	double		 *work;	  /* n_features scratch */
	int			  nheads; /* predict_path's heads, ascending horizons */
	PathHead	 *heads;
	uint64		  last_used;
} CachedModel;

/* What a call site of predict(name, x) remembers between rows */
typedef struct PredictCallCache
{
	uint64		 generation;
	CachedModel *entry;
	bool		 key_is_constant; /* the arguments naming the version cannot change between rows */
	ModelKey	 key;
} PredictCallCache;

static HTAB			*model_cache = NULL;
static MemoryContext model_cache_cxt = NULL;
static uint64		 cache_generation = 1; /* moves whenever an entry may be gone */
static bool			 cache_stale = false;
static uint64		 use_clock = 0;
static Oid			 aliases_relid = InvalidOid;
static Oid			 models_relid = InvalidOid;
static bool			 callback_registered = false;
/* a model loaded outside the cache (stale while loading, or cache size 0) */
static CachedModel *uncached = NULL;
/* predict(model_name, symbol)'s row types, by function (ResultDesc) */
static struct
{
	Oid		  fn_oid;
	TupleDesc desc;
} result_descs[4];
static int	result_desc_next = 0;
static bool result_descs_stale = false;
static bool result_desc_callback = false;

static void			 ModelCacheCallback(Datum arg, Oid relid);
static void			 FlushModelCache(void);
static void			 EvictLeastRecentlyUsed(void);
static void			 ModelKeyFromArgs(FunctionCallInfo fcinfo, int argno, const char *name, ModelKey *key);
static CachedModel	*LookupModel(const ModelKey *key);
static void			 LoadModel(const ModelKey *key, CachedModel *entry);
static void			 VersionNotFound(const ModelKey *key) pg_attribute_noreturn();
static void			 LoadHeads(CachedModel *entry, ModelHeads *heads);
static int			 ReadOrderStatistics(Datum d, bool isnull, double **values);
static double		 HalfWidth(const PathHead *head, double sigma);
static const double *LastFeatureRow(const CachedModel *entry, const char *symbol,
									DateADT *as_of, double *close, double *sigma,
									TradingCalendar *cal);
static void			 HeadForecast(const CachedModel *entry, const PathHead *head, const char *symbol,
								  double close, double sigma, const double *x, Datum *values, bool *nulls,
								  Datum *p_up, bool *p_up_null);
static double		 HeadProbabilityUp(const CachedModel *entry, const PathHead *head, double sigma,
									   const double *x, double yhat);
static CachedModel	*VectorCallModel(FunctionCallInfo fcinfo, const double **x);
static double		 ForecastPrice(double close, double log_return, const char *name, const char *symbol);
static TupleDesc	 ResultDesc(FunctionCallInfo fcinfo);
static void			 ResultDescCallback(Datum arg, int cacheid, uint32 hashvalue);

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
	CachedModel	   *e;
	CachedModel	   *oldest = NULL;

	hash_seq_init(&seq, model_cache);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (oldest == NULL || e->last_used < oldest->last_used)
			oldest = e;
	if (oldest)
	{
		MemoryContextDelete(oldest->cxt);
		hash_search(model_cache, &oldest->key, HASH_REMOVE, NULL);
		cache_generation++;
	}
}

/*
 * The version the arguments name: argument argno version, argno + 1 alias
 * (when the call has them: 0.1.0's signatures do not), neither = production.
 */
static void
ModelKeyFromArgs(FunctionCallInfo fcinfo, int argno, const char *name, ModelKey *key)
{
	bool has_version = PG_NARGS() > argno && !PG_ARGISNULL(argno);
	bool has_alias = PG_NARGS() > argno + 1 && !PG_ARGISNULL(argno + 1);

	memset(key, 0, sizeof(ModelKey));
	if (strlen(name) >= NAMEDATALEN)
		ValidateModelName(name);
	strlcpy(key->name, name, NAMEDATALEN);
	if (has_version && has_alias)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("give version or alias, not both"),
				 errdetail("version => %d and alias => '%s' may name different versions of model \"%s\".",
						   PG_GETARG_INT32(argno), text_to_cstring(PG_GETARG_TEXT_PP(argno + 1)), name),
				 errhint("Leave out one of them; with neither, the production alias serves.")));
	if (has_version)
	{
		key->version = PG_GETARG_INT32(argno);
		if (key->version < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("version must be 1 or more, not %d", key->version),
					 errhint("SELECT version, aliases, skill FROM stockml.model_versions WHERE name = '%s' lists its versions.",
							 name)));
	}
	else
	{
		char *alias = has_alias ? text_to_cstring(PG_GETARG_TEXT_PP(argno + 1)) : "production";

		if (strlen(alias) >= NAMEDATALEN)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("model \"%s\" has no alias \"%.*s...\"", name, 20, alias),
					 errdetail("An alias is 1 to 63 characters."),
					 errhint("SELECT version, aliases FROM stockml.model_versions WHERE name = '%s' shows its aliases.",
							 name)));
		strlcpy(key->alias, alias, NAMEDATALEN);
	}
}

/* ERROR: the model, or the version or alias asked for, does not exist */
static void
VersionNotFound(const ModelKey *key)
{
	Datum args[2] = {CStringGetTextDatum(key->name), CStringGetTextDatum(key->alias)};
	int	  rc;
	char *known;
	bool  isnull;

	rc = SPI_execute_with_args("SELECT string_agg(format('%s (version %s)', a.alias, a.version), ', ' ORDER BY a.alias)"
							   " FROM stockml.model_aliases a WHERE a.name = $1"
							   " HAVING EXISTS (SELECT FROM stockml.models m WHERE m.name = $1)",
							   1, (Oid[]) {TEXTOID}, args, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading the model's aliases failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", key->name),
				 errhint("SELECT * FROM stockml.train('%s', ARRAY['MSFT']) trains one.", key->name)));
	(void) SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	known = isnull ? NULL : SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (key->version != 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" has no version %d", key->name, key->version),
				 errhint("SELECT version, aliases, skill FROM stockml.model_versions WHERE name = '%s' lists its versions.",
						 key->name)));
	if (strcmp(key->alias, "production") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" has no production version", key->name),
				 errdetail("train() moves production only to a version whose skill beats the current one's (or the naive baseline's)."),
				 errhint("SELECT stockml.deploy('%s', version) with a version from stockml.model_versions.", key->name)));
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("model \"%s\" has no alias \"%s\"", key->name, key->alias),
			 known ? errdetail("Its aliases: %s.", known) : errdetail("It has no alias."),
			 errhint("SELECT stockml.deploy('%s', version, alias => '%s') points it at a version.",
					 key->name, key->alias)));
}

/* Sorted order statistics from a jsonb array of numbers; how many */
static int
ReadOrderStatistics(Datum d, bool isnull, double **values)
{
	Jsonb *arr;
	int	   n;
	int	   kept = 0;

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
 * Read the version key names and decode it into entry (whose key is set),
 * allocating in entry->cxt.
 */
static void
LoadModel(const ModelKey *key, CachedModel *entry)
{
	Datum		  args[2];
	MemoryContext old;
	bool		  isnull;
	int			  rc;
	HeapTuple	  tup;
	TupleDesc	  desc;
	Datum		  d;
	ModelHeads	 *heads;

	SPI_connect();
	args[0] = CStringGetTextDatum(key->name);
	if (key->version != 0)
	{
		args[1] = Int32GetDatum(key->version);
		rc = SPI_execute_with_args("SELECT m.id, m.version, m.horizon, m.feature_spec, m.model,"
								   " m.reference -> 'abs_residuals', (m.reference ->> 'n_residuals')::int8,"
								   " m.reference -> 'scaled_residuals', (m.reference ->> 'n_scaled')::int8,"
								   " (m.reference -> 'interval' ->> 'lambda')::float8,"
								   " (m.reference -> 'interval' ->> 'seed_returns')::int4"
								   " FROM stockml.models m WHERE m.name = $1 AND m.version = $2",
								   2, (Oid[]) {TEXTOID, INT4OID}, args, NULL, false, 1);
	}
	else
	{
		args[1] = CStringGetTextDatum(key->alias);
		rc = SPI_execute_with_args("SELECT m.id, m.version, m.horizon, m.feature_spec, m.model,"
								   " m.reference -> 'abs_residuals', (m.reference ->> 'n_residuals')::int8,"
								   " m.reference -> 'scaled_residuals', (m.reference ->> 'n_scaled')::int8,"
								   " (m.reference -> 'interval' ->> 'lambda')::float8,"
								   " (m.reference -> 'interval' ->> 'seed_returns')::int4"
								   " FROM stockml.model_aliases a"
								   " JOIN stockml.models m ON m.name = a.name AND m.version = a.version"
								   " WHERE a.name = $1 AND a.alias = $2",
								   2, (Oid[]) {TEXTOID, TEXTOID}, args, NULL, false, 1);
	}
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading the model failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		VersionNotFound(key);
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;

	old = MemoryContextSwitchTo(entry->cxt);
	entry->model_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	entry->version = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
	entry->horizon = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
	if (entry->horizon < 1 || entry->horizon > FEATURE_MAX_HORIZON)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("model \"%s\" version %d has horizon %d", key->name, entry->version, entry->horizon),
				 errdetail("A horizon is 1 to %d bars.", FEATURE_MAX_HORIZON),
				 errhint("Retrain the model.")));
	entry->spec = FeatureSpecParse(DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 4, &isnull)));
	heads = ModelDeserializeHeads(DatumGetByteaPP(SPI_getbinval(tup, desc, 5, &isnull)));
	if (heads->models[0]->n_features != entry->spec->nfeatures)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("model \"%s\" version %d takes %d features but its feature spec has %d",
						key->name, entry->version, heads->models[0]->n_features, entry->spec->nfeatures),
				 errhint("Retrain the model.")));
	entry->work = palloc(sizeof(double) * heads->models[0]->n_features);
	d = SPI_getbinval(tup, desc, 6, &isnull);
	entry->nabs = ReadOrderStatistics(d, isnull, &entry->abs_residuals);
	d = SPI_getbinval(tup, desc, 7, &isnull);
	entry->n_residuals = isnull ? entry->nabs : DatumGetInt64(d);
	d = SPI_getbinval(tup, desc, 8, &isnull);
	entry->nscaled = ReadOrderStatistics(d, isnull, &entry->scaled_residuals);
	d = SPI_getbinval(tup, desc, 9, &isnull);
	entry->n_scaled = isnull ? entry->nscaled : DatumGetInt64(d);
	{
		bool lnull,
			snull;
		Datum ld = SPI_getbinval(tup, desc, 10, &lnull);
		Datum sd = SPI_getbinval(tup, desc, 11, &snull);

		entry->scale.lambda = lnull ? NAN : DatumGetFloat8(ld);
		entry->scale.seed = snull ? 0 : DatumGetInt32(sd);
		/* a scale this stockml cannot apply: the fixed-width interval */
		if (!(entry->scale.lambda > 0 && entry->scale.lambda < 1) ||
			entry->scale.seed < 1 || entry->scale.seed > 100000)
			entry->nscaled = 0;
	}
	LoadHeads(entry, heads);
	MemoryContextSwitchTo(old);
	SPI_finish();
}

/*
 * entry->heads from the decoded blob: one head (format 1) is the version's
 * horizon; of several, the one of the version's horizon is predict()'s.  The
 * other heads' residuals are reference -> 'heads'.  Runs inside LoadModel's
 * SPI connection, in entry->cxt.
 */
static void
LoadHeads(CachedModel *entry, ModelHeads *heads)
{
	entry->nheads = heads->nheads;
	entry->heads = palloc0(sizeof(PathHead) * heads->nheads);
	entry->model = NULL;
	for (int h = 0; h < heads->nheads; h++)
	{
		PathHead *head = &entry->heads[h];

		head->horizon = heads->nheads == 1 ? entry->horizon : heads->horizons[h];
		head->model = heads->models[h];
		if (head->horizon == entry->horizon)
		{
			entry->model = head->model;
			head->abs_residuals = entry->abs_residuals;
			head->nabs = entry->nabs;
			head->n_residuals = entry->n_residuals;
			head->scaled_residuals = entry->scaled_residuals;
			head->nscaled = entry->nscaled;
			head->n_scaled = entry->n_scaled;
		}
	}
	if (entry->model == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("model \"%s\" version %d has no head of its horizon %d",
						entry->key.name, entry->version, entry->horizon),
				 errhint("Retrain the model.")));
	if (heads->nheads > 1)
	{
		Datum		  arg = Int64GetDatum(entry->model_id);
		MemoryContext cxt = CurrentMemoryContext;

		if (SPI_execute_with_args("SELECT (h ->> 'horizon')::int, h -> 'abs_residuals', (h ->> 'n_residuals')::int8,"
								  " h -> 'scaled_residuals', (h ->> 'n_scaled')::int8"
								  " FROM stockml.models m, jsonb_array_elements(m.reference -> 'heads') h"
								  " WHERE m.id = $1 AND jsonb_typeof(m.reference -> 'heads') = 'array'"
								  " AND jsonb_typeof(h) = 'object'",
								  1, (Oid[]) {INT8OID}, &arg, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "reading the heads' residuals failed");
		MemoryContextSwitchTo(cxt);
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple tup = SPI_tuptable->vals[r];
			TupleDesc desc = SPI_tuptable->tupdesc;
			bool	  isnull;
			Datum	  hd = SPI_getbinval(tup, desc, 1, &isnull);

			for (int h = 0; !isnull && h < entry->nheads; h++)
			{
				PathHead *head = &entry->heads[h];
				Datum	  n;

				if (head->horizon != DatumGetInt32(hd) || head->horizon == entry->horizon)
					continue;
				head->nabs = ReadOrderStatistics(SPI_getbinval(tup, desc, 2, &isnull), isnull,
												 &head->abs_residuals);
				n = SPI_getbinval(tup, desc, 3, &isnull);
				head->n_residuals = isnull ? head->nabs : DatumGetInt64(n);
				/* the version's scale applies to every head, or to none */
				if (entry->nscaled > 0)
				{
					head->nscaled = ReadOrderStatistics(SPI_getbinval(tup, desc, 4, &isnull), isnull,
														&head->scaled_residuals);
					n = SPI_getbinval(tup, desc, 5, &isnull);
					head->n_scaled = isnull ? head->nscaled : DatumGetInt64(n);
				}
				break;
			}
		}
	}
}

static CachedModel *
LookupModel(const ModelKey *key)
{
	CachedModel *entry;
	bool		 found;
	uint64		 generation;
	Oid			 nsp;

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
	if (!OidIsValid(aliases_relid))
	{
		nsp = get_namespace_oid("stockml", false);
		aliases_relid = get_relname_relid("model_aliases", nsp);
		models_relid = get_relname_relid("models", nsp);
	}
	if (model_cache == NULL)
	{
		HASHCTL ctl;

		ctl.keysize = sizeof(ModelKey);
		ctl.entrysize = sizeof(CachedModel);
		ctl.hcxt = model_cache_cxt;
		model_cache = hash_create("stockml model cache", 16, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	entry = hash_search(model_cache, key, HASH_FIND, NULL);
	if (entry)
	{
		entry->last_used = ++use_clock;
		return entry;
	}

	while (hash_get_num_entries(model_cache) >= Max(stockml_model_cache_size, 1))
		EvictLeastRecentlyUsed();

	generation = cache_generation;
	entry = hash_search(model_cache, key, HASH_ENTER, &found);
	entry->cxt = AllocSetContextCreate(model_cache_cxt, "stockml cached model",
									   ALLOCSET_SMALL_SIZES);
	entry->last_used = ++use_clock;
	PG_TRY();
	{
		StockmlOwnerSwitch sw;

		StockmlBecomeOwner(&sw);
		LoadModel(key, entry);
		StockmlRestoreUser(&sw);
	}
	PG_CATCH();
	{
		MemoryContextDelete(entry->cxt);
		hash_search(model_cache, key, HASH_REMOVE, NULL);
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

/*
 * Half the interval's width in log return at stockml.interval_level: q σ_t
 * sqrt(h) with q the conformal quantile of the head's scaled residuals and
 * σ_t the volatility on the last bar, for a version that keeps them; else (a
 * version of 0.1.0, or no σ_t: too few bars, or constant closes) the quantile
 * of the plain |log error|, the same width for every day and symbol.  NaN: no
 * interval.
 */
static double
HalfWidth(const PathHead *head, double sigma)
{
	if (head->nscaled > 0 && sigma > 0 && isfinite(sigma))
	{
		double q = IntervalQuantile(head->scaled_residuals, head->nscaled,
									head->n_scaled, stockml_interval_level);

		return q * sigma * sqrt((double) head->horizon);
	}
	return IntervalQuantile(head->abs_residuals, head->nabs, head->n_residuals,
							stockml_interval_level);
}

/* close * exp(log_return), or an ERROR when that is not a finite positive price */
static double
ForecastPrice(double close, double log_return, const char *name, const char *symbol)
{
	double price = close * exp(log_return);

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

/*
 * The feature row of the symbol's last stored bar, with its day, its close
 * (adjusted bars: the last bar's factor is 1, so this is as_of's close as
 * quoted), the volatility σ_t on it (NaN when the version's interval does
 * not scale) and the symbol's calendar; bars are read as the extension's owner.
 */
static const double *
LastFeatureRow(const CachedModel *entry, const char *symbol,
			   DateADT *as_of, double *close, double *sigma, TradingCalendar *cal)
{
	FeatureBar		  *bars;
	FeatureMatrix	  *m;
	int				   nbars;
	StockmlOwnerSwitch sw;
	FeatureInputs	  *inputs;

	ValidateSymbol(symbol);
	/*
	 * the kept state, when it can serve (feature_state.c): no bar read but
	 * the new ones, the calendar kept with it; it becomes the owner itself,
	 * only when it reads bars (a hit reads one row of bar_changes by a
	 * direct index scan, which runs no SQL and no user code)
	 */
	{
		double *x = palloc(sizeof(double) * Max(entry->spec->nfeatures, 1));

		if (FeatureStateLastRow(entry->model_id, entry->spec, &entry->scale, entry->nscaled > 0,
								symbol, cal, x, as_of, close, sigma))
			return x;
		pfree(x);
	}
	StockmlBecomeOwner(&sw);
	*cal = SymbolCalendar(symbol);
	bars = FeatureBarsLoad(symbol, &nbars);
	inputs = nbars > 0 ? FeatureInputsLoad(entry->spec, symbol) : NULL;
	StockmlRestoreUser(&sw);
	if (nbars < entry->spec->warmup)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("symbol \"%s\" has %d stored bar%s; model \"%s\" needs at least %d",
						symbol, nbars, nbars == 1 ? "" : "s", entry->key.name, entry->spec->warmup),
				 errdetail("The model's features are defined from the %dth bar on.", entry->spec->warmup),
				 errhint("Load more history, e.g. SELECT stockml.ingest_yahoo('%s').", symbol)));
	FeatureInputsRequireCurrent(entry->spec, inputs, symbol, bars[nbars - 1].day);
	m = FeatureMatrixFromBars(entry->spec, inputs, bars, nbars, &bars[nbars - 1].day, NULL, 1);
	if (m->nrows != 1)
		elog(ERROR, "expected one feature row for the last bar, got %d", m->nrows);
	for (int j = 0; j < m->nfeatures; j++)
		if (!isfinite(m->x[j]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("feature \"%s\" of \"%s\" on its last bar is not a number",
							entry->spec->defs[j].name, symbol),
					 errhint("Check the last stored bars of the symbol.")));
	*as_of = m->days[0];
	*close = m->close[0];
	*sigma = NAN;
	if (entry->nscaled > 0)
	{
		double *s = palloc(sizeof(double) * nbars);

		IntervalVolatility(bars, nbars, &entry->scale, s);
		*sigma = s[nbars - 1];
		pfree(s);
	}
	return m->x;
}

/*
 * P(y > 0) of one head's forecast yhat from x: a classifier's probability;
 * a regressor's from the conformal distribution of its residuals, as its
 * interval (interval.c): the scaled ones with σ_t sqrt(h) when the version
 * keeps them and σ_t is known, else the plain |log error|.  NaN: none.
 */
static double
HeadProbabilityUp(const CachedModel *entry, const PathHead *head, double sigma,
				  const double *x, double yhat)
{
	if (head->model->algorithm->probability)
		return ModelProbabilityUp(head->model, x, entry->work);
	if (head->nscaled > 0 && sigma > 0 && isfinite(sigma))
		return IntervalProbabilityUp(yhat, sigma * sqrt((double) head->horizon),
									 head->scaled_residuals, head->nscaled, head->n_scaled);
	return IntervalProbabilityUp(yhat, 1.0, head->abs_residuals, head->nabs, head->n_residuals);
}

/*
 * One head's forecast from x: values[0..2] predicted close, lower, upper
 * (the interval NULL when the head has too few residuals for the level),
 * *p_up its P(y > 0) (NULL when there is none).
 */
static void
HeadForecast(const CachedModel *entry, const PathHead *head, const char *symbol,
			 double close, double sigma, const double *x, Datum *values, bool *nulls,
			 Datum *p_up, bool *p_up_null)
{
	const char *name = entry->key.name;
	double		yhat = ModelPredict(head->model, x, entry->work);
	double		q = HalfWidth(head, sigma);
	double		p = HeadProbabilityUp(entry, head, sigma, x, yhat);

	*p_up = Float8GetDatum(p);
	*p_up_null = isnan(p);

	values[0] = Float8GetDatum(ForecastPrice(close, yhat, name, symbol));
	nulls[0] = false;
	nulls[1] = nulls[2] = isnan(q);
	if (!nulls[1])
	{
		values[1] = Float8GetDatum(ForecastPrice(close, yhat - q, name, symbol));
		values[2] = Float8GetDatum(ForecastPrice(close, yhat + q, name, symbol));
	}
}

/*
 * The row type of a predict(model_name, symbol) function, blessed: its OUT
 * columns are its declaration's, so built once per function per backend (a
 * prepared statement's call site lives for one execution only, and building
 * it from pg_proc cost about a tenth of a cached call).  A change of
 * pg_proc marks them stale; they are freed at the next call, never under a
 * call that holds one.
 */
static TupleDesc
ResultDesc(FunctionCallInfo fcinfo)
{
	Oid			  fn_oid = fcinfo->flinfo->fn_oid;
	TupleDesc	  desc;
	MemoryContext old;
	int			  slot;

	if (!result_desc_callback)
	{
		CacheRegisterSyscacheCallback(PROCOID, ResultDescCallback, (Datum) 0);
		result_desc_callback = true;
	}
	if (result_descs_stale)
	{
		for (int i = 0; i < (int) lengthof(result_descs); i++)
		{
			if (result_descs[i].desc)
				FreeTupleDesc(result_descs[i].desc);
			result_descs[i].fn_oid = InvalidOid;
			result_descs[i].desc = NULL;
		}
		result_descs_stale = false;
	}
	for (int i = 0; i < (int) lengthof(result_descs); i++)
		if (result_descs[i].fn_oid == fn_oid && OidIsValid(fn_oid))
			return result_descs[i].desc;
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	old = MemoryContextSwitchTo(CacheMemoryContext);
	desc = BlessTupleDesc(CreateTupleDescCopy(desc));
	MemoryContextSwitchTo(old);
	/* the 0.1.0 and 0.2.0 declarations, and those of other databases' copies: the oldest out */
	slot = result_desc_next++ % (int) lengthof(result_descs);
	if (result_descs[slot].desc)
		FreeTupleDesc(result_descs[slot].desc);
	result_descs[slot].fn_oid = fn_oid;
	result_descs[slot].desc = desc;
	return desc;
}

static void
ResultDescCallback(Datum arg, int cacheid, uint32 hashvalue)
{
	result_descs_stale = true;
}

/*
 * predict(model_name, symbol [, version, alias]): 0.1.0's symbol takes two
 * arguments and is STRICT; 0.2.0's takes four and is not (version and alias
 * default to NULL), so a NULL model name or symbol gives NULL here.
 */
Datum
stockml_predict_symbol(PG_FUNCTION_ARGS)
{
	char		   *name;
	char		   *symbol;
	TupleDesc		tupdesc;
	CachedModel	   *entry;
	const double   *x;
	DateADT			as_of;
	double			close;
	double			sigma;
	Datum			values[9];
	bool			nulls[9] = {false, false, false, false, false, false, false, false, false};
	TradingCalendar cal;
	ModelKey		key;
	PathHead	   *head = NULL;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	symbol = text_to_cstring(PG_GETARG_TEXT_PP(1));
	tupdesc = ResultDesc(fcinfo);
	ModelKeyFromArgs(fcinfo, 2, name, &key);
	entry = LookupModel(&key);
	x = LastFeatureRow(entry, symbol, &as_of, &close, &sigma, &cal);
	for (int h = 0; h < entry->nheads; h++)
		if (entry->heads[h].horizon == entry->horizon)
			head = &entry->heads[h];
	if (head == NULL)
		elog(ERROR, "version %d of \"%s\" has no head for its horizon %d",
			 entry->version, name, entry->horizon);

	values[0] = CStringGetTextDatum(symbol);
	values[1] = DateADTGetDatum(as_of);
	values[2] = DateADTGetDatum(CalendarAddTradingDays(cal, as_of, entry->horizon));
	HeadForecast(entry, head, symbol, close, sigma, x, &values[3], &nulls[3], &values[8], &nulls[8]);
	values[6] = Int32GetDatum(entry->version);
	/* 0.1.0's declaration has no price_scale column, nor p_up */
	values[7] = CStringGetTextDatum("as_of");
	if (tupdesc->natts < 7 || tupdesc->natts > 9)
		elog(ERROR, "predict: unexpected result row of %d columns", tupdesc->natts);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* 0.2.0's predict(model_name, symbol, version, alias): the same function */
Datum
stockml_predict_symbol_0_2(PG_FUNCTION_ARGS)
{
	return stockml_predict_symbol(fcinfo);
}

/*
 * predict_path(model_name, symbol [, version, alias]): one row per head,
 * ascending horizons, from the symbol's last stored bar (a model of one
 * head gives one row, the same as predict()).
 */
Datum
stockml_predict_path(PG_FUNCTION_ARGS)
{
	ReturnSetInfo  *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char		   *name;
	char		   *symbol;
	CachedModel	   *entry;
	const double   *x;
	DateADT			as_of;
	double			close;
	double			sigma;
	TradingCalendar cal;
	ModelKey		key;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model_name and symbol must not be NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	symbol = text_to_cstring(PG_GETARG_TEXT_PP(1));
	InitMaterializedSRF(fcinfo, 0);
	ModelKeyFromArgs(fcinfo, 2, name, &key);
	entry = LookupModel(&key);
	x = LastFeatureRow(entry, symbol, &as_of, &close, &sigma, &cal);
	for (int h = 0; h < entry->nheads; h++)
	{
		const PathHead *head = &entry->heads[h];
		Datum			values[10];
		bool			nulls[10] = {false, false, false, false, false, false, false, false, false, false};

		values[0] = CStringGetTextDatum(symbol);
		values[1] = DateADTGetDatum(as_of);
		values[2] = Int32GetDatum(head->horizon);
		values[3] = DateADTGetDatum(CalendarAddTradingDays(cal, as_of, head->horizon));
		HeadForecast(entry, head, symbol, close, sigma, x, &values[4], &nulls[4], &values[9], &nulls[9]);
		values[7] = Int32GetDatum(entry->version);
		values[8] = CStringGetTextDatum("as_of");
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * _resolve_version(model_name, version, alias): the version predict() would
 * serve for these arguments, with predict()'s ERRORs (forecast() pins its
 * batch to it).
 */
Datum
stockml_resolve_version(PG_FUNCTION_ARGS)
{
	ModelKey key;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model_name must not be NULL")));
	ModelKeyFromArgs(fcinfo, 1, text_to_cstring(PG_GETARG_TEXT_PP(0)), &key);
	PG_RETURN_INT32(LookupModel(&key)->version);
}

/*
 * The version a call of predict(model_name, x, ...) or predict_p_up names,
 * through the call site's cache, and its x checked against it
 */
static CachedModel *
VectorCallModel(FunctionCallInfo fcinfo, const double **x)
{
	text			 *name_text = PG_GETARG_TEXT_PP(0);
	ArrayType		 *xa = PG_GETARG_ARRAYTYPE_P(1);
	PredictCallCache *call = fcinfo->flinfo->fn_extra;
	int				  n;

	if (call == NULL)
	{
		call = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(PredictCallCache));
		call->key_is_constant = get_fn_expr_arg_stable(fcinfo->flinfo, 0);
		for (int i = 2; i < PG_NARGS(); i++)
			call->key_is_constant = call->key_is_constant && get_fn_expr_arg_stable(fcinfo->flinfo, i);
		fcinfo->flinfo->fn_extra = call;
	}
	/*
	 * The fast path: same version asked for, nothing invalidated since the
	 * last row.  fn_extra can outlive a statement (PL/pgSQL keeps
	 * expressions for the transaction), so take in other sessions' committed
	 * deploys first: without pending messages this is one unlocked read of
	 * shared memory.
	 */
	AcceptInvalidationMessages();
	if (call->entry == NULL || call->generation != cache_generation || !call->key_is_constant)
	{
		ModelKey key;

		ModelKeyFromArgs(fcinfo, 2, text_to_cstring(name_text), &key);
		if (call->entry == NULL || call->generation != cache_generation ||
			memcmp(&key, &call->key, sizeof(ModelKey)) != 0)
		{
			call->entry = NULL;
			call->entry = LookupModel(&key);
			call->generation = cache_generation;
			call->key = key;
		}
	}
	*x = FloatArrayValues(xa, 1, "x", &n, NULL);
	/*
	 * A sequential scan's next row: a heap page holds its tuples from the
	 * end of the page down, so the next tuple's x lies below this one.  A
	 * hint only (a prefetch never faults): the lines of the array of the
	 * next 256 bytes, the first touch of which was a tenth of a batch
	 * predict of gbt (the NaN check's loads, the tuple's lines from memory).
	 */
	for (int k = 1; k <= 4; k++)
		__builtin_prefetch((const char *) *x - 64 * k);
	if (n != call->entry->model->n_features)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("x has %d features but model \"%s\" takes %d", n, call->key.name,
						call->entry->model->n_features),
				 errhint("Pass x as stockml.features(symbol, feature_set => the model's feature_set) returns it.")));
	return call->entry;
}

/*
 * predict(model_name, x [, version, alias]): 0.1.0's symbol takes two
 * arguments and is STRICT, 0.2.0's four; NULL name or x gives NULL.
 */
Datum
stockml_predict_vector(PG_FUNCTION_ARGS)
{
	const double *x;
	CachedModel	 *entry;
	double		  yhat;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	entry = VectorCallModel(fcinfo, &x);
	yhat = ModelPredict(entry->model, x, entry->work);
	if (unlikely(!isfinite(yhat)))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("model \"%s\" predicts %s for this x", entry->key.name, float8out_internal(yhat)),
				 errhint("Check x for extreme values.")));
	PG_RETURN_FLOAT8(yhat);
}

/*
 * predict_p_up(model_name, x [, version, alias]): P(y > 0) for one raw
 * feature vector: a classifier's probability; a regressor's from its plain
 * |log errors| (no bars, so no volatility to scale by).  NULL name or x, or
 * a regressor without residuals, gives NULL.
 */
Datum
stockml_predict_p_up(PG_FUNCTION_ARGS)
{
	const double *x;
	CachedModel	 *entry;
	PathHead	 *head = NULL;
	double		  p;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	entry = VectorCallModel(fcinfo, &x);
	for (int h = 0; h < entry->nheads; h++)
		if (entry->heads[h].horizon == entry->horizon)
			head = &entry->heads[h];
	if (head == NULL)
		elog(ERROR, "version %d of \"%s\" has no head for its horizon %d",
			 entry->version, entry->key.name, entry->horizon);
	p = HeadProbabilityUp(entry, head, NAN, x, ModelPredict(entry->model, x, entry->work));
	if (isnan(p))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(p);
}

/* 0.2.0's predict(model_name, x, version, alias): the same function */
Datum
stockml_predict_vector_0_2(PG_FUNCTION_ARGS)
{
	return stockml_predict_vector(fcinfo);
}

/*
 * Statement trigger on model_aliases and models: tell every backend at commit.
 * On Citus they are reference tables (stockml.distribute()) and the trigger
 * fires on each node's shard of them (models_102042, ...), a relation the
 * callback does not know: then the tables themselves are invalidated too, so
 * that the caches of predict() calls run on that node see the change.
 */
Datum
stockml_models_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Oid			 relid;
	Oid			 nsp;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "stockml_models_changed: not called as a trigger");
	relid = RelationGetRelid(trigdata->tg_relation);
	CacheInvalidateRelcacheByRelid(relid);
	nsp = get_namespace_oid("stockml", true);
	if (OidIsValid(nsp))
	{
		Oid models = get_relname_relid("models", nsp);
		Oid aliases = get_relname_relid("model_aliases", nsp);

		if (relid != models && relid != aliases)
		{
			if (OidIsValid(models))
				CacheInvalidateRelcacheByRelid(models);
			if (OidIsValid(aliases))
				CacheInvalidateRelcacheByRelid(aliases);
		}
	}
	return PointerGetDatum(NULL);
}
