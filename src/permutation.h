/*
 * permutation.h — permutation importance of a model on held-out rows
 * (permutation.c).
 */
#ifndef PERMUTATION_H
#define PERMUTATION_H

#include "postgres.h"

#include "model.h"

#define PERMUTATION_MAX_REPEATS 1000

/* the loss of one out-of-sample prediction (yhat, and p_up for a classifier) of y, and its name */
extern double	   OosLoss(const ModelAlgorithm *alg, double yhat, double p_up, double y);
extern const char *OosLossName(const ModelAlgorithm *alg);

/*
 * Per feature, the mean and population standard deviation over `repeats`
 * shuffles of its column of the growth of the mean OosLoss on the n rows of x
 * (row-major, model->n_features columns); *baseline (may be NULL) gets the
 * unshuffled mean loss.
 */
extern void PermutationImportance(const Model *model, const double *x, const double *y, int64 n,
								  int repeats, uint64 seed, double *mean, double *std,
								  double *baseline);

#endif /* PERMUTATION_H */
