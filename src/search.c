/*
 * search.c — hyperparameter search for train(): a params object whose
 * algorithm parameters hold lists (a grid: every combination) or, with
 * {"search": "random", "n_iter": N}, lists and ranges (N seeded draws) is
 * expanded into trials, each a plain params object that train() would take
 * by itself.  Every trial is checked here, before any training.
 */
#include "postgres.h"

#include <math.h>

#include "common/pg_prng.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "search.h"

/* One searched parameter: a list of JSON values, or a range */
typedef struct SearchDim
{
	const char			 *key;
	const ModelParamSpec *spec;
	int					  nvalues; /* a list: its JSON texts; 0 for a range */
	char				**values;
	double				  min; /* a range */
	double				  max;
	bool				  log;
} SearchDim;

static double JsonNumber(const JsonbValue *v, bool *ok);
static char	 *JsonScalarText(const JsonbValue *v);
static void	  ReadList(SearchDim *dim, JsonbContainer *list);
static void	  ReadRange(SearchDim *dim, JsonbContainer *range);
static char	 *DrawValue(const SearchDim *dim, pg_prng_state *rng);

static double
JsonNumber(const JsonbValue *v, bool *ok)
{
	*ok = v->type == jbvNumeric;
	return *ok ? DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric))) : NAN;
}

/* A scalar JSON value as JSON text */
static char *
JsonScalarText(const JsonbValue *v)
{
	StringInfoData buf;

	switch (v->type)
	{
		case jbvNull:
			return pstrdup("null");
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		case jbvString:
			initStringInfo(&buf);
			escape_json(&buf, pnstrdup(v->val.string.val, v->val.string.len));
			return buf.data;
		default:
			return NULL;
	}
}

static void
ReadList(SearchDim *dim, JsonbContainer *list)
{
	int				   size = JsonContainerSize(list);
	JsonbIterator	  *it = JsonbIteratorInit(list);
	JsonbValue		   e;
	JsonbIteratorToken tok;

	if (size == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the list of parameter \"%s\" is empty", dim->key),
				 errhint("A list in params is searched: give the values to try, e.g. {\"%s\": [0.1, 1, 10]}, or one value without brackets.",
						 dim->key)));
	if (size > SEARCH_MAX_TRIALS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the list of parameter \"%s\" has %d values, more than the %d trials a search may make",
						dim->key, size, SEARCH_MAX_TRIALS),
				 errhint("Try fewer values, or a random search: {\"search\": \"random\", \"n_iter\": 50, \"%s\": {\"min\": ..., \"max\": ...}}.",
						 dim->key)));
	dim->values = palloc(sizeof(char *) * size);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
		if (tok == WJB_ELEM)
		{
			char *text = JsonScalarText(&e);

			if (text == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the list of parameter \"%s\" holds a list or an object", dim->key),
						 errhint("A searched list holds values of the parameter, e.g. {\"%s\": [0.1, 1, 10]}.",
								 dim->key)));
			dim->values[dim->nvalues++] = text;
		}
}

/* {"min": a, "max": b[, "log": true]} */
static void
ReadRange(SearchDim *dim, JsonbContainer *range)
{
	JsonbIterator	  *it = JsonbIteratorInit(range);
	JsonbValue		   v;
	JsonbIteratorToken tok;
	char			  *key = NULL;
	bool			   has_min = false,
		 has_max = false;

	if (dim->spec->type == MODEL_PARAM_BOOL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("parameter \"%s\" is true or false: it takes a list, not a range", dim->key),
				 errhint("For example {\"%s\": [true, false]}.", dim->key)));
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		bool ok = true;

		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE || key == NULL)
			continue;
		if (strcmp(key, "min") == 0)
		{
			dim->min = JsonNumber(&v, &ok);
			has_min = ok;
		}
		else if (strcmp(key, "max") == 0)
		{
			dim->max = JsonNumber(&v, &ok);
			has_max = ok;
		}
		else if (strcmp(key, "log") == 0)
		{
			ok = v.type == jbvBool;
			dim->log = ok && v.val.boolean;
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown key \"%s\" in the range of parameter \"%s\"", key, dim->key),
					 errhint("A range is {\"min\": a, \"max\": b} or {\"min\": a, \"max\": b, \"log\": true}.")));
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"%s\" in the range of parameter \"%s\" must be a %s", key, dim->key,
							strcmp(key, "log") == 0 ? "boolean" : "number"),
					 errhint("A range is {\"min\": a, \"max\": b} or {\"min\": a, \"max\": b, \"log\": true}.")));
	}
	if (!has_min || !has_max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the range of parameter \"%s\" needs \"min\" and \"max\"", dim->key),
				 errhint("For example {\"%s\": {\"min\": 0.01, \"max\": 100, \"log\": true}}.", dim->key)));
	if (!(dim->min <= dim->max) || !isfinite(dim->min) || !isfinite(dim->max))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the range of parameter \"%s\" is empty: min %s, max %s", dim->key,
						float8out_internal(dim->min), float8out_internal(dim->max)),
				 errhint("Give min <= max.")));
	if (dim->log && !(dim->min > 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a log range of parameter \"%s\" needs min > 0, not %s", dim->key,
						float8out_internal(dim->min)),
				 errhint("Drop \"log\", or start the range above 0.")));
	if (dim->spec->type == MODEL_PARAM_INT && ceil(dim->min) > floor(dim->max))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the range of parameter \"%s\" holds no whole number", dim->key),
				 errhint("%s", dim->spec->help)));
}

