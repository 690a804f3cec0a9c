/*
 * compare.h — the Diebold–Mariano test with a Newey–West variance, the
 * one definition of a directional hit, and the scores of probability
 * forecasts (compare.c).
 */
#ifndef STOCKML_COMPARE_H
#define STOCKML_COMPARE_H

#include "postgres.h"

typedef struct DmResult
{
	int	   n;
	int	   lag;		  /* Bartlett-kernel lag of the long-run variance */
	double mean;	  /* mean loss differential, NaN below 2 values */
	double statistic; /* NaN when undefined */
	double p_value;	  /* one-sided: small when mean > 0 */
} DmResult;

/* Scores of probability forecasts of an up move (y > 0) over n rows */
typedef struct ProbScores
{
	int64  n;
	int64  n_up;
	double log_loss; /* mean of -ln p(realized class), p clipped to [eps, 1 - eps] */
	double brier;	 /* mean of (p - up)^2 */
	double auc;		 /* Mann-Whitney, ties counted half; NaN without both classes */
	double accuracy; /* share of rows whose class is (p > 0.5) */
} ProbScores;

extern int	  DirectionHit(double predicted_move, double realized_move);
extern double LogLoss(double p_up, double realized_move);
extern void	  ProbScoresCompute(const double *p_up, const double *y, int64 n, ProbScores *out);
extern int	  DmLag(int n, int horizon);
extern void	  DmTest(const double *d, int n, int horizon, DmResult *r);

#endif /* STOCKML_COMPARE_H */
