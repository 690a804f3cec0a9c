/*
 * model_naive.c — the random-walk baseline: the predicted log return is 0,
 * so the predicted close is the last close.  Every other model's skill is
 * measured against it.
 */
#include "postgres.h"

#include "linalg.h"
#include "model.h"

static void NaiveFit(Model *model, const LinearSummary *summary);

static void
NaiveFit(Model *model, const LinearSummary *summary)
{
	model->intercept = 0;
	memset(model->coef, 0, sizeof(double) * model->n_features);
}

const ModelAlgorithm model_naive = {
	.name = "naive",
	.id = 1,
	.nparams = 0,
	.params = NULL,
	.check_params = NULL,
	.fit_summary = NaiveFit,
	.fit = NULL,
	.predict = LinearPredict,
	.write_payload = LinearWritePayload,
	.read_payload = LinearReadPayload,
	.importance = LinearImportance,
};
