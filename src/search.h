/*
 * search.h — hyperparameter search: params with lists or ranges expanded
 * into trials (search.c).
 */
#ifndef SEARCH_H
#define SEARCH_H

#include "postgres.h"

#include "utils/jsonb.h"

#include "model.h"

#define SEARCH_MAX_TRIALS 200

/* One trial: a plain params object and the algorithm's values it gives */
typedef struct SearchTrial
{
	Jsonb *params;
	char  *text;
	double values[MODEL_MAX_PARAMS];
} SearchTrial;

typedef struct SearchPlan
{
	const char	*kind;	/* "grid" or "random" */
	int			 ndims; /* parameters searched */
	int			 ntrials;
	SearchTrial *trials;
} SearchPlan;

/* the errcontext of a trial's ERROR: "search trial k of n: {params}" */
typedef struct SearchTrialContextArg
{
	int			trial; /* 1-based */
	int			ntrials;
	const char *params;
} SearchTrialContextArg;

extern void SearchTrialErrorContext(void *arg);

/*
 * NULL when params searches nothing (no list, no range, no "search" or
 * "n_iter"); else every trial, each checked by ModelParseParams (train_keys
 * are train()'s own keys, which every trial keeps as given).
 */
extern SearchPlan *SearchExpand(const ModelAlgorithm *alg, Jsonb *params,
								const char *const *train_keys, uint64 seed);

#endif /* SEARCH_H */
