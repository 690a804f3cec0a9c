/*
 * compare.h — the Diebold–Mariano test with a Newey–West variance, and the
 * one definition of a directional hit (compare.c).
 */
#ifndef STOCKML_COMPARE_H
#define STOCKML_COMPARE_H

typedef struct DmResult
{
	int	   n;
	int	   lag;		  /* Bartlett-kernel lag of the long-run variance */
	double mean;	  /* mean loss differential, NaN below 2 values */
	double statistic; /* NaN when undefined */
	double p_value;	  /* one-sided: small when mean > 0 */
} DmResult;

extern int	DirectionHit(double predicted_move, double realized_move);
extern int	DmLag(int n, int horizon);
extern void DmTest(const double *d, int n, int horizon, DmResult *r);

#endif /* STOCKML_COMPARE_H */
