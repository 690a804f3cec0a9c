/*
 * linalg.h — dense linear algebra for model fitting on top of LAPACK: a
 * one-pass, bounded-memory QR summary of a standardized design matrix, and
 * the ridge / Gram solutions computed from it.
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
	int			p;
	int64		n;
	double		ymean;
	double	   *r;
} LinearSummary;

extern void LinalgSummarize(const ModelTrainData *data, const double *mean,
							const double *scale, LinearSummary *out);
extern void LinalgRidgeSolve(const LinearSummary *s, double alpha, double *coef);
extern void LinalgGram(const LinearSummary *s, double *gram, double *q, double *y_norm2);

#endif							/* LINALG_H */
