/*
 * linalg.h — dense linear algebra for model fitting on top of LAPACK: a
 * one-pass, bounded-memory QR summary of a standardized design matrix, the
 * ridge / Gram solutions computed from it, and the Cholesky solve of the
 * Newton steps of logistic regression.
 */
#ifndef LINALG_H
#define LINALG_H

#include "postgres.h"

#include "model.h"

/*
 * R factor of [Z | y - ymean], where Z is the standardized (hence centered)
 * feature matrix: (p+1) x (p+1), upper triangular, column-major.  Z'Z, Z'y
 * and |y - ymean|^2 all follow from it, and its singular values are those
 * of Z, so solving from R never squares the condition number.
 */
typedef struct LinearSummary
{
	int		p;
	int64	n;
	double	ymean;
	double *r;
} LinearSummary;

/*
 * A streaming QR of the raw rows [1 | x | y], fed in row order: after any
 * prefix of rows it yields the model's standardization (means and
 * population scales) and the LinearSummary of the standardized prefix, so
 * walk-forward folds, whose training windows are growing prefixes, are all
 * fitted from one pass over the matrix.  Centering inside the QR (the
 * intercept column) is backward stable, unlike sums of squares.
 */
typedef struct RawQr
{
	int		p;
	int		c; /* p + 2 columns */
	int64	n; /* rows taken in */
	bool	have_r;
	double *r; /* c x c upper triangular, column-major */
	double *a; /* (block + c) x c work matrix */
	double *tau;
	double *work;
	int		lwork;
} RawQr;

extern void LinalgQrInit(RawQr *qr, int p);
extern void LinalgQrAdd(RawQr *qr, const ModelTrainData *data, int64 from, int64 to);
extern void LinalgQrMerge(RawQr *qr, const double *r, int64 n);
extern void LinalgQrSummary(const RawQr *qr, double *mean, double *scale, LinearSummary *out);
extern void LinalgQrFree(RawQr *qr);
extern void LinalgRidgeSolve(const LinearSummary *s, double alpha, double *coef);
extern bool LinalgCholeskySolve(int n, double *a, double *b);
extern void LinalgGram(const LinearSummary *s, double *gram, double *q, double *y_norm2);

#endif /* LINALG_H */
