/*
 * model_ridge.c — ridge regression on standardized features, with alpha = 0
 * giving ordinary least squares (minimum-norm when features are collinear).
 *
 * Minimises |y - b - Z w|^2 + alpha |w|^2, scikit-learn's Ridge objective
 * (sum of squares, not mean) on Z = StandardScaler(X), with the intercept b
 * unpenalised.  Solved through the SVD of the QR factor of [Z | y], see
 * linalg.c.
 */
#include "postgres.h"

#include <math.h>

#include "linalg.h"
#include "model.h"

static void RidgeFit(Model *model, const LinearSummary *summary);

static const ModelParamSpec ridge_params[] = {
	{"alpha", MODEL_PARAM_REAL, 0, 1e300, 1.0,
	 "alpha is the L2 penalty on standardized coefficients: 0 (ordinary least squares) or more."},
};

static void
RidgeFit(Model *model, const LinearSummary *summary)
{
	LinalgRidgeSolve(summary, model->params[0], model->coef);
	model->intercept = summary->ymean;
}

const ModelAlgorithm model_ridge = {
	.name = "ridge",
	.id = 2,
	.nparams = lengthof(ridge_params),
	.params = ridge_params,
	.check_params = NULL,
	.fit_summary = RidgeFit,
	.fit = NULL,
	.predict = LinearPredict,
	.write_payload = LinearWritePayload,
	.read_payload = LinearReadPayload,
	.importance = LinearImportance,
};
