/*
 * linalg.c — the QR summary of a standardized design matrix and the linear
 * solutions built on it.
 *
 * LinalgSummarize streams the rows in blocks through a tall-skinny QR
 * (TSQR): R of the previous blocks is stacked on top of the next block and
 * factored again, so memory stays at one block plus a (p+1)^2 triangle
 * whatever the number of rows, and the feature matrix itself is never
 * copied.  Ridge then solves through the SVD of R (singular values of Z), so
 * nearly collinear features do not lose half the digits as the normal
 * equations would.  LAPACK's *_work entry points are used with palloc'd
 * workspace so an ERROR or a cancel between calls leaks nothing.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include <lapacke.h>

#include "miscadmin.h"

#include "linalg.h"

/* rows per TSQR block */
#define TSQR_BLOCK_ROWS 2048

static void CheckLapack(lapack_int info, const char *routine);

static void
CheckLapack(lapack_int info, const char *routine)
{
	if (info != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s failed with info %d", routine, (int) info),
				 errdetail("The feature matrix could not be factored; it may contain values too large to standardize."),
				 errhint("Check the features for extreme values.")));
}

void
LinalgSummarize(const ModelTrainData *data, const double *mean,
				const double *scale, LinearSummary *out)
{
	int			p = data->p;
	int			c = p + 1;
	int64		n = data->n;
	int			lda = TSQR_BLOCK_ROWS + c;
	double	   *a;
	double	   *tau;
	double	   *work;
	double		wsize;
	lapack_int	lwork;
	double		ymean = 0;
	bool		have_r = false;

	/* mean of y, two-pass for accuracy */
	for (int64 i = 0; i < n; i++)
		ymean += data->y[i];
	ymean = n > 0 ? ymean / n : 0;

	a = palloc(sizeof(double) * lda * c);
	tau = palloc(sizeof(double) * c);
	out->p = p;
	out->n = n;
	out->ymean = ymean;
	out->r = palloc0(sizeof(double) * c * c);

	CheckLapack(LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, lda, c, a, lda, tau, &wsize, -1),
				"dgeqrf");
	lwork = (lapack_int) wsize;
	work = palloc(sizeof(double) * Max(lwork, 1));

	for (int64 start = 0; start < n; start += TSQR_BLOCK_ROWS)
	{
		int			rows = (int) Min((int64) TSQR_BLOCK_ROWS, n - start);
		int			top = have_r ? c : 0;
		int			m = top + rows;

		CHECK_FOR_INTERRUPTS();
		/* previous R on top */
		for (int j = 0; j < c; j++)
			for (int i = 0; i < top; i++)
				a[j * m + i] = i <= j ? out->r[j * c + i] : 0;
		/* then this block, standardized, column-major */
		for (int k = 0; k < rows; k++)
		{
			const double *xr = data->x + (start + k) * p;

			for (int j = 0; j < p; j++)
				a[j * m + top + k] = (xr[j] - mean[j]) / scale[j];
			a[p * m + top + k] = data->y[start + k] - ymean;
		}
		CheckLapack(LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, m, c, a, m, tau, work, lwork),
					"dgeqrf");
		memset(out->r, 0, sizeof(double) * c * c);
		for (int j = 0; j < c; j++)
			for (int i = 0; i <= j && i < m; i++)
				out->r[j * c + i] = a[j * m + i];
		have_r = true;
	}
	pfree(work);
	pfree(tau);
	pfree(a);
}

/*
 * coef = argmin |y - ymean - Z w|^2 + alpha |w|^2 through the SVD of R_Z:
 * w = V diag(s / (s^2 + alpha)) U' z.  With alpha = 0, singular values below
 * eps * max(n, p) * s_max count as zero (numpy's lstsq default), giving the
 * minimum-norm least-squares solution on rank-deficient features.
 */
void
LinalgRidgeSolve(const LinearSummary *s, double alpha, double *coef)
{
	int			p = s->p;
	int			c = p + 1;
	double	   *rz = palloc(sizeof(double) * Max(p * p, 1));
	double	   *sv = palloc(sizeof(double) * Max(p, 1));
	double	   *u = palloc(sizeof(double) * Max(p * p, 1));
	double	   *vt = palloc(sizeof(double) * Max(p * p, 1));
	double	   *utz = palloc(sizeof(double) * Max(p, 1));
	double	   *work;
	double		wsize;
	lapack_int	lwork;
	double		cutoff;

	if (p == 0)
		return;
	for (int j = 0; j < p; j++)
		for (int i = 0; i < p; i++)
			rz[j * p + i] = s->r[j * c + i];

	CheckLapack(LAPACKE_dgesvd_work(LAPACK_COL_MAJOR, 'A', 'A', p, p, rz, p, sv,
									u, p, vt, p, &wsize, -1), "dgesvd");
	lwork = (lapack_int) wsize;
	work = palloc(sizeof(double) * Max(lwork, 1));
	CheckLapack(LAPACKE_dgesvd_work(LAPACK_COL_MAJOR, 'A', 'A', p, p, rz, p, sv,
									u, p, vt, p, work, lwork), "dgesvd");

	cutoff = DBL_EPSILON * (double) Max(s->n, (int64) p) * sv[0];
	for (int k = 0; k < p; k++)
	{
		double		d = 0;

		/* U' z, z = column p of R */
		for (int i = 0; i < p; i++)
			d += u[k * p + i] * s->r[p * c + i];
		if (alpha > 0)
			utz[k] = d * sv[k] / (sv[k] * sv[k] + alpha);
		else
			utz[k] = sv[k] > cutoff ? d / sv[k] : 0;
	}
	for (int j = 0; j < p; j++)
	{
		double		w = 0;

		/* V = vt' : V[j, k] = vt[k, j] = vt[j * p + k] in column-major */
		for (int k = 0; k < p; k++)
			w += vt[j * p + k] * utz[k];
		coef[j] = w;
	}
	pfree(work);
	pfree(utz);
	pfree(vt);
	pfree(u);
	pfree(sv);
	pfree(rz);
}

/* Z'Z (p x p, column-major), Z'(y - ymean) and |y - ymean|^2 from R */
void
LinalgGram(const LinearSummary *s, double *gram, double *q, double *y_norm2)
{
	int			p = s->p;
	int			c = p + 1;
	const double *r = s->r;
	double		yy = 0;

	for (int j = 0; j < p; j++)
	{
		for (int k = j; k < p; k++)
		{
			double		g = 0;

			for (int i = 0; i <= j; i++)
				g += r[j * c + i] * r[k * c + i];
			gram[j * p + k] = gram[k * p + j] = g;
		}
		q[j] = 0;
		for (int i = 0; i <= j; i++)
			q[j] += r[j * c + i] * r[p * c + i];
	}
	for (int i = 0; i < c; i++)
		yy += r[p * c + i] * r[p * c + i];
	*y_norm2 = yy;
}
