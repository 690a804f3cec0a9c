/*
 * model_logistic.c — "logistic": the direction of the move, L2-regularised
 * logistic regression of up = (y > 0) on standardized features, with
 * scikit-learn's LogisticRegression objective and parameter name C:
 *
 *     0.5 |w|^2 + C sum_i log(1 + exp(-s_i (b + w . z_i))),   s_i = +1 up, -1 not
 *
 * (the intercept b unpenalised, as scikit-learn's lbfgs), on Z =
 * StandardScaler(X) as the other linear models.  Solved by Newton's method
 * (IRLS): each step solves the (p+1) x (p+1) Hessian system by Cholesky
 * (LAPACK, linalg.c), halving the step until the objective decreases; it
 * stops when the largest component of the gradient of the mean loss is below
 * tol, so the optimum is the one lbfgs approximates, to many more digits.
 *
 * The probability of an up move is p = 1 / (1 + exp(-(b + w . z))).  As a
 * forecast of the log return, which every model gives (predict()'s price, the
 * conformal interval, the backtest), the classifier says (2p - 1) m, m the
 * mean |y| of its training rows: the expected log return when the size of a
 * move does not depend on the features or its direction, and of the sign of
 * the classifier's decision (p > 0.5).
 *
 * The payload: payload version (1), intercept, p coefficients, m.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "miscadmin.h"
#include "utils/float.h"
#include "utils/memutils.h"

#include "linalg.h"
#include "model.h"

#define LOGISTIC_PAYLOAD_VERSION 1

enum
{
	LR_C,
	LR_MAX_ITER,
	LR_TOL,
	LR_NPARAMS
};

static const ModelParamSpec logistic_params[] = {
	[LR_C] = {"C", MODEL_PARAM_REAL, 1e-300, 1e300, 1.0,
			  "C is the inverse of the L2 penalty (scikit-learn's LogisticRegression C): more than 0; smaller is more regularised."},
	[LR_MAX_ITER] = {"max_iter", MODEL_PARAM_INT, 1, 10000, 100,
					 "max_iter is the most Newton iterations, 1 to 10000."},
	[LR_TOL] = {"tol", MODEL_PARAM_REAL, 0, 1, 1e-8,
				"tol is the largest gradient component of the mean log loss that counts as converged, 0 to 1."},
};

StaticAssertDecl(lengthof(logistic_params) == LR_NPARAMS, "logistic parameter table");

static void	  LogisticFit(Model *model, const ModelTrainData *data);
static double LogisticObjective(const double *z, const bool *up, int64 n, int p,
								const double *theta, double c);
static double LogisticProbability(const Model *model, const double *z);
static double LogisticPredict(const Model *model, const double *z);
static void	  LogisticWritePayload(const Model *model, StringInfo buf);
static void	  LogisticReadPayload(Model *model, ModelReader *reader);
static void	  PayloadError(const char *detail) pg_attribute_noreturn();
static void	  LogisticDescribe(const Model *model, StringInfo buf);

/* log(1 + exp(x)) without overflow */
static inline double
Softplus(double x)
{
	return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

static inline double
Sigmoid(double x)
{
	if (x >= 0)
		return 1.0 / (1.0 + exp(-x));
	else
	{
		double e = exp(x);

		return e / (1.0 + e);
	}
}

/* The objective at theta = (b, w) on the standardized rows z (n x p) */
static double
LogisticObjective(const double *z, const bool *up, int64 n, int p, const double *theta, double c)
{
	double loss = 0;
	double ww = 0;

	for (int64 i = 0; i < n; i++)
	{
		const double *zi = z + i * p;
		double		  s = theta[0];

		for (int j = 0; j < p; j++)
			s += theta[j + 1] * zi[j];
		loss += Softplus(up[i] ? -s : s);
	}
	for (int j = 0; j < p; j++)
		ww += theta[j + 1] * theta[j + 1];
	return c * loss + 0.5 * ww;
}

static void
LogisticFit(Model *model, const ModelTrainData *data)
{
	int			  p = data->p;
	int64		  n = data->n;
	int			  k = p + 1;
	double		  c = model->params[LR_C];
	int			  max_iter = (int) model->params[LR_MAX_ITER];
	double		  tol = model->params[LR_TOL];
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "stockml logistic fit",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	double		 *z = MemoryContextAllocHuge(cxt, mul_size(mul_size(Max(n, 1), p), sizeof(double)));
	bool		 *up = MemoryContextAllocHuge(cxt, mul_size(Max(n, 1), sizeof(bool)));
	double		 *theta = palloc0(sizeof(double) * k);
	double		 *trial = palloc(sizeof(double) * k);
	double		 *grad = palloc(sizeof(double) * k);
	double		 *hess = palloc(sizeof(double) * k * k);
	double		 *step = palloc(sizeof(double) * k);
	double		 *a = palloc(sizeof(double) * k);
	int64		  n_up = 0;
	double		  abs_sum = 0;
	double		  f;
	double		  gmax = 0;
	bool		  converged = false;
	int			  iter;

	for (int64 i = 0; i < n; i++)
	{
		const double *xi = data->x + i * p;
		double		 *zi = z + i * p;

		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		for (int j = 0; j < p; j++)
			zi[j] = (xi[j] - model->mean[j]) / model->scale[j];
		up[i] = data->y[i] > 0;
		n_up += up[i];
		abs_sum += fabs(data->y[i]);
	}
	if (n_up == 0 || n_up == n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("logistic regression needs targets of both classes: all " INT64_FORMAT " are %s",
						n, n_up == 0 ? "0 or less (not up)" : "above 0 (up)"),
				 errdetail("The class of a row is whether its target is above 0."),
				 errhint("Fit on more rows, or on targets that move both ways.")));

	/* start at the base rate: w = 0, b = its log-odds */
	theta[0] = log((double) n_up / (double) (n - n_up));
	f = LogisticObjective(z, up, n, p, theta, c);
	for (iter = 0; iter < max_iter; iter++)
	{
		double t = 1;
		double decrease = 0;
		double fnew;

		CHECK_FOR_INTERRUPTS();
		memset(grad, 0, sizeof(double) * k);
		memset(hess, 0, sizeof(double) * k * k);
		for (int64 i = 0; i < n; i++)
		{
			const double *zi = z + i * p;
			double		  s = theta[0];
			double		  pi,
				wi;

			if ((i & 0xFFFF) == 0)
				CHECK_FOR_INTERRUPTS();
			for (int j = 0; j < p; j++)
				s += theta[j + 1] * zi[j];
			pi = Sigmoid(s);
			wi = pi * (1 - pi);
			a[0] = 1;
			memcpy(a + 1, zi, sizeof(double) * p);
			for (int j = 0; j < k; j++)
			{
				double wa = wi * a[j];

				grad[j] += (pi - (up[i] ? 1 : 0)) * a[j];
				/* the upper triangle, column-major: hess[col * k + row], row <= col */
				for (int r = 0; r <= j; r++)
					hess[j * k + r] += wa * a[r];
			}
		}
		gmax = 0;
		for (int j = 0; j < k; j++)
		{
			grad[j] *= c;
			if (j > 0)
				grad[j] += theta[j];
			for (int r = 0; r <= j; r++)
				hess[j * k + r] *= c;
			gmax = Max(gmax, fabs(grad[j]));
		}
		for (int j = 1; j < k; j++)
			hess[j * k + j] += 1;
		/* the gradient of the mean loss, scikit-learn's scale */
		if (gmax / (c * (double) n) <= tol)
		{
			converged = true;
			break;
		}
		memcpy(step, grad, sizeof(double) * k);
		if (!LinalgCholeskySolve(k, hess, step))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("logistic regression's Hessian is not positive definite at iteration %d", iter + 1),
					 errdetail("The predicted probabilities reached 0 or 1 on every row."),
					 errhint("Lower C (more regularisation).")));
		for (int j = 0; j < k; j++)
			decrease += grad[j] * step[j];
		/* halve the Newton step until the objective decreases enough (Armijo) */
		for (;;)
		{
			for (int j = 0; j < k; j++)
				trial[j] = theta[j] - t * step[j];
			fnew = LogisticObjective(z, up, n, p, trial, c);
			if (fnew <= f - 1e-4 * t * decrease || t < 1e-10)
				break;
			t /= 2;
		}
		if (!(fnew <= f))
		{
			/* no decrease left at rounding level: the optimum, as far as float8 tells */
			converged = true;
			break;
		}
		memcpy(theta, trial, sizeof(double) * k);
		f = fnew;
	}
	if (!converged)
		ereport(NOTICE,
				(errmsg("logistic regression did not converge in %d iterations (largest mean gradient %g, tolerance %g)",
						max_iter, gmax / (c * (double) n), tol),
				 errhint("Raise max_iter or tol, or lower C.")));
	MemoryContextSwitchTo(old);
	model->intercept = theta[0];
	memcpy(model->coef, theta + 1, sizeof(double) * p);
	model->state = MemoryContextAlloc(GetMemoryChunkContext(model->coef), sizeof(double));
	*(double *) model->state = abs_sum / (double) n;
	MemoryContextDelete(cxt);
}

