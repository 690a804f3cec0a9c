/*
 * model.c — the table of algorithms and what every model shares: parameter
 * validation from jsonb, standardisation, fitting and prediction through the
 * algorithm's vtable, and the linear-model payload that naive, ridge and
 * elastic net have in common.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "linalg.h"
#include "model.h"

static const ModelAlgorithm *const algorithms[] = {
	&model_naive,
	&model_ridge,
	&model_elastic_net,
	&model_gbt,
	&model_logistic,
};

static void AlgorithmNames(StringInfo buf);
static void CheckFitFinite(const Model *model);
static void ParamNames(const ModelAlgorithm *alg, StringInfo buf);

static void
AlgorithmNames(StringInfo buf)
{
	for (int i = 0; i < (int) lengthof(algorithms); i++)
		appendStringInfo(buf, "%s%s", i > 0 ? ", " : "", algorithms[i]->name);
}

static void
ParamNames(const ModelAlgorithm *alg, StringInfo buf)
{
	for (int i = 0; i < alg->nparams; i++)
		appendStringInfo(buf, "%s%s", i > 0 ? ", " : "", alg->params[i].name);
	if (alg->nparams == 0)
		appendStringInfoString(buf, "(none)");
}

const ModelAlgorithm *
ModelFindAlgorithm(const char *name, bool missing_ok)
{
	StringInfoData names;

	for (int i = 0; i < (int) lengthof(algorithms); i++)
		if (strcmp(algorithms[i]->name, name) == 0)
			return algorithms[i];
	if (missing_ok)
		return NULL;
	initStringInfo(&names);
	AlgorithmNames(&names);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown algorithm \"%s\"", name),
			 errhint("Use one of: %s.", names.data)));
	return NULL;
}

const ModelAlgorithm *
ModelFindAlgorithmById(uint16 id)
{
	for (int i = 0; i < (int) lengthof(algorithms); i++)
		if (algorithms[i]->id == id)
			return algorithms[i];
	return NULL;
}

/*
 * Read an algorithm's parameters from a jsonb object into values[] (in the
 * algorithm's order, defaults for those not given).  Keys in extra_keys (a
 * NULL-terminated list, may be NULL) belong to the caller and are skipped;
 * any other unknown key, a non-number or a value out of range is an ERROR.
 */
void
ModelParseParams(const ModelAlgorithm *alg, Jsonb *params,
				 const char *const *extra_keys, double *values)
{
	JsonbIterator	  *it;
	JsonbValue		   v;
	JsonbIteratorToken tok;
	char			  *key = NULL;

	for (int i = 0; i < alg->nparams; i++)
		values[i] = alg->params[i].default_value;
	if (params == NULL)
		goto cross_check;
	if (!JB_ROOT_IS_OBJECT(params) || JB_ROOT_IS_SCALAR(params))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("params must be a JSON object"),
				 errhint("For example '{\"alpha\": 1.0}'.")));

	it = JsonbIteratorInit(&params->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		const ModelParamSpec *spec = NULL;
		int					  idx = -1;
		bool				  extra = false;
		double				  d;

		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		/* a value follows its key (the root is an object): key is set */
		if (tok != WJB_VALUE || key == NULL)
			continue;

		for (int i = 0; i < alg->nparams; i++)
			if (strcmp(alg->params[i].name, key) == 0)
			{
				spec = &alg->params[i];
				idx = i;
			}
		for (int i = 0; extra_keys && extra_keys[i]; i++)
			if (strcmp(extra_keys[i], key) == 0)
				extra = true;
		if (extra)
			continue;
		if (spec == NULL)
		{
			StringInfoData names;

			initStringInfo(&names);
			ParamNames(alg, &names);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown parameter \"%s\" for algorithm \"%s\"", key, alg->name),
					 errdetail("Parameters of %s: %s.", alg->name, names.data),
					 extra_keys ? errhint("train() also takes: folds, auto_deploy, reference_rows, description, tags, horizons, seed, permutation_repeats, permutation_rows, search, n_iter.") : 0));
		}
		if (spec->keyword &&
			((v.type == jbvNull && strcmp(spec->keyword, "null") == 0) ||
			 (v.type == jbvString && strlen(spec->keyword) == (size_t) v.val.string.len &&
			  memcmp(spec->keyword, v.val.string.val, v.val.string.len) == 0)))
		{
			values[idx] = spec->keyword_value;
			continue;
		}
		if (spec->type == MODEL_PARAM_BOOL)
		{
			if (v.type != jbvBool)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("parameter \"%s\" must be true or false%s%s%s", key,
								spec->keyword ? " or \"" : "", spec->keyword ? spec->keyword : "",
								spec->keyword ? "\"" : ""),
						 errhint("%s", spec->help)));
			values[idx] = v.val.boolean ? 1 : 0;
			continue;
		}
		if (v.type != jbvNumeric)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("parameter \"%s\" must be a number", key),
					 errhint("%s", spec->help)));
		d = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
											   NumericGetDatum(v.val.numeric)));
		if (isnan(d) || d < spec->min || d > spec->max ||
			(spec->type == MODEL_PARAM_INT && d != floor(d)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("parameter \"%s\" of %s cannot be %s", key, alg->name,
							float8out_internal(d)),
					 errhint("%s", spec->help)));
		values[idx] = d;
	}