/*
 * One random draw of a dimension as JSON text: a list's values equally
 * likely; a range uniform (log: uniform in log), whole numbers for an
 * integer parameter (uniform over them; log: the draw rounded, kept inside)
 */
static char *
DrawValue(const SearchDim *dim, pg_prng_state *rng)
{
	double u,
		d;

	if (dim->nvalues > 0)
		return dim->values[pg_prng_uint64_range(rng, 0, (uint64) dim->nvalues - 1)];
	if (dim->spec->type == MODEL_PARAM_INT && !dim->log)
	{
		double lo = ceil(dim->min);

		d = lo + (double) pg_prng_uint64_range(rng, 0, (uint64) (floor(dim->max) - lo));
		return psprintf("%.0f", d);
	}
	u = pg_prng_double(rng);
	if (dim->log)
		d = exp(log(dim->min) + u * (log(dim->max) - log(dim->min)));
	else
		d = dim->min + u * (dim->max - dim->min);
	d = Min(Max(d, dim->min), dim->max);
	if (dim->spec->type == MODEL_PARAM_INT)
	{
		d = Min(Max(round(d), ceil(dim->min)), floor(dim->max));
		return psprintf("%.0f", d);
	}
	return pstrdup(float8out_internal(d));
}

void
SearchTrialErrorContext(void *arg)
{
	const SearchTrialContextArg *a = arg;

	errcontext("search trial %d of %d: %s", a->trial, a->ntrials, a->params);
}

