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

static void RidgeFit(Model *model, const ModelTrainData *data);

static const ModelParamSpec ridge_params[] = {
	{"alpha", MODEL_PARAM_REAL, 0, 1e300, 1.0,
	"alpha is the L2 penalty on standardized coefficients: 0 (ordinary least squares) or more."},
};

static void
RidgeFit(Model *model, const ModelTrainData *data)
{
	LinearSummary s;

	LinalgSummarize(data, model->mean, model->scale, &s);
	LinalgRidgeSolve(&s, model->params[0], model->coef);
	model->intercept = s.ymean;
	pfree(s.r);
}

const ModelAlgorithm model_ridge = {
	.name = "ridge",
	.id = 2,
	.nparams = lengthof(ridge_params),
	.params = ridge_params,
	.check_params = NULL,
	.fit = RidgeFit,
	.predict = LinearPredict,
	.write_payload = LinearWritePayload,
	.read_payload = LinearReadPayload,
};