cross_check:
	if (alg->check_params)
		alg->check_params(values);
}

/* The full parameter set, defaults included, as JSON text */
char *
ModelParamsToJson(const ModelAlgorithm *alg, const double *values)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < alg->nparams; i++)
	{
		const ModelParamSpec *spec = &alg->params[i];

		appendStringInfo(&buf, "%s\"%s\": ", i > 0 ? ", " : "", spec->name);
		if (spec->keyword && values[i] == spec->keyword_value)
			appendStringInfoString(&buf, strcmp(spec->keyword, "null") == 0 ? "null" :
																			  psprintf("\"%s\"", spec->keyword));
		else if (spec->type == MODEL_PARAM_BOOL)
			appendStringInfoString(&buf, values[i] != 0 ? "true" : "false");
		else if (spec->type == MODEL_PARAM_INT)
			appendStringInfo(&buf, "%lld", (long long) values[i]);
		else
			appendStringInfoString(&buf, float8out_internal(values[i]));
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* Whether value is one a parameter can hold (for the decoder) */
bool
ModelParamValid(const ModelParamSpec *spec, double value)
{
	if (spec->keyword && value == spec->keyword_value)
		return true;
	if (spec->type == MODEL_PARAM_BOOL)
		return value == 0 || value == 1;
	return value >= spec->min && value <= spec->max &&
		   (spec->type != MODEL_PARAM_INT || value == floor(value));
}

Model *
ModelCreate(const ModelAlgorithm *alg, int n_features, const double *params)
{
	Model *model = palloc0(sizeof(Model));

	if (n_features < 1 || n_features > MODEL_MAX_FEATURES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a model needs between 1 and %d features, not %d",
						MODEL_MAX_FEATURES, n_features)));
	model->algorithm = alg;
	model->n_features = n_features;
	model->mean = palloc0(sizeof(double) * n_features);
	model->scale = palloc(sizeof(double) * n_features);
	model->coef = palloc0(sizeof(double) * n_features);
	for (int j = 0; j < n_features; j++)
		model->scale[j] = 1;
	if (params)
		memcpy(model->params, params, sizeof(double) * alg->nparams);
	return model;
}

/*
 * Per-feature mean and population standard deviation, two passes; a
 * constant feature gets scale 1, by scikit-learn's StandardScaler rule
 * (var <= n eps var + (n eps mean)^2).
 */
