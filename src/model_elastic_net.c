/*
 * model_elastic_net.c — elastic net on standardized features by cyclic
 * coordinate descent, with scikit-learn's objective and parameter names:
 *
 *     1/(2n) |y - b - Z w|^2 + alpha l1_ratio |w|_1 + alpha (1 - l1_ratio)/2 |w|^2
 *
 * It runs the Gram form of scikit-learn's solver (enet_coordinate_descent_gram:
 * same updates, same stopping rule — largest coefficient change relative to
 * the largest coefficient below tol, then duality gap below tol |y|^2), so a
 * sweep costs O(p^2) whatever the number of rows.  Z'Z and Z'y come from the
 * QR summary in linalg.c, so fitting never touches the rows.
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#include "linalg.h"
#include "model.h"

enum
{
	EN_ALPHA,
	EN_L1_RATIO,
	EN_MAX_ITER,
	EN_TOL
};

static void ElasticNetFit(Model *model, const LinearSummary *summary);

static const ModelParamSpec elastic_net_params[] = {
	[EN_ALPHA] = {"alpha", MODEL_PARAM_REAL, 0, 1e300, 1.0,
				  "alpha multiplies the penalty: 0 or more (scikit-learn's ElasticNet alpha)."},
	[EN_L1_RATIO] = {"l1_ratio", MODEL_PARAM_REAL, 0, 1, 0.5,
					 "l1_ratio is between 0 (ridge penalty) and 1 (lasso penalty)."},
	[EN_MAX_ITER] = {"max_iter", MODEL_PARAM_INT, 1, 1e7, 1000,
					 "max_iter is a whole number of coordinate-descent sweeps, 1 to 10000000."},
	[EN_TOL] = {"tol", MODEL_PARAM_REAL, 0, 1, 1e-4,
				"tol is the convergence tolerance, between 0 and 1 (relative to |y|^2)."},
};

static void
ElasticNetFit(Model *model, const LinearSummary *summary)
{
	int		p = summary->p;
	double	n = (double) summary->n;
	double	alpha = model->params[EN_ALPHA] * model->params[EN_L1_RATIO] * n;
	double	beta = model->params[EN_ALPHA] * (1 - model->params[EN_L1_RATIO]) * n;
	int		max_iter = (int) model->params[EN_MAX_ITER];
	double	d_w_tol = model->params[EN_TOL];
	double	tol;
	double *q = palloc(sizeof(double) * p);
	double *gram = palloc(sizeof(double) * p * p);
	double *h = palloc0(sizeof(double) * p); /* gram . w */
	double *w = model->coef;
	double	y_norm2;
	double	gap = 0;
	bool	converged = false;
	int		iter;

	LinalgGram(summary, gram, q, &y_norm2);
	model->intercept = summary->ymean;
	memset(w, 0, sizeof(double) * p);
	tol = d_w_tol * y_norm2;

	for (iter = 0; iter < max_iter; iter++)
	{
		double w_max = 0;
		double d_w_max = 0;

		CHECK_FOR_INTERRUPTS();
		for (int j = 0; j < p; j++)
		{
			const double *gj = gram + (size_t) j * p;
			double		  w_j = w[j];
			double		  tmp;

			if (gj[j] == 0)
				continue;
			if (w_j != 0)
				for (int k = 0; k < p; k++)
					h[k] -= w_j * gj[k];
			tmp = q[j] - h[j];
			w[j] = (tmp > 0 ? 1 : tmp < 0 ? -1 :
											0) *
				   fmax(fabs(tmp) - alpha, 0) / (gj[j] + beta);
			if (w[j] != 0)
				for (int k = 0; k < p; k++)
					h[k] += w[j] * gj[k];
			d_w_max = fmax(d_w_max, fabs(w[j] - w_j));
			w_max = fmax(w_max, fabs(w[j]));
		}
		if (w_max == 0 || d_w_max / w_max < d_w_tol || iter == max_iter - 1)
		{
			double q_dot_w = 0,
				   dual_norm = 0,
				   wqw = 0,
				   w_norm2 = 0,
				   l1 = 0,
				   r_norm2,
				   cnst;

			for (int j = 0; j < p; j++)
			{
				double xta = q[j] - h[j] - beta * w[j];

				q_dot_w += w[j] * q[j];
				dual_norm = fmax(dual_norm, fabs(xta));
				wqw += w[j] * h[j];
				w_norm2 += w[j] * w[j];
				l1 += fabs(w[j]);
			}
			r_norm2 = y_norm2 + wqw - 2 * q_dot_w;
			if (dual_norm > alpha)
			{
				cnst = alpha / dual_norm;
				gap = 0.5 * (r_norm2 + r_norm2 * cnst * cnst);
			}
			else
			{
				cnst = 1;
				gap = r_norm2;
			}
			gap += alpha * l1 - cnst * y_norm2 + cnst * q_dot_w +
				   0.5 * beta * (1 + cnst * cnst) * w_norm2;
			if (gap < tol)
			{
				converged = true;
				break;
			}
		}
	}
	if (!converged && p > 0)
		ereport(NOTICE,
				(errmsg("elastic net did not converge in %d iterations (duality gap %g, tolerance %g)",
						max_iter, gap, tol),
				 errhint("Raise max_iter or tol, or raise alpha.")));
	pfree(h);
	pfree(gram);
	pfree(q);
}

const ModelAlgorithm model_elastic_net = {
	.name = "elastic_net",
	.id = 3,
	.nparams = lengthof(elastic_net_params),
	.params = elastic_net_params,
	.check_params = NULL,
	.fit_summary = ElasticNetFit,
	.fit = NULL,
	.predict = LinearPredict,
	.write_payload = LinearWritePayload,
	.read_payload = LinearReadPayload,
	.importance = LinearImportance,
};
