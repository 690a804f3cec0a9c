/*
 * drift.h — the drift statistics of drift.c for C callers (the empirical null
 * train() keeps, drift_null.c), over samples already sorted and finite.
 */
#ifndef DRIFT_H
#define DRIFT_H

#include "postgres.h"

#include "utils/date.h"

typedef enum DriftMethod
{
	DRIFT_KS, /* the KS statistic D */
	DRIFT_WASSERSTEIN,
	DRIFT_PSI,
	DRIFT_KL_DIV,
	DRIFT_JENSEN_SHANNON
} DriftMethod;

#define DRIFT_NMETHODS (DRIFT_JENSEN_SHANNON + 1)

/* "ks", "wasserstein", ... as drift_test() and retrain_policies name them */
extern const char *const DriftMethodNames[DRIFT_NMETHODS];

/*
 * Every statistic between two sorted samples of finite values (each n >= 1),
 * out[method] for each DriftMethod; larger means further apart for every
 * method.
 */
extern void DriftStatistics(const double *ref, int nref, const double *cur, int ncur,
							double *out);

/* A reference value and its position k in the reference sample */
typedef struct DriftRefValue
{
	double v;
	int64  k;
} DriftRefValue;

/* Scratch space of DriftStatisticsExcluding and DriftStatisticsOfPool, for samples (pools) of up to max_values */
typedef struct DriftWalkScratch DriftWalkScratch;
extern DriftWalkScratch		   *DriftWalkScratchCreate(int max_values);

/*
 * DriftStatistics between the reference (nref values sorted by v) without
 * those whose k lies in [k_from, k_to) and cur (sorted), the same to the bit,
 * in one merge with no allocation: for one reference against many windows.
 * false (out untouched) when either sample is empty.
 */
extern bool DriftStatisticsExcluding(const DriftRefValue *ref, int nref, int64 k_from, int64 k_to,
									 const double *cur, int ncur, DriftWalkScratch *scratch,
									 double *out);

/* A training value and its id (its row), by which the caller says which samples hold it */
typedef struct DriftPoolValue
{
	double v;
	int32  id;
} DriftPoolValue;

/* in flag[id] of DriftStatisticsOfPool: the value is in the reference, in the current sample */
#define DRIFT_IN_REF 1
#define DRIFT_IN_CUR 2

/*
 * The same for a pool of values (n, sorted by v) of which flag[id] says
 * which are in the reference and which in the current sample (either, both
 * or neither).
 */
extern bool DriftStatisticsOfPool(const DriftPoolValue *pool, int n, const uint8 *flag, DriftWalkScratch *scratch,
								  double *out);

/* below this many values DriftSortValues and DriftSortPool sort by comparisons */
#define DRIFT_RADIX_MIN 384

/*
 * Sort n finite values ascending, by their bits (a radix sort) where there
 * are many; tmp has room for 2 n keys.  DriftSortPool sorts a pool by v
 * the same way, tmp with room for n values.
 */
extern void DriftSortValues(double *v, int n, uint64 *tmp);
extern void DriftSortPool(DriftPoolValue *pool, int n, DriftPoolValue *tmp);

/*
 * The training rows train() keeps as the reference sample: rows of the n
 * (ordered by day), evenly spaced in time, the k-th of them at this index.
 */
static inline int64
ReferenceRowIndex(int64 k, int64 rows, int64 n)
{
	return rows > 1 ? k * (n - 1) / (rows - 1) : n - 1;
}

/* What the empirical null of a new version is computed from (train.c's set) */
typedef struct DriftNullInput
{
	const double	  *x; /* n x p, row-major, rows ordered by day */
	int64			   n;
	int				   p;
	const char *const *names; /* p feature names */
	int				   ndays;
	const int64		  *day_start;	   /* ndays + 1: first row of each distinct day */
	const DateADT	  *days;		   /* the distinct days */
	int64			   reference_rows; /* rows of the reference (ReferenceRowIndex) */
} DriftNullInput;

/*
 * Compute the empirical null of every feature and method for a new model
 * version and store it in stockml.drift_null (nothing when the catalog has no
 * such table, i.e. is still at 0.1.0, or the training period is shorter than
 * one monitoring window).  Returns the number of windows drawn.
 */
extern int DriftNullStore(int64 model_id, const char *model_name, const DriftNullInput *in);

#endif /* DRIFT_H */
