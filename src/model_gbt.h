/*
 * model_gbt.h — the trees of a gbt model as model_gbt.c fits, stores and
 * walks them, and the bitvector evaluator of model_gbt_scorer.c that batch
 * prediction uses on them.
 */
#ifndef MODEL_GBT_H
#define MODEL_GBT_H

#include "postgres.h"

/* A node as prediction walks it: 16 bytes, children adjacent */
typedef struct GbtNode
{
	double value;	/* threshold (x <= value goes left), or leaf value */
	int32  feature; /* -1 for a leaf */
	uint32 left;	/* a split's left child; the right is left + 1 */
} GbtNode;

typedef struct GbtScorer GbtScorer;

/* model_gbt_scorer.c */
extern GbtScorer *GbtScorerBuild(int ntrees, const uint32 *tree_start, const GbtNode *nodes);
extern double	  GbtScorerPredict(const GbtScorer *scorer, double intercept, const double *x,
								   int n_features, bool portable);

/*
 * How gbt models predict (the setting stockml.gbt_evaluator): the scorer
 * with the fastest kernel the CPU has, the scorer's portable kernel, or the
 * node-by-node walk, the reference both are tested against
 */
typedef enum GbtEvaluator
{
	GBT_EVALUATOR_AUTO,
	GBT_EVALUATOR_PORTABLE,
	GBT_EVALUATOR_WALK
} GbtEvaluator;

/* model_gbt.c */
extern int gbt_evaluator;

#endif /* MODEL_GBT_H */
