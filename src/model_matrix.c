/*
 * model_matrix.c — models on matrices the caller passes directly, without
 * the registry: stockml.fit(algorithm, x, y, params) returns the model
 * bytea, stockml.model_predict(model, x) evaluates one (a classifier's
 * probability: stockml.model_p_up(model, x)), and
 * stockml.model_describe(model) shows what a blob holds.  They serve users
 * who bring their own features, and the tests that compare the algorithms
 * with scikit-learn.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "model.h"
#include "model_matrix.h"

PG_FUNCTION_INFO_V1(stockml_fit);
PG_FUNCTION_INFO_V1(stockml_model_predict);
PG_FUNCTION_INFO_V1(stockml_model_p_up);
PG_FUNCTION_INFO_V1(stockml_model_describe);
PG_FUNCTION_INFO_V1(stockml_model_importance);
PG_FUNCTION_INFO_V1(stockml_model_importance_head);

/* Per-call-site cache of the last deserialized blob */
typedef struct BlobCache
{
	MemoryContext cxt; /* holds everything below */
	bytea		 *blob;
	Model		 *model;
	double		 *work;
} BlobCache;

static BlobCache *BlobModelAndX(FunctionCallInfo fcinfo, const double **x);
static void		  AppendFloatArray(StringInfo buf, const double *v, int n);
static void		  DescribeModel(StringInfo buf, const Model *model);

/*
 * The values of a float8 array with no NULLs, checking its shape: ndim 1
 * (length in *n) or 2 (*n rows of *p).  Returns a pointer into the array.
 */
const double *
FloatArrayValues(ArrayType *array, int ndim, const char *what, int *n, int *p)
{
	if (ARR_ELEMTYPE(array) != FLOAT8OID)
		elog(ERROR, "%s: expected a float8 array", what);
	if (ARR_HASNULL(array) && array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s contains NULL", what),
				 errhint("Drop incomplete rows first (WHERE array_position(x, NULL) IS NULL).")));
	if (ARR_NDIM(array) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is empty", what)));
	if (ARR_NDIM(array) != ndim)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a %d-dimensional array, not %d-dimensional",
						what, ndim, ARR_NDIM(array)),
				 ndim == 2 ? errhint("Pass one row per observation, e.g. ARRAY[[1, 2], [3, 4]] or array_agg of 1-D rows of equal length.") : 0));
	*n = ARR_DIMS(array)[0];
	if (p)
		*p = ndim == 2 ? ARR_DIMS(array)[1] : 1;
	/* ARR_DATA_PTR without its signed/unsigned mix, which -Wextra flags */
	return (const double *) ((const char *) array +
							 (ARR_HASNULL(array) ? (size_t) array->dataoffset :
												   (size_t) ARR_OVERHEAD_NONULLS(ARR_NDIM(array))));
}

Datum
stockml_fit(PG_FUNCTION_ARGS)
{
	char				 *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ArrayType			 *xa = PG_GETARG_ARRAYTYPE_P(1);
	ArrayType			 *ya = PG_GETARG_ARRAYTYPE_P(2);
	Jsonb				 *params = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	const ModelAlgorithm *alg = ModelFindAlgorithm(name, false);
	double				  values[MODEL_MAX_PARAMS];
	ModelTrainData		  data;
	int					  n,
		p,
		ny;
	Model *model;

	ModelParseParams(alg, params, NULL, values);
	data.x = FloatArrayValues(xa, 2, "x", &n, &p);
	data.y = FloatArrayValues(ya, 1, "y", &ny, NULL);
	if (ny != n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("x has %d rows but y has %d values", n, ny),
				 errhint("Pass one target per row of x.")));
	if (n < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("fitting needs at least 2 rows, got %d", n)));
	data.n = n;
	data.p = p;
	model = ModelCreate(alg, p, values);
	ModelFit(model, &data);
	PG_RETURN_BYTEA_P(ModelSerialize(model));
}

/*
 * The model of blob and the raw feature vector x (checked against it),
 * through the call site's cache of the last blob decoded
 */
static BlobCache *
BlobModelAndX(FunctionCallInfo fcinfo, const double **x)
{
	bytea	  *blob = PG_GETARG_BYTEA_PP(0);
	ArrayType *xa = PG_GETARG_ARRAYTYPE_P(1);
	BlobCache *cache = fcinfo->flinfo->fn_extra;
	int		   n;

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(BlobCache));
		cache->cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt, "stockml model_predict",
										   ALLOCSET_SMALL_SIZES);
		fcinfo->flinfo->fn_extra = cache;
	}
	if (cache->blob == NULL || VARSIZE_ANY(blob) != VARSIZE_ANY(cache->blob) ||
		memcmp(blob, cache->blob, VARSIZE_ANY(blob)) != 0)
	{
		MemoryContext old;

		cache->blob = NULL;
		MemoryContextReset(cache->cxt);
		old = MemoryContextSwitchTo(cache->cxt);
		cache->model = ModelDeserialize(blob);
		cache->work = palloc(sizeof(double) * cache->model->n_features);
		cache->blob = palloc(VARSIZE_ANY(blob));
		memcpy(cache->blob, blob, VARSIZE_ANY(blob));
		MemoryContextSwitchTo(old);
	}
	*x = FloatArrayValues(xa, 1, "x", &n, NULL);
	if (n != cache->model->n_features)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("x has %d features but the model takes %d", n, cache->model->n_features),
				 errhint("Pass the features in the order and number the model was trained with.")));
	return cache;
}