SearchPlan *
SearchExpand(const ModelAlgorithm *alg, Jsonb *params, const char *const *train_keys, uint64 seed)
{
	JsonbIterator	  *it;
	JsonbValue		   v;
	JsonbIteratorToken tok;
	char			  *key = NULL;
	SearchDim		  *dims = palloc0(sizeof(SearchDim) * Max(alg->nparams, 1));
	int				   ndims = 0;
	bool			   has_range = false;
	char			  *kind = NULL;
	int				   n_iter = 0;
	StringInfoData	   fixed; /* the keys every trial shares, as "k": v, */
	SearchPlan		  *plan;

	if (!JB_ROOT_IS_OBJECT(params) || JB_ROOT_IS_SCALAR(params))
		return NULL; /* ModelParseParams reports it */
	initStringInfo(&fixed);
	it = JsonbIteratorInit(&params->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		const ModelParamSpec *spec = NULL;
		bool				  container;

		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE || key == NULL)
			continue;
		container = v.type == jbvBinary;
		if (strcmp(key, "search") == 0)
		{
			if (v.type != jbvString ||
				!((v.val.string.len == 4 && memcmp(v.val.string.val, "grid", 4) == 0) ||
				  (v.val.string.len == 6 && memcmp(v.val.string.val, "random", 6) == 0)))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("parameter \"search\" must be \"grid\" or \"random\""),
						 errhint("\"grid\" (the default when a parameter holds a list) tries every combination; \"random\" draws n_iter of them.")));
			kind = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (strcmp(key, "n_iter") == 0)
		{
			bool   ok;
			double d = JsonNumber(&v, &ok);

			if (!ok || d < 1 || d > SEARCH_MAX_TRIALS || d != floor(d))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("parameter \"n_iter\" must be a whole number from 1 to %d", SEARCH_MAX_TRIALS),
						 errhint("n_iter is the number of trials of a random search.")));
			n_iter = (int) d;
			continue;
		}
		for (int i = 0; i < alg->nparams; i++)
			if (strcmp(alg->params[i].name, key) == 0)
				spec = &alg->params[i];
		if (spec != NULL && container)
		{
			SearchDim *dim = &dims[ndims++];

			dim->key = key;
			dim->spec = spec;
			if (JsonContainerIsArray(v.val.binary.data))
				ReadList(dim, v.val.binary.data);
			else
			{
				ReadRange(dim, v.val.binary.data);
				has_range = true;
			}
			continue;
		}
		escape_json(&fixed, key);
		appendStringInfoString(&fixed, ": ");
		if (container)
			appendStringInfoString(&fixed, JsonbToCString(NULL, v.val.binary.data, v.val.binary.len));
		else
			appendStringInfoString(&fixed, JsonScalarText(&v));
		appendStringInfoString(&fixed, ", ");
	}

	if (kind == NULL && n_iter == 0 && ndims == 0)
		return NULL;
	if (kind == NULL)
		kind = pstrdup(n_iter > 0 || has_range ? "random" : "grid");
	if (strcmp(kind, "random") == 0)
	{
		if (n_iter == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a random search needs \"n_iter\", the number of trials"),
					 errhint("For example {\"search\": \"random\", \"n_iter\": 20, \"alpha\": {\"min\": 0.01, \"max\": 100, \"log\": true}}.")));
		if (ndims == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a random search needs a range or a list of values for at least one parameter of %s",
							alg->name),
					 errhint("For example {\"search\": \"random\", \"n_iter\": 20, \"alpha\": {\"min\": 0.01, \"max\": 100, \"log\": true}}.")));
	}
	else
	{
		if (n_iter > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"n_iter\" is for a random search, not a grid"),
					 errhint("Add \"search\": \"random\", or drop \"n_iter\" to try every combination of the lists.")));
		if (has_range)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a grid search takes lists of values, not ranges"),
					 errhint("Give lists, or make it {\"search\": \"random\", \"n_iter\": N, ...}.")));
		if (ndims == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a grid search needs a list of values for at least one parameter of %s", alg->name),
					 errhint("For example {\"alpha\": [0.1, 1, 10]}.")));
	}

	plan = palloc0(sizeof(SearchPlan));
	plan->kind = kind;
	plan->ndims = ndims;
	if (strcmp(kind, "grid") == 0)
	{
		int64 n = 1;

		for (int d = 0; d < ndims; d++)
		{
			n *= dims[d].nvalues;
			if (n > SEARCH_MAX_TRIALS)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("the grid has more than %d combinations", SEARCH_MAX_TRIALS),
						 errdetail("A search makes at most %d trials.", SEARCH_MAX_TRIALS),
						 errhint("Try fewer values, or a random search: {\"search\": \"random\", \"n_iter\": 50, ...}.")));
		}
		plan->ntrials = (int) n;
	}
	else
		plan->ntrials = n_iter;

	plan->trials = palloc0(sizeof(SearchTrial) * plan->ntrials);
	{
		pg_prng_state rng;
		int			 *idx = palloc0(sizeof(int) * ndims);
		bool		  grid = strcmp(kind, "grid") == 0;

		pg_prng_seed(&rng, seed);
		for (int t = 0; t < plan->ntrials; t++)
		{
			StringInfoData		  buf;
			int					  rest = t;
			ErrorContextCallback  cb;
			SearchTrialContextArg arg;

			initStringInfo(&buf);
			appendStringInfoChar(&buf, '{');
			appendBinaryStringInfo(&buf, fixed.data, fixed.len);
			/* a grid: the last parameter varies fastest, as scikit-learn's ParameterGrid */
			for (int d = ndims - 1; d >= 0 && grid; d--)
			{
				idx[d] = rest % dims[d].nvalues;
				rest /= dims[d].nvalues;
			}
			for (int d = 0; d < ndims; d++)
			{
				escape_json(&buf, dims[d].key);
				appendStringInfo(&buf, ": %s%s",
								 grid ? dims[d].values[idx[d]] : DrawValue(&dims[d], &rng),
								 d < ndims - 1 ? ", " : "");
			}
			appendStringInfoChar(&buf, '}');
			plan->trials[t].params = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
			plan->trials[t].text = JsonbToCString(NULL, &plan->trials[t].params->root,
												  VARSIZE(plan->trials[t].params));
			arg.trial = t + 1;
			arg.ntrials = plan->ntrials;
			arg.params = plan->trials[t].text;
			cb.callback = SearchTrialErrorContext;
			cb.arg = &arg;
			cb.previous = error_context_stack;
			error_context_stack = &cb;
			ModelParseParams(alg, plan->trials[t].params, train_keys, plan->trials[t].values);
			error_context_stack = cb.previous;
		}
	}
	return plan;
}