void
ModelStandardization(const ModelTrainData *data, double *mean, double *scale)
{
	int		p = data->p;
	int64	n = data->n;
	double *var = palloc0(sizeof(double) * p);

	memset(mean, 0, sizeof(double) * p);
	for (int64 i = 0; i < n; i++)
	{
		const double *xr = data->x + i * p;

		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		for (int j = 0; j < p; j++)
			mean[j] += xr[j];
	}
	for (int j = 0; j < p; j++)
		mean[j] = n > 0 ? mean[j] / n : 0;
	for (int64 i = 0; i < n; i++)
	{
		const double *xr = data->x + i * p;

		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		for (int j = 0; j < p; j++)
		{
			double d = xr[j] - mean[j];

			var[j] += d * d;
		}
	}
	for (int j = 0; j < p; j++)
	{
		double v = n > 0 ? var[j] / n : 0;
		double bound = (double) n * DBL_EPSILON * v +
					   ((double) n * mean[j] * DBL_EPSILON) * ((double) n * mean[j] * DBL_EPSILON);

		scale[j] = (v <= bound || !isfinite(v)) ? 1.0 : sqrt(v);
	}
	pfree(var);
}

void
ModelFit(Model *model, const ModelTrainData *data)
{
	if (data->p != model->n_features)
		elog(ERROR, "feature count mismatch: model %d, data %d", model->n_features, data->p);
	if (data->p > MODEL_MAX_FIT_FEATURES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("cannot fit a model on %d features", data->p),
				 errdetail("Fitting takes at most %d features.", MODEL_MAX_FIT_FEATURES),
				 errhint("Select fewer features, or reduce them first (e.g. by principal components).")));
	for (int64 i = 0; i < data->n * data->p; i++)
	{
		if ((i & 0xFFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (!isfinite(data->x[i]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("feature %d of row %lld is %s", (int) (i % data->p) + 1,
							(long long) (i / data->p) + 1, float8out_internal(data->x[i])),
					 errhint("Features must be finite numbers; drop incomplete rows first.")));
	}
	for (int64 i = 0; i < data->n; i++)
		if (!isfinite(data->y[i]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("target of row %lld is %s", (long long) i + 1,
							float8out_internal(data->y[i])),
					 errhint("Targets must be finite numbers.")));
	if (model->algorithm->fit_summary)
	{
		RawQr qr;

		LinalgQrInit(&qr, data->p);
		LinalgQrAdd(&qr, data, 0, data->n);
		ModelFitFromQr(model, &qr);
		LinalgQrFree(&qr);
	}
	else
	{
		if (!model->algorithm->raw_features)
			ModelStandardization(data, model->mean, model->scale);
		model->algorithm->fit(model, data);
		ModelPrepare(model);
		CheckFitFinite(model);
	}
}

/* fit() and train() never make a model the decoder would refuse */
static void
CheckFitFinite(const Model *model)
{
	if (!ModelArithmeticFinite(model))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("fitting gave coefficients that are not finite numbers"),
				 errdetail("The features or targets are too large, or too nearly constant, for float8 arithmetic."),
				 errhint("Scale the features and targets (e.g. log returns, z-scores), or raise alpha.")));
}

/*
 * Whether every number of a prepared model is finite and a prediction at
 * x = 0 (each term coef_raw_j * mean_j at its largest) is finite too: a
 * scale of 1e-300 under a coefficient of 1e300 passes every per-value check
 * and still predicts Infinity.
 */
bool
ModelArithmeticFinite(const Model *model)
{
	double bound;

	if (!isfinite(model->intercept))
		return false;
	bound = fabs(model->intercept);
	for (int j = 0; j < model->n_features; j++)
	{
		double c = model->coef_raw ? model->coef_raw[j] : model->coef[j] / model->scale[j];

		if (!isfinite(model->coef[j]) || !isfinite(model->mean[j]) ||
			!isfinite(model->scale[j]) || !(model->scale[j] > 0) || !isfinite(c))
			return false;
		bound += fabs(c) * (fabs(model->mean[j]) + 1);
	}
	if (!isfinite(bound))
		return false;
	/*
	 * An algorithm that predicts from standardized values (z = (x - mean) /
	 * scale, logistic's score) needs those of x = 0 finite too, and its score
	 * on them: else coef * z is 0 * inf or inf - inf (NaN) where coef_raw's
	 * form is finite.
	 */
	if (model->coef_raw == NULL && !model->algorithm->raw_features)
	{
		bound = fabs(model->intercept);
		for (int j = 0; j < model->n_features; j++)
		{
			double z = fabs(model->mean[j]) / model->scale[j];

			if (!isfinite(z))
				return false;
			bound += fabs(model->coef[j]) * (z + 1);
		}
	}
	return isfinite(bound);
}

