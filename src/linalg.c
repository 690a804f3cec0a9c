/*
 * linalg.c — the QR summary of a standardized design matrix and the linear
 * solutions built on it.
 *
 * The raw rows [1 | x | y] stream in blocks through a tall-skinny QR
 * (TSQR): R of the previous blocks is stacked on top of the next block and
 * factored again, so memory stays at one block plus a (p+2)^2 triangle
 * whatever the number of rows, the feature matrix is never copied, and the
 * standardization and every prefix's fit come out of the same pass.  Ridge then solves through the SVD of R (singular values of Z), so
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
LinalgQrInit(RawQr *qr, int p)
{
	int	   c = p + 2;
	int	   lda = TSQR_BLOCK_ROWS + c;
	double wsize;

	qr->p = p;
	qr->c = c;
	qr->n = 0;
	qr->have_r = false;
	qr->r = palloc0(sizeof(double) * c * c);
	qr->a = palloc(sizeof(double) * lda * c);
	qr->tau = palloc(sizeof(double) * c);
	CheckLapack(LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, lda, c, qr->a, lda, qr->tau, &wsize, -1),
				"dgeqrf");
	qr->lwork = Max((int) wsize, 1);
	qr->work = palloc(sizeof(double) * qr->lwork);
}

void
LinalgQrFree(RawQr *qr)
{
	pfree(qr->work);
	pfree(qr->tau);
	pfree(qr->a);
	pfree(qr->r);
}

/* Take in rows [from, to) of data: R of the previous rows stacked on each block */
void
LinalgQrAdd(RawQr *qr, const ModelTrainData *data, int64 from, int64 to)
{
	int p = qr->p;
	int c = qr->c;

	for (int64 start = from; start < to; start += TSQR_BLOCK_ROWS)
	{
		int		rows = (int) Min((int64) TSQR_BLOCK_ROWS, to - start);
		int		top = qr->have_r ? c : 0;
		int		m = top + rows;
		double *a = qr->a;

		CHECK_FOR_INTERRUPTS();
		for (int j = 0; j < c; j++)
			for (int i = 0; i < top; i++)
				a[j * m + i] = i <= j ? qr->r[j * c + i] : 0;
		for (int k = 0; k < rows; k++)
		{
			const double *xr = data->x + (start + k) * p;

			a[top + k] = 1.0;
			for (int j = 0; j < p; j++)
				a[(j + 1) * m + top + k] = xr[j];
			a[(p + 1) * m + top + k] = data->y[start + k];
		}
		CheckLapack(LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, m, c, a, m, qr->tau,
										qr->work, qr->lwork),
					"dgeqrf");
		memset(qr->r, 0, sizeof(double) * c * c);
		for (int j = 0; j < c; j++)
			for (int i = 0; i <= j && i < m; i++)
				qr->r[j * c + i] = a[j * m + i];
		qr->have_r = true;
		qr->n += rows;
	}
}

/*
 * Take in the rows another QR has summarised: its R (c x c upper triangular,
 * column-major, of n rows of [1 | x | y]) stacked under ours and factored
 * again.  R of a union of row sets is R of their stacked R factors (up to the
 * signs of its rows, which no summary depends on), so per-symbol pieces
 * computed elsewhere combine exactly, in any order.
 */
void
LinalgQrMerge(RawQr *qr, const double *r, int64 n)
{
	int		c = qr->c;
	int		top = qr->have_r ? c : 0;
	int		m = top + c;
	double *a = qr->a;

	if (n <= 0)
		return;
	/* the work matrix holds TSQR_BLOCK_ROWS + c rows: room for two triangles */
	if (c > TSQR_BLOCK_ROWS)
		elog(ERROR, "cannot merge QR factors of %d columns", c);
	CHECK_FOR_INTERRUPTS();
	for (int j = 0; j < c; j++)
	{
		for (int i = 0; i < top; i++)
			a[j * m + i] = i <= j ? qr->r[j * c + i] : 0;
		for (int i = 0; i < c; i++)
			a[j * m + top + i] = i <= j ? r[j * c + i] : 0;
	}
	CheckLapack(LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, m, c, a, m, qr->tau,
									qr->work, qr->lwork),
				"dgeqrf");
	memset(qr->r, 0, sizeof(double) * c * c);
	for (int j = 0; j < c; j++)
		for (int i = 0; i <= j; i++)
			qr->r[j * c + i] = a[j * m + i];
	qr->have_r = true;
	qr->n += n;
}

