/*
 * permutation.c — the out-of-sample loss train()'s search minimises, and
 * permutation importance of any model on held-out rows: how much that loss
 * grows when one feature's column is shuffled, as scikit-learn's sklearn.inspection.permutation_importance
 * measures it (mean and population standard deviation over n_repeats
 * shuffles, seeded).  train() runs it on its last walk-forward fold;
 * stockml.model_permutation_importance(model, x, y) on any rows.
 */
#include "postgres.h"

#include <math.h>

#include "common/pg_prng.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"

#include "compare.h"
#include "model.h"
#include "model_matrix.h"
#include "permutation.h"

PG_FUNCTION_INFO_V1(stockml_model_permutation_importance);

static double MeanLoss(const Model *model, const double *x, const double *y, int64 n,
					   int shuffled, const double *column, double *row, double *work);

/*
 * The loss of one out-of-sample prediction of target y: a classifier's log
 * loss of its p_up (the deploy gate's loss of a classifier), a regressor's
 * absolute error of the log return yhat (the gate's loss of a regressor)
 */
double
OosLoss(const ModelAlgorithm *alg, double yhat, double p_up, double y)
{
	return alg->probability ? LogLoss(p_up, y) : fabs(y - yhat);
}

const char *
OosLossName(const ModelAlgorithm *alg)
{
	return alg->probability ? "log loss of p_up" : "absolute error of the log return";
}

/*
 * The mean loss over the rows, with feature `shuffled` (or none: -1) taken
 * from column[] instead of x
 */
static double
MeanLoss(const Model *model, const double *x, const double *y, int64 n, int shuffled,
		 const double *column, double *row, double *work)
{
	int	   p = model->n_features;
	double sum = 0;

	for (int64 i = 0; i < n; i++)
	{
		const double *xr = x + i * p;

		if (shuffled >= 0)
		{
			memcpy(row, xr, sizeof(double) * p);
			row[shuffled] = column[i];
			xr = row;
		}
		if (model->algorithm->probability)
			sum += LogLoss(ModelProbabilityUp(model, xr, work), y[i]);
		else
			sum += fabs(y[i] - ModelPredict(model, xr, work));
	}
	return sum / (double) n;
}

void
PermutationImportance(const Model *model, const double *x, const double *y, int64 n,
					  int repeats, uint64 seed, double *mean, double *std, double *baseline)
{
	int			  p = model->n_features;
	double		 *row = palloc(sizeof(double) * p);
	double		 *work = palloc(sizeof(double) * p);
	double		 *column = MemoryContextAllocHuge(CurrentMemoryContext, mul_size(Max(n, 1), sizeof(double)));
	double		 *d = palloc(sizeof(double) * Max(repeats, 1));
	pg_prng_state rng;
	double		  base;

	if (n < 1 || repeats < 1)
		elog(ERROR, "permutation importance needs rows and repeats");
	pg_prng_seed(&rng, seed);
	base = MeanLoss(model, x, y, n, -1, NULL, row, work);
	for (int j = 0; j < p; j++)
	{
		double s = 0,
			   ss = 0;

		for (int r = 0; r < repeats; r++)
		{
			CHECK_FOR_INTERRUPTS();
			/* the column in row order, shuffled by Fisher-Yates */
			for (int64 i = 0; i < n; i++)
				column[i] = x[i * p + j];
			for (int64 i = n - 1; i > 0; i--)
			{
				int64  k = (int64) pg_prng_uint64_range(&rng, 0, (uint64) i);
				double t = column[i];

				column[i] = column[k];
				column[k] = t;
			}
			d[r] = MeanLoss(model, x, y, n, j, column, row, work) - base;
			s += d[r];
		}
		mean[j] = s / repeats;
		for (int r = 0; r < repeats; r++)
			ss += (d[r] - mean[j]) * (d[r] - mean[j]);
		std[j] = sqrt(ss / repeats);
	}
	if (baseline)
		*baseline = base;
	pfree(d);
	pfree(column);
	pfree(work);
	pfree(row);
}

/*
 * stockml.model_permutation_importance(model bytea, x float8[][], y float8[],
 * n_repeats int, seed bigint) RETURNS TABLE (feature int, importance float8,
 * std float8)
 */
Datum
stockml_model_permutation_importance(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Model		  *model = ModelDeserialize(PG_GETARG_BYTEA_PP(0));
	int			   repeats = PG_GETARG_INT32(3);
	int64		   seed = PG_GETARG_INT64(4);
	const double  *x;
	const double  *y;
	int			   n,
		p,
		ny;
	double *mean;
	double *std;

	x = FloatArrayValues(PG_GETARG_ARRAYTYPE_P(1), 2, "x", &n, &p);
	y = FloatArrayValues(PG_GETARG_ARRAYTYPE_P(2), 1, "y", &ny, NULL);
	if (p != model->n_features)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("x has %d features but the model takes %d", p, model->n_features),
				 errhint("Pass the features in the order and number the model was trained with.")));
	if (ny != n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("x has %d rows but y has %d values", n, ny),
				 errhint("Pass one target per row of x.")));
	if (repeats < 1 || repeats > PERMUTATION_MAX_REPEATS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n_repeats must be from 1 to %d, not %d", PERMUTATION_MAX_REPEATS, repeats),
				 errhint("scikit-learn's default is 5.")));
	for (int64 i = 0; i < (int64) n * p; i++)
		if (!isfinite(x[i]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("feature %d of row %lld is %s", (int) (i % p) + 1, (long long) (i / p) + 1,
							float8out_internal(x[i])),
					 errhint("Features must be finite numbers; drop incomplete rows first.")));
	for (int i = 0; i < n; i++)
		if (!isfinite(y[i]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("target of row %d is %s", i + 1, float8out_internal(y[i])),
					 errhint("Targets must be finite numbers.")));
	mean = palloc(sizeof(double) * p);
	std = palloc(sizeof(double) * p);
	PermutationImportance(model, x, y, n, repeats, (uint64) seed, mean, std, NULL);

	InitMaterializedSRF(fcinfo, 0);
	for (int j = 0; j < p; j++)
	{
		Datum values[3];
		bool  nulls[3] = {false, false, false};

		values[0] = Int32GetDatum(j + 1);
		values[1] = Float8GetDatum(mean[j]);
		values[2] = Float8GetDatum(std[j]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