/* Fit a linear algorithm on the rows a streaming QR has taken in so far */
void
ModelFitFromQr(Model *model, const RawQr *qr)
{
	LinearSummary s;

	if (model->algorithm->fit_summary == NULL)
		elog(ERROR, "algorithm %s does not fit from a QR summary", model->algorithm->name);
	LinalgQrSummary(qr, model->mean, model->scale, &s);
	model->algorithm->fit_summary(model, &s);
	pfree(s.r);
	ModelPrepare(model);
	CheckFitFinite(model);
}

/*
 * Ready a fitted or decoded model for prediction: linear models fold the
 * division by the scale into their coefficients, so a prediction is
 * intercept + sum coef_raw_j (x_j - mean_j), centering first (no
 * cancellation against a large mean).
 */
void
ModelPrepare(Model *model)
{
	if (model->algorithm->predict != LinearPredict)
		return;
	if (model->coef_raw == NULL)
		model->coef_raw = MemoryContextAlloc(GetMemoryChunkContext(model->coef),
											 sizeof(double) * model->n_features);
	for (int j = 0; j < model->n_features; j++)
		model->coef_raw[j] = model->coef[j] / model->scale[j];
}

/*
 * Predict from one raw feature vector; work holds n_features doubles (unused
 * by raw-feature algorithms)
 */
double
ModelPredict(const Model *model, const double *x, double *work)
{
	if (model->coef_raw)
	{
		double s = model->intercept;

		for (int j = 0; j < model->n_features; j++)
			s += model->coef_raw[j] * (x[j] - model->mean[j]);
		return s;
	}
	if (model->algorithm->raw_features)
		return model->algorithm->predict(model, x);
	for (int j = 0; j < model->n_features; j++)
		work[j] = (x[j] - model->mean[j]) / model->scale[j];
	return model->algorithm->predict(model, work);
}

/*
 * A classifier's P(up) from one raw feature vector (work as for
 * ModelPredict); NaN for a regressor, whose P(up) needs its residuals
 */
double
ModelProbabilityUp(const Model *model, const double *x, double *work)
{
	if (model->algorithm->probability == NULL)
		return get_float8_nan();
	for (int j = 0; j < model->n_features; j++)
		work[j] = (x[j] - model->mean[j]) / model->scale[j];
	return model->algorithm->probability(model, work);
}

double
LinearPredict(const Model *model, const double *z)
{
	double s = model->intercept;

	for (int j = 0; j < model->n_features; j++)
		s += model->coef[j] * z[j];
	return s;
}

/* Linear payload: intercept, then one coefficient per feature */
void
LinearWritePayload(const Model *model, StringInfo buf)
{
	ModelWriteFloat8(buf, model->intercept);
	for (int j = 0; j < model->n_features; j++)
		ModelWriteFloat8(buf, model->coef[j]);
}

void
LinearReadPayload(Model *model, ModelReader *reader)
{
	model->intercept = ModelReadFloat8(reader);
	for (int j = 0; j < model->n_features; j++)
		model->coef[j] = ModelReadFloat8(reader);
}

/* A linear model's importance: its coefficients on standardized features */
const char *
LinearImportance(const Model *model, double *out)
{
	memcpy(out, model->coef, sizeof(double) * model->n_features);
	return "standardized_coefficient";
}