/*
 * From R of [1 | X | y]: row 0 holds sqrt(n) times the means, the lower
 * right block is R of the centered [X | y], whose column norms give the
 * population variances.  A constant feature gets scale 1, by scikit-learn's
 * StandardScaler rule (var <= n eps var + (n eps mean)^2).
 */
void
LinalgQrSummary(const RawQr *qr, double *mean, double *scale, LinearSummary *out)
{
	int			  p = qr->p;
	int			  c = qr->c;
	const double *r = qr->r;
	double		  n = (double) qr->n;
	double		  r00 = r[0];

	out->p = p;
	out->n = qr->n;
	out->r = palloc0(sizeof(double) * (p + 1) * (p + 1));
	out->ymean = qr->n > 0 && r00 != 0 ? r[(p + 1) * c] / r00 : 0;
	for (int j = 0; j < p; j++)
	{
		const double *col = r + (j + 1) * c;
		double		  ss = 0;
		double		  var;
		double		  bound;

		mean[j] = qr->n > 0 && r00 != 0 ? col[0] / r00 : 0;
		for (int i = 1; i <= j + 1; i++)
			ss += col[i] * col[i];
		var = qr->n > 0 ? ss / n : 0;
		bound = n * DBL_EPSILON * var + (n * mean[j] * DBL_EPSILON) * (n * mean[j] * DBL_EPSILON);
		scale[j] = (var <= bound || !isfinite(var)) ? 1.0 : sqrt(var);
	}
	/* R of [Z | y - ymean]: the lower right block, feature columns scaled */
	for (int j = 0; j <= p; j++)
		for (int i = 0; i <= j; i++)
			out->r[j * (p + 1) + i] = r[(j + 1) * c + i + 1] / (j < p ? scale[j] : 1.0);
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
	int		   p = s->p;
	int		   c = p + 1;
	double	  *rz = palloc(sizeof(double) * Max(p * p, 1));
	double	  *sv = palloc(sizeof(double) * Max(p, 1));
	double	  *u = palloc(sizeof(double) * Max(p * p, 1));
	double	  *vt = palloc(sizeof(double) * Max(p * p, 1));
	double	  *utz = palloc(sizeof(double) * Max(p, 1));
	double	  *work;
	double	   wsize;
	lapack_int lwork;
	double	   cutoff;

	if (p == 0)
		return;
	for (int j = 0; j < p; j++)
		for (int i = 0; i < p; i++)
			rz[j * p + i] = s->r[j * c + i];

	CheckLapack(LAPACKE_dgesvd_work(LAPACK_COL_MAJOR, 'A', 'A', p, p, rz, p, sv,
									u, p, vt, p, &wsize, -1),
				"dgesvd");
	lwork = (lapack_int) wsize;
	work = palloc(sizeof(double) * Max(lwork, 1));
	CheckLapack(LAPACKE_dgesvd_work(LAPACK_COL_MAJOR, 'A', 'A', p, p, rz, p, sv,
									u, p, vt, p, work, lwork),
				"dgesvd");

	cutoff = DBL_EPSILON * (double) Max(s->n, (int64) p) * sv[0];
	for (int k = 0; k < p; k++)
	{
		double d = 0;

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
		double w = 0;

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
	int			  p = s->p;
	int			  c = p + 1;
	const double *r = s->r;
	double		  yy = 0;

	for (int j = 0; j < p; j++)
	{
		CHECK_FOR_INTERRUPTS();
		for (int k = j; k < p; k++)
		{
			double g = 0;

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

/*
 * Solve A x = b for a symmetric positive definite n x n A (upper triangle,
 * column-major; overwritten by its Cholesky factor), b overwritten by x.
 * false when A is not positive definite.
 */
bool
LinalgCholeskySolve(int n, double *a, double *b)
{
	lapack_int info = LAPACKE_dposv_work(LAPACK_COL_MAJOR, 'U', n, 1, a, n, b, n);

	if (info > 0)
		return false;
	CheckLapack(info, "dposv");
	return true;
}