/* P(up) from one standardized vector */
static double
LogisticProbability(const Model *model, const double *z)
{
	double s = model->intercept;

	for (int j = 0; j < model->n_features; j++)
		s += model->coef[j] * z[j];
	return Sigmoid(s);
}

/* The log return forecast: (2p - 1) times the mean |y| of the training rows */
static double
LogisticPredict(const Model *model, const double *z)
{
	return (2 * LogisticProbability(model, z) - 1) * *(const double *) model->state;
}

static void
LogisticWritePayload(const Model *model, StringInfo buf)
{
	ModelWriteUint32(buf, LOGISTIC_PAYLOAD_VERSION);
	LinearWritePayload(model, buf);
	ModelWriteFloat8(buf, *(const double *) model->state);
}

static void
PayloadError(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("invalid stockml model"),
			 errdetail("%s", detail),
			 errhint("Use the model column of stockml.models as stored; retrain the model if the row is damaged.")));
}

static void
LogisticReadPayload(Model *model, ModelReader *reader)
{
	double m;

	if (ModelReadUint32(reader) != LOGISTIC_PAYLOAD_VERSION)
		PayloadError("The logistic payload version is unknown to this stockml.");
	LinearReadPayload(model, reader);
	m = ModelReadFloat8(reader);
	if (m < 0)
		PayloadError("The logistic model's mean absolute target is negative.");
	model->state = palloc(sizeof(double));
	*(double *) model->state = m;
}

/* model_describe: the mean |y| that scales the log return forecast */
static void
LogisticDescribe(const Model *model, StringInfo buf)
{
	appendStringInfo(buf, ", \"mean_abs_y\": %s", float8out_internal(*(const double *) model->state));
}

const ModelAlgorithm model_logistic = {
	.name = "logistic",
	.id = 5,
	.nparams = lengthof(logistic_params),
	.params = logistic_params,
	.check_params = NULL,
	.fit_summary = NULL,
	.fit = LogisticFit,
	.raw_features = false,
	.predict = LogisticPredict,
	.probability = LogisticProbability,
	.write_payload = LogisticWritePayload,
	.read_payload = LogisticReadPayload,
	.importance = LinearImportance,
	.describe = LogisticDescribe,
};