Datum
stockml_model_predict(PG_FUNCTION_ARGS)
{
	const double *x;
	BlobCache	 *cache = BlobModelAndX(fcinfo, &x);
	double		  yhat = ModelPredict(cache->model, x, cache->work);

	if (unlikely(!isfinite(yhat)))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the model predicts %s for this x", float8out_internal(yhat)),
				 errhint("Check x for extreme values.")));
	PG_RETURN_FLOAT8(yhat);
}

/* model_p_up(model, x): a classifier's probability of an up move (y > 0) */
Datum
stockml_model_p_up(PG_FUNCTION_ARGS)
{
	const double *x;
	BlobCache	 *cache = BlobModelAndX(fcinfo, &x);
	double		  p;

	if (cache->model->algorithm->probability == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("a %s model is not a classifier: a model bytea alone gives no probability of an up move",
						cache->model->algorithm->name),
				 errdetail("A regressor's p_up comes from the out-of-sample residuals train() keeps with a version."),
				 errhint("Use stockml.predict(model_name, symbol), whose p_up column every version fills, or fit a 'logistic' model.")));
	p = ModelProbabilityUp(cache->model, x, cache->work);
	if (unlikely(isnan(p)))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the model's probability is not a number for this x"),
				 errhint("Check x for extreme values.")));
	PG_RETURN_FLOAT8(p);
}

static void
AppendFloatArray(StringInfo buf, const double *v, int n)
{
	appendStringInfoChar(buf, '[');
	for (int i = 0; i < n; i++)
		appendStringInfo(buf, "%s%s", i > 0 ? ", " : "", float8out_internal(v[i]));
	appendStringInfoChar(buf, ']');
}

static void
DescribeModel(StringInfo buf, const Model *model)
{
	appendStringInfo(buf, "{\"algorithm\": \"%s\", \"n_features\": %d, \"params\": %s, ",
					 model->algorithm->name, model->n_features,
					 ModelParamsToJson(model->algorithm, model->params));
	appendStringInfo(buf, "\"intercept\": %s, \"coef\": ", float8out_internal(model->intercept));
	AppendFloatArray(buf, model->coef, model->n_features);
	appendStringInfoString(buf, ", \"mean\": ");
	AppendFloatArray(buf, model->mean, model->n_features);
	appendStringInfoString(buf, ", \"scale\": ");
	AppendFloatArray(buf, model->scale, model->n_features);
	if (model->algorithm->describe)
		model->algorithm->describe(model, buf);
	appendStringInfoChar(buf, '}');
}

/* One head: its description; several: {"horizons": [...], "heads": [...]} */
Datum
stockml_model_describe(PG_FUNCTION_ARGS)
{
	ModelHeads	  *heads = ModelDeserializeHeads(PG_GETARG_BYTEA_PP(0));
	StringInfoData buf;

	initStringInfo(&buf);
	if (heads->nheads == 1)
		DescribeModel(&buf, heads->models[0]);
	else
	{
		appendStringInfoString(&buf, "{\"horizons\": [");
		for (int h = 0; h < heads->nheads; h++)
			appendStringInfo(&buf, "%s%d", h > 0 ? ", " : "", heads->horizons[h]);
		appendStringInfoString(&buf, "], \"heads\": [");
		for (int h = 0; h < heads->nheads; h++)
		{
			appendStringInfoString(&buf, h > 0 ? ", " : "");
			DescribeModel(&buf, heads->models[h]);
		}
		appendStringInfoString(&buf, "]}");
	}
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/* One row per feature of one head (1-based position): its importance and how it is measured */
static Datum
ImportanceRows(FunctionCallInfo fcinfo, const Model *model)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	double		  *imp = palloc(sizeof(double) * model->n_features);
	const char	  *method;

	if (model->algorithm->importance == NULL)
		elog(ERROR, "algorithm %s has no feature importance", model->algorithm->name);
	method = model->algorithm->importance(model, imp);
	InitMaterializedSRF(fcinfo, 0);
	for (int j = 0; j < model->n_features; j++)
	{
		Datum values[3];
		bool  nulls[3] = {false, false, false};

		values[0] = Int32GetDatum(j + 1);
		values[1] = Float8GetDatum(imp[j]);
		values[2] = CStringGetTextDatum(method);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* One row per feature (1-based position) of a model of one head */
Datum
stockml_model_importance(PG_FUNCTION_ARGS)
{
	return ImportanceRows(fcinfo, ModelDeserialize(PG_GETARG_BYTEA_PP(0)));
}

/*
 * The same of the head of one horizon: of a model of several heads, the one
 * trained for it (an ERROR that lists them when there is none); a model of
 * one head does not store its horizon (its version does), so it is its head
 */
Datum
stockml_model_importance_head(PG_FUNCTION_ARGS)
{
	ModelHeads	  *heads = ModelDeserializeHeads(PG_GETARG_BYTEA_PP(0));
	int32		   horizon = PG_GETARG_INT32(1);
	StringInfoData list;

	if (heads->nheads == 1)
		return ImportanceRows(fcinfo, heads->models[0]);
	for (int h = 0; h < heads->nheads; h++)
		if (heads->horizons[h] == horizon)
			return ImportanceRows(fcinfo, heads->models[h]);
	initStringInfo(&list);
	for (int h = 0; h < heads->nheads; h++)
		appendStringInfo(&list, "%s%d", h > 0 ? ", " : "", heads->horizons[h]);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("the model has no head for horizon %d", horizon),
			 errhint("Its heads are for horizons %s: pass one of them.", list.data)));
	return (Datum) 0;
}
