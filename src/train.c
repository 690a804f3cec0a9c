/*
 * train.c — stockml.train(): build the feature matrix of the symbols up to
 * train_end, evaluate the algorithm by walk-forward folds, refit on all rows
 * and register the new version with its run, metrics and reference sample.
 *
 * Walk-forward: the distinct days are cut as scikit-learn's TimeSeriesSplit
 * cuts samples — folds + 1 equal blocks, each of the last `folds` blocks is a
 * test block and everything before it, minus a gap of `horizon` days, is the
 * training window (expanding).  The gap keeps a training target, which ends
 * horizon bars after its day, from overlapping the test period.  Rows of all
 * symbols are ordered by (day, symbol), so every training window is a prefix
 * of one matrix and nothing is copied per fold.  The gap counts days of all
 * symbols together, but a target is horizon bars of its own symbol ahead: a
 * symbol missing days (holidays of another exchange, a hole in the data)
 * reaches further.  So each row keeps the day of its target, and the window
 * also stops before the first row whose target day is not before the test
 * block (for one symbol this is the gap exactly).
 *
 * Heads: train(..., horizons => ARRAY[1, 2, 5]) trains one model per horizon
 * into one version (a format-2 blob, model_io.c).  Each head is validated by
 * its own walk-forward folds on its own rows (those with a target that many
 * bars ahead) with its own gap = its horizon, so no head sees a target that
 * ends inside its test block.  The version's horizon (train's horizon, which
 * must be one of them) names the primary head: its metrics are the version's
 * metrics, its validation rows go to the deploy gate, its residuals give
 * predict()'s interval; it is trained exactly as a model of that horizon
 * alone.  The other heads' metrics go under metrics -> 'heads' and into
 * run_metrics (keys h<horizon>_...), their residuals under reference -> 'heads'.
 *
 * Failure: the work runs in a subtransaction.  When it fails, the
 * subtransaction is rolled back (no model row, no metrics), the failed run is
 * written by run_recorder.c in a transaction of its own, so it survives the
 * ERROR, and the ERROR is re-raised to the caller.
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "drift.h"
#include "compare.h"
#include "distributed.h"
#include "feature_matrix.h"
#include "interval.h"
#include "jobs.h"
#include "linalg.h"
#include "model.h"
#include "permutation.h"
#include "price_store.h"
#include "roles.h"
#include "search.h"
#include "stockml.h"
#include "train.h"

PG_FUNCTION_INFO_V1(stockml_train);
PG_FUNCTION_INFO_V1(stockml_train_check);

#define MIN_TEST_DAYS 5
#define MAX_FOLDS 50
#define MAX_REFERENCE_ROWS 100000
#define TRAIN_PERMUTATION_REPEATS 5	 /* scikit-learn's n_repeats */
#define TRAIN_PERMUTATION_ROWS 10000 /* of the last fold: its cost stays about 5 p 10 000 predictions */

/* train()'s keys that take one value (tags and horizons are lists by nature) */
static const char *const single_keys[] = {"folds", "auto_deploy", "reference_rows", "description",
										  "seed", "permutation_repeats", "permutation_rows"};

/* train()'s own keys in params, beside the algorithm's */
static const char *const train_keys[] = {"folds", "auto_deploy", "reference_rows", "description", "tags",
										 "horizons", "seed", "permutation_repeats", "permutation_rows", "search", "n_iter",
										 NULL};

typedef struct TrainRequest
{
	char				 *model_name;
	ArrayType			 *symbols_array;
	char				**symbols;
	int					  nsymbols;
	const ModelAlgorithm *alg;
	double				  values[MODEL_MAX_PARAMS];
	int					  horizon;	 /* the primary head's */
	int					  nhorizons; /* heads, horizon among them */
	int					 *horizons;	 /* ascending */
	char				 *feature_set;
	Jsonb				 *spec_jsonb;
	FeatureSpec			 *spec;
	bool				  has_train_end;
	DateADT				  train_end;
	int					  folds;
	bool				  auto_deploy;
	int					  reference_rows;
	char				 *params_text;		   /* as given */
	char				 *params_full;		   /* defaults filled in, train's own included */
	char				 *description;		   /* params' "description", or NULL */
	char				 *tags_json;		   /* params' "tags" (a JSON array of strings), or NULL */
	char				 *caller;			   /* the role train() checked, named in the alias history */
	int64				  seed;				   /* of the random search and the permutations */
	int					  permutation_repeats; /* 0: no permutation importance */
	int					  permutation_rows;	   /* of the last fold, evenly spaced; 0: all */
	SearchPlan			 *search;			   /* NULL: one set of parameters */
	int					  best_trial;		   /* a search's winner (0-based) */
	int64				 *trial_runs;		   /* a search's runs, one per trial */
	double				 *trial_loss;
} TrainRequest;

/* All training rows, ordered by (day, symbol) */
typedef struct TrainSet
{
	int64	 n;
	int		 p;
	double	*x; /* n x p, row-major */
	double	*y;
	double	*close;
	double	*sigma; /* volatility known on the day (interval.c), NaN when none */
	DateADT *day;
	DateADT *target_day; /* day of the bar y ends at */
	int		*sym;		 /* index into the request's symbols */
	int		 ndays;
	int64	*day_start; /* ndays + 1: first row of each distinct day */
	DateADT *days;
	/* on Citus: the rows came from the symbols' workers (train_piece.c) */
	bool	   pieces;
	uint64	  *sym_hash; /* per symbol: the hash of its rows, for the QR pieces */
	PieceBytes bytes;
} TrainSet;

/* Out-of-sample error accumulator for one model (model or naive) */
typedef struct ErrorStats
{
	int64  n;
	double abs_sum;
	double sq_sum;
	double ape_sum;
	int64  directed; /* rows where prediction and move both have a direction */
	int64  hits;
} ErrorStats;

typedef struct FoldResult
{
	int64	   n_train;
	ErrorStats model;
	ErrorStats naive;
	/* classifiers: the scores of p_up and of the base rate of the training rows */
	bool	   has_prob;
	ProbScores prob;
	ProbScores base;
	double	   base_rate; /* mean over the test rows of the base rate they were given */
} FoldResult;

/* What walk-forward validation and the refit give for one head */
typedef struct HeadResult
{
	int			horizon;
	TrainSet	set; /* set.x is freed after a non-primary head */
	int			test_days;
	FoldResult *fold; /* req->folds */
	FoldResult	pooled;
	FoldResult *per_symbol; /* pooled over the folds, one per symbol */
	double	   *abs_res;	/* nres out-of-sample |log error| */
	int64		nres;
	double	   *scaled_res; /* |log error| / (σ_t sqrt(horizon)) where σ_t is known */
	int64		nscaled;
	int64	   *vp_row; /* the out-of-sample rows, their fold and prediction */
	int		   *vp_fold;
	double	   *vp_yhat;
	double	   *vp_p;	 /* classifiers: p_up, and the base rate of the fold's training rows */
	double	   *vp_base; /* (NULL for regressors) */
	Model	   *model;	 /* refit on every row */
	double		loss;	 /* the search's loss over the out-of-sample rows (OosLoss) */
	/* permutation importance on the last fold (every head, when asked) */
	int		perm_repeats; /* 0: not measured */
	int64	perm_rows;	  /* measured on: perm_rows of the last fold's perm_fold_rows */
	int64	perm_fold_rows;
	double	perm_baseline;
	double *perm_mean;
	double *perm_std;
	/* on Citus, linear algorithms: R of every fold's new rows (PieceSegments) */
	double *segments;
	int64  *segment_n;
	/* what the refit continues from: the folds' QR (linear), the last fold's model and rows */
	bool   has_qr;
	RawQr  qr;
	Model *last_model;
	int64  last_from;
	int64  last_to;
} HeadResult;

typedef struct TrainOutcome
{
	int32 version;
	char *metrics;
	bool  deployed;
} TrainOutcome;

static void			ParseRequest(FunctionCallInfo fcinfo, TrainRequest *req);
static void			ParseTrainParams(Jsonb *params, TrainRequest *req);
static void			ParseHorizons(FunctionCallInfo fcinfo, Jsonb *params, TrainRequest *req);
static int			CompareInts(const void *a, const void *b);
static void			CheckSymbolsKnown(TrainRequest *req);
static int			CompareSymbolRefs(const void *a, const void *b);
static int			DropDuplicateSymbols(char **symbols, int n);
static void			LoadTrainSet(const TrainRequest *req, int horizon, TrainSet *set);
static void			SortByDay(TrainSet *set);
static void			IndexDays(TrainSet *set);
static int			MinimumDays(int folds, int horizon, int p);
static void			LogPhase(const char *what, instr_time *since);
static void			StatsAdd(ErrorStats *s, double predicted, double actual, double yhat, double y);
static void			AppendStats(StringInfo buf, const char *prefix, const ErrorStats *s);
static double		StatsMae(const ErrorStats *s);
static double		StatsDirection(const ErrorStats *s);
static void			AppendSkill(StringInfo buf, const ErrorStats *model, const ErrorStats *naive);
static void			AppendSymbolSkills(StringInfo buf, const TrainRequest *req, const FoldResult *per_symbol);
static char		   *BuildReference(const TrainRequest *req, const HeadResult *heads, int primary);
static void			AppendResiduals(StringInfo buf, const HeadResult *head);
static void			AppendHeadMetrics(StringInfo buf, const TrainRequest *req, const HeadResult *heads, int primary);
static int64		KnownPrefix(const TrainSet *set, int ts, int gap, int64 *known, DateADT *known_max);
static int64	   *FoldRows(const TrainRequest *req, const HeadResult *head);
static double	   *PieceSegments(const TrainRequest *req, int horizon, TrainSet *set,
								  const int64 *fold_rows, int64 **segment_n);
static void			TrainHead(const TrainRequest *req, int horizon, HeadResult *head,
							  int permutation_repeats, double progress_from, double progress_span);
static void			LoadHead(const TrainRequest *req, int horizon, HeadResult *head);
static void			WalkForward(const TrainRequest *req, const double *values, HeadResult *head,
								double progress_from, double progress_span);
static void			Refit(const TrainRequest *req, const double *values, HeadResult *head, int permutation_repeats);
static void			SearchTrials(TrainRequest *req, int64 run_id, int horizon, HeadResult *head,
								 double progress_from, double progress_span);
static int64		RecordTrial(const TrainRequest *req, int64 run_id, int trial, const HeadResult *head,
								TimestampTz started_at);
static char		   *FullParams(const TrainRequest *req, const double *values);
static void			AppendPermutation(StringInfo buf, const TrainRequest *req, const HeadResult *head);
static void			AppendSearch(StringInfo buf, const TrainRequest *req);
static void			LogRunValue(int64 run_id, const char *key, double value);
static const char  *JsonNumberText(double v);
static TrainOutcome TrainAndRegister(TrainRequest *req, int64 run_id);
static int64	   *ValidationRowOrder(const TrainRequest *req, const TrainSet *set, const int64 *rows,
									   int64 n);
static void			StoreValidationRows(const TrainRequest *req, const TrainSet *set, int64 model_id,
										int32 version, const HeadResult *head);
static void			StoreDriftNull(const TrainRequest *req, const TrainSet *set, int64 model_id);
static bool			GateInstalled(void);
static void			StoreVersionInfo(const TrainRequest *req, int32 version);
static bool			DeployGate(const TrainRequest *req, int64 model_id, int32 version, char **metrics);
static void			LogRunMetrics(int64 run_id, const char *prefix, const FoldResult *folds, int nfolds,
								  const FoldResult *pooled);
static void			ScoreProbabilities(const HeadResult *head, int64 from, int64 to, FoldResult *r);
static void			AppendProbScores(StringInfo buf, const FoldResult *r);

/* ERROR unless the model name has the form the models table allows */
void
ValidateModelName(const char *name)
{
	size_t len = strlen(name);

	for (const char *p = name; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			  (*p >= '0' && *p <= '9') || strchr("_.-", *p) != NULL))
		{
			len = 0;
			break;
		}
	if (len < 1 || len > 63)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid model name \"%s\"", name),
				 errdetail("A model name is 1 to 63 characters among A-Z a-z 0-9 _ . -."),
				 errhint("For example 'msft_ridge'.")));
}

typedef struct SymbolRef
{
	const char *symbol;
	int			pos;
} SymbolRef;

static int
CompareSymbolRefs(const void *a, const void *b)
{
	const SymbolRef *x = a;
	const SymbolRef *y = b;
	int				 c = strcmp(x->symbol, y->symbol);

	return c != 0 ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/*
 * Keep the first of each symbol, in the order given; returns how many are
 * left.  Sorting makes it O(n log n): 100 000 names take milliseconds.
 */
static int
DropDuplicateSymbols(char **symbols, int n)
{
	SymbolRef *refs = palloc(sizeof(SymbolRef) * Max(n, 1));
	bool	  *dup = palloc0(sizeof(bool) * Max(n, 1));
	int		   kept = 0;

	for (int i = 0; i < n; i++)
	{
		refs[i].symbol = symbols[i];
		refs[i].pos = i;
	}
	qsort(refs, n, sizeof(SymbolRef), CompareSymbolRefs);
	for (int i = 1; i < n; i++)
		if (strcmp(refs[i].symbol, refs[i - 1].symbol) == 0)
			dup[refs[i].pos] = true;
	for (int i = 0; i < n; i++)
		if (!dup[i])
			symbols[kept++] = symbols[i];
	pfree(dup);
	pfree(refs);
	return kept;
}

static void
ParseRequest(FunctionCallInfo fcinfo, TrainRequest *req)
{
	int	   nelems;
	Jsonb *params;

	for (int i = 0; i < 6; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be NULL",
							(const char *[]) {"model_name", "symbols", "algorithm", "horizon",
											  "params", "feature_set"}[i])));
	memset(req, 0, sizeof(TrainRequest));
	req->model_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ValidateModelName(req->model_name);

	req->symbols_array = PG_GETARG_ARRAYTYPE_P(1);
	req->symbols = SymbolsFromArray(req->symbols_array, &nelems);
	if (nelems == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("symbols must name at least one symbol"),
				 errhint("For example ARRAY['MSFT'].")));
	req->nsymbols = DropDuplicateSymbols(req->symbols, nelems);

	req->alg = ModelFindAlgorithm(text_to_cstring(PG_GETARG_TEXT_PP(2)), false);
	req->horizon = PG_GETARG_INT32(3);
	FeatureCheckHorizon(req->horizon);
	params = PG_GETARG_JSONB_P(4);
	req->params_text = JsonbToCString(NULL, &params->root, VARSIZE(params));
	ParseTrainParams(params, req);
	/* lists or ranges: a search, every trial checked now (search.c) */
	req->search = SearchExpand(req->alg, params, train_keys, (uint64) req->seed);
	if (req->search)
		memcpy(req->values, req->search->trials[0].values, sizeof(req->values));
	else
		ModelParseParams(req->alg, params, train_keys, req->values);
	ParseHorizons(fcinfo, params, req);
	req->params_full = FullParams(req, req->values);
	req->feature_set = text_to_cstring(PG_GETARG_TEXT_PP(5));
	req->spec_jsonb = FeatureSetSpec(req->feature_set);
	req->spec = FeatureSpecParse(req->spec_jsonb);
	req->has_train_end = !PG_ARGISNULL(6);
	if (req->has_train_end)
	{
		req->train_end = PG_GETARG_DATEADT(6);
		if (DATE_NOT_FINITE(req->train_end))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("train_end must be a finite date"),
					 errhint("Pass NULL to train on every stored bar.")));
	}
	CheckSymbolsKnown(req);
}

/*
 * The full parameter set of a version (models.params), defaults filled in,
 * train's own included, as JSON text: what a retrain passes again
 */
static char *
FullParams(const TrainRequest *req, const double *values)
{
	char		  *alg_json = ModelParamsToJson(req->alg, values);
	StringInfoData full;

	initStringInfo(&full);
	appendBinaryStringInfo(&full, alg_json, strlen(alg_json) - 1);
	appendStringInfo(&full, "%s\"folds\": %d, \"auto_deploy\": %s, \"reference_rows\": %d, \"seed\": " INT64_FORMAT ", \"permutation_repeats\": %d, \"permutation_rows\": %d",
					 req->alg->nparams > 0 ? ", " : "", req->folds,
					 req->auto_deploy ? "true" : "false", req->reference_rows, req->seed,
					 req->permutation_repeats, req->permutation_rows);
	/* a retrain (monitor()'s job passes models.params) keeps the heads */
	if (req->nhorizons > 1)
	{
		appendStringInfoString(&full, ", \"horizons\": [");
		for (int h = 0; h < req->nhorizons; h++)
			appendStringInfo(&full, "%s%d", h > 0 ? ", " : "", req->horizons[h]);
		appendStringInfoChar(&full, ']');
	}
	appendStringInfoChar(&full, '}');
	return full.data;
}

static void
ParseTrainParams(Jsonb *params, TrainRequest *req)
{
	JsonbValue *v;

	req->folds = 5;
	req->seed = 0;
	req->permutation_repeats = TRAIN_PERMUTATION_REPEATS;
	req->permutation_rows = TRAIN_PERMUTATION_ROWS;
	req->auto_deploy = true;
	req->reference_rows = 1000;
	if (!JB_ROOT_IS_OBJECT(params) || JB_ROOT_IS_SCALAR(params))
		return; /* ModelParseParams reports it */

	/* a list here would be a search of train()'s own keys (search.c searches the algorithm's) */
	for (int i = 0; i < (int) lengthof(single_keys); i++)
	{
		v = getKeyJsonValueFromContainer(&params->root, single_keys[i], strlen(single_keys[i]), NULL);
		if (v && v->type == jbvBinary)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("parameter \"%s\" cannot be searched", single_keys[i]),
					 errdetail("Only the algorithm's parameters are searched; every trial shares train()'s own, so that all are scored on the same walk-forward folds."),
					 errhint("Give \"%s\" one value.", single_keys[i])));
	}

	v = getKeyJsonValueFromContainer(&params->root, "folds", 5, NULL);
	if (v)
	{
		double d = v->type == jbvNumeric ?
					   DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric))) :
					   -1;

		if (d < 2 || d > MAX_FOLDS || d != floor(d))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("parameter \"folds\" must be a whole number from 2 to %d", MAX_FOLDS),
					 errhint("folds is the number of walk-forward test blocks (default 5).")));
		req->folds = (int) d;
	}
	v = getKeyJsonValueFromContainer(&params->root, "auto_deploy", 11, NULL);
	if (v)
	{
		if (v->type != jbvBool)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("parameter \"auto_deploy\" must be true or false"),
					 errhint("auto_deploy => false keeps the production alias where it is.")));
		req->auto_deploy = v->val.boolean;
	}
	v = getKeyJsonValueFromContainer(&params->root, "description", 11, NULL);
	if (v)
	{
		if (v->type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("parameter \"description\" must be a string"),
					 errhint("For example {\"description\": \"ridge on 20 features, weekly retrain\"}.")));
		req->description = pnstrdup(v->val.string.val, v->val.string.len);
	}
	v = getKeyJsonValueFromContainer(&params->root, "tags", 4, NULL);
	if (v)
	{
		bool ok = v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data);

		if (ok)
		{
			JsonbIterator	  *it = JsonbIteratorInit(v->val.binary.data);
			JsonbValue		   e;
			JsonbIteratorToken tok;

			while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
				if (tok == WJB_ELEM && e.type != jbvString)
					ok = false;
		}
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("parameter \"tags\" must be an array of strings"),
					 errhint("For example {\"tags\": [\"baseline\", \"ridge\"]}.")));
		req->tags_json = JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
	}
	v = getKeyJsonValueFromContainer(&params->root, "reference_rows", 14, NULL);
	if (v)
	{
		double d = v->type == jbvNumeric ?
					   DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric))) :
					   -1;

		if (d < 0 || d > MAX_REFERENCE_ROWS || d != floor(d))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("parameter \"reference_rows\" must be a whole number from 0 to %d",
							MAX_REFERENCE_ROWS),
					 errhint("reference_rows is the size of the training sample kept for drift (default 1000).")));
		req->reference_rows = (int) d;
	}
	v = getKeyJsonValueFromContainer(&params->root, "seed", 4, NULL);
	if (v)
	{
		double d = v->type == jbvNumeric ?
					   DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric))) :
					   -1;

		/* 2^53: every whole number below it is exact in the JSON number's float8 */
		if (d < 0 || d > 9007199254740991.0 || d != floor(d))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("parameter \"seed\" must be a whole number from 0 to 9007199254740991"),
					 errhint("seed seeds the random search and the permutation importance (default 0).")));
		req->seed = (int64) d;
	}
	v = getKeyJsonValueFromContainer(&params->root, "permutation_repeats", 19, NULL);
	if (v)
	{
		double d = v->type == jbvNumeric ?
					   DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric))) :
					   -1;

		if (d < 0 || d > PERMUTATION_MAX_REPEATS || d != floor(d))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("parameter \"permutation_repeats\" must be a whole number from 0 to %d",
							PERMUTATION_MAX_REPEATS),
					 errhint("permutation_repeats is how many times each feature is shuffled on the last fold (default %d; 0: no permutation importance).",
							 TRAIN_PERMUTATION_REPEATS)));
		req->permutation_repeats = (int) d;
	}
	v = getKeyJsonValueFromContainer(&params->root, "permutation_rows", 16, NULL);
	if (v)
	{
		double d = v->type == jbvNumeric ?
					   DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric))) :
					   -1;

		if (d < 0 || d > PG_INT32_MAX || d != floor(d))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("parameter \"permutation_rows\" must be a whole number from 0 to %d", PG_INT32_MAX),
					 errhint("permutation_rows is how many of the last fold's rows, evenly spaced, permutation importance is measured on (default %d; 0: all of them).",
							 TRAIN_PERMUTATION_ROWS)));
		req->permutation_rows = (int) d;
	}
}

static int
CompareInts(const void *a, const void *b)
{
	int x = *(const int *) a;
	int y = *(const int *) b;

	return (x > y) - (x < y);
}

/*
 * The heads: the horizons argument (0.2.0's train, argument 8) or params'
 * "horizons" (what models.params keeps, so a retrain job keeps the heads);
 * both given must agree.  Each is a horizon, none twice, the version's
 * horizon among them.  Neither given: one head, the horizon.
 */
static void
ParseHorizons(FunctionCallInfo fcinfo, Jsonb *params, TrainRequest *req)
{
	int		   *given = NULL;
	int			ngiven = 0;
	int		   *from_params = NULL;
	int			nparams = -1;
	JsonbValue *v = NULL;

	if (PG_NARGS() > 7 && !PG_ARGISNULL(7))
	{
		ArrayType *a = PG_GETARG_ARRAYTYPE_P(7);
		Datum	  *elems;
		bool	  *nulls;

		if (ARR_NDIM(a) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("horizons must be a one-dimensional array"),
					 errhint("For example horizons => ARRAY[1, 2, 3, 4, 5].")));
		deconstruct_array(a, INT4OID, 4, true, TYPALIGN_INT, &elems, &nulls, &ngiven);
		given = palloc(sizeof(int) * Max(ngiven, 1));
		for (int i = 0; i < ngiven; i++)
		{
			if (nulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("horizons must not contain NULL")));
			given[i] = DatumGetInt32(elems[i]);
		}
	}
	if (JB_ROOT_IS_OBJECT(params) && !JB_ROOT_IS_SCALAR(params))
		v = getKeyJsonValueFromContainer(&params->root, "horizons", 8, NULL);
	if (v)
	{
		bool ok = v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data);

		nparams = 0;
		if (ok)
		{
			JsonbIterator	  *it = JsonbIteratorInit(v->val.binary.data);
			JsonbValue		   e;
			JsonbIteratorToken tok;

			from_params = palloc(sizeof(int) * Max(JsonContainerSize(v->val.binary.data), 1));
			while (ok && (tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
				if (tok == WJB_ELEM)
				{
					double d = e.type == jbvNumeric ?
								   DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(e.val.numeric))) :
								   NAN;

					ok = d == floor(d) && d >= PG_INT32_MIN && d <= PG_INT32_MAX;
					if (ok)
						from_params[nparams++] = (int) d;
				}
		}
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("parameter \"horizons\" must be an array of whole numbers"),
					 errhint("For example {\"horizons\": [1, 2, 3, 4, 5]}, or train's argument horizons => ARRAY[1, 2, 3, 4, 5].")));
	}
	if (given && nparams >= 0)
	{
		bool same = ngiven == nparams;

		qsort(given, ngiven, sizeof(int), CompareInts);
		qsort(from_params, nparams, sizeof(int), CompareInts);
		for (int i = 0; same && i < ngiven; i++)
			same = given[i] == from_params[i];
		if (!same)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("horizons and params' \"horizons\" differ"),
					 errhint("Give the heads once: horizons => ARRAY[...] or params => '{\"horizons\": [...]}'.")));
	}
	if (given == NULL && nparams >= 0)
	{
		given = from_params;
		ngiven = nparams;
	}
	if (given == NULL)
	{
		req->nhorizons = 1;
		req->horizons = palloc(sizeof(int));
		req->horizons[0] = req->horizon;
		return;
	}
	if (ngiven < 1 || ngiven > MODEL_MAX_HEADS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizons must hold 1 to %d horizons, not %d", MODEL_MAX_HEADS, ngiven),
				 errhint("For example horizons => ARRAY[1, 2, 3, 4, 5].")));
	qsort(given, ngiven, sizeof(int), CompareInts);
	for (int i = 0; i < ngiven; i++)
	{
		FeatureCheckHorizon(given[i]);
		if (i > 0 && given[i] == given[i - 1])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("horizon %d is in horizons twice", given[i]),
					 errhint("Name each horizon once.")));
	}
	if (bsearch(&req->horizon, given, ngiven, sizeof(int), CompareInts) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon %d is not among horizons", req->horizon),
				 errdetail("The version's horizon names the head that predict() serves; it must be one of the heads."),
				 errhint("Pass horizon => one of them, e.g. horizon => %d, or add %d to horizons.",
						 given[0], req->horizon)));
	req->nhorizons = ngiven;
	req->horizons = given;
}

/* ERROR naming the symbols not in stockml.symbols */
static void
CheckSymbolsKnown(TrainRequest *req)
{
	Datum arg = PointerGetDatum(req->symbols_array);
	int	  rc;

	SPI_connect();
	/* the first ten unknown ones, the first of them quoted for the hint, how many */
	/* EXCEPT, not a correlated NOT EXISTS over unnest: Citus refuses that */
	rc = SPI_execute_with_args("WITH u AS (SELECT s FROM unnest($1::text[]) s"
							   " EXCEPT SELECT y.symbol FROM stockml.symbols y WHERE y.symbol = ANY ($1::text[]))"
							   " SELECT (SELECT string_agg(s, ', ' ORDER BY s) FROM (SELECT s FROM u ORDER BY s LIMIT 10) f)"
							   "   || CASE WHEN count(*) > 10 THEN format(' and %s more', count(*) - 10) ELSE '' END,"
							   " quote_literal(min(s)) FROM u",
							   1, (Oid[]) {TEXTARRAYOID}, &arg, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "checking symbols failed: %s", SPI_result_code_string(rc));
	{
		bool  isnull;
		Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			char *first = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("unknown symbol: %s", TextDatumGetCString(d)),
					 errhint("Load its prices first, e.g. SELECT * FROM stockml.ingest_yahoo(%s) or stockml.ingest_csv(%s, :'csv').",
							 first, first)));
		}
	}
	SPI_finish();
}

/*
 * The rows of every symbol with complete features and a target that ends
 * no later than train_end, ordered by (day, symbol).
 */
static void
LoadTrainSet(const TrainRequest *req, int horizon, TrainSet *set)
{
	int			  p = req->spec->nfeatures;
	int64		  capacity = 0;
	MemoryContext per_symbol;
	MemoryContext caller = CurrentMemoryContext;
	Datum		  args[2];
	int			  rc;

	/* an upper bound on the rows, so the matrix is allocated once */
	args[0] = PointerGetDatum(req->symbols_array);
	args[1] = DateADTGetDatum(req->train_end);
	SPI_connect();
	rc = SPI_execute_with_args("SELECT count(*) FROM stockml.prices WHERE symbol = ANY($1)"
							   " AND ($2::date IS NULL OR day <= $2) GROUP BY symbol",
							   2, (Oid[]) {TEXTARRAYOID, DATEOID}, args,
							   req->has_train_end ? NULL : " n", true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "counting bars failed: %s", SPI_result_code_string(rc));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool  isnull;
		int64 c = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
											  1, &isnull));

		capacity += Max(c - req->spec->warmup + 1, 0);
	}
	SPI_finish();

	set->p = p;
	set->n = 0;
	capacity = Max(capacity, 1);
	set->x = MemoryContextAllocHuge(caller, mul_size(mul_size(capacity, p), sizeof(double)));
	set->y = MemoryContextAllocHuge(caller, mul_size(capacity, sizeof(double)));
	set->close = MemoryContextAllocHuge(caller, mul_size(capacity, sizeof(double)));
	set->sigma = MemoryContextAllocHuge(caller, mul_size(capacity, sizeof(double)));
	set->day = MemoryContextAllocHuge(caller, mul_size(capacity, sizeof(DateADT)));
	set->target_day = MemoryContextAllocHuge(caller, mul_size(capacity, sizeof(DateADT)));
	set->sym = MemoryContextAllocHuge(caller, mul_size(capacity, sizeof(int)));

	set->pieces = TrainPiecesApply(req->spec);
	memset(&set->bytes, 0, sizeof(PieceBytes));
	set->sym_hash = palloc0(sizeof(uint64) * req->nsymbols);
	per_symbol = AllocSetContextCreate(caller, "stockml train symbol", ALLOCSET_DEFAULT_SIZES);
	for (int s = 0; s < req->nsymbols; s++)
	{
		MemoryContext old = MemoryContextSwitchTo(per_symbol);
		SymbolRows	  r;

		CHECK_FOR_INTERRUPTS();
		if (set->pieces)
			TrainPieceRows(req->symbols[s], req->spec_jsonb, p, horizon,
						   req->has_train_end ? &req->train_end : NULL, &r, &set->bytes);
		else
			TrainSymbolRows(req->symbols[s], req->spec, horizon,
							req->has_train_end ? &req->train_end : NULL, &r);
		MemoryContextSwitchTo(old);
		if (set->n + r.n > capacity)
			elog(ERROR, "more feature rows than stored bars");
		set->sym_hash[s] = r.hash;
		memcpy(set->x + set->n * p, r.x, sizeof(double) * p * r.n);
		memcpy(set->y + set->n, r.y, sizeof(double) * r.n);
		memcpy(set->close + set->n, r.close, sizeof(double) * r.n);
		memcpy(set->sigma + set->n, r.sigma, sizeof(double) * r.n);
		memcpy(set->day + set->n, r.day, sizeof(DateADT) * r.n);
		memcpy(set->target_day + set->n, r.target_day, sizeof(DateADT) * r.n);
		for (int i = 0; i < r.n; i++)
			set->sym[set->n + i] = s;
		set->n += r.n;
		MemoryContextReset(per_symbol);
	}
	MemoryContextDelete(per_symbol);

	if (req->nsymbols > 1)
		SortByDay(set);
	IndexDays(set);
}

/*
 * Reorder the rows by day in place: a counting sort (stable, so rows of one
 * day keep the order of the symbols), then each row moved straight to its
 * place along the permutation's cycles, one row of scratch space.
 */
static void
SortByDay(TrainSet *set)
{
	int64	n = set->n;
	int		p = set->p;
	DateADT lo = PG_INT32_MAX,
			hi = PG_INT32_MIN;
	int64	range;
	int64  *next;
	int64  *dest;
	double *tmp;

	for (int64 i = 0; i < n; i++)
	{
		lo = Min(lo, set->day[i]);
		hi = Max(hi, set->day[i]);
	}
	if (n == 0)
		return;
	tmp = palloc(sizeof(double) * p);
	range = (int64) hi - lo + 1;
	if (range > 10000000)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the training rows span more than 10 000 000 days"),
				 errhint("Use symbols whose bars cover a realistic period.")));
	next = MemoryContextAllocExtended(CurrentMemoryContext, mul_size(range, sizeof(int64)),
									  MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	dest = MemoryContextAllocHuge(CurrentMemoryContext, mul_size(n, sizeof(int64)));
	for (int64 i = 0; i < n; i++)
		next[set->day[i] - lo]++;
	for (int64 d = 0, pos = 0; d < range; d++)
	{
		int64 c = next[d];

		next[d] = pos;
		pos += c;
	}
	for (int64 i = 0; i < n; i++)
		dest[i] = next[set->day[i] - lo]++;
	pfree(next);

	for (int64 i = 0; i < n; i++)
	{
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		while (dest[i] != i)
		{
			int64  j = dest[i];
			double ty = set->y[j],
				   tc = set->close[j],
				   tv = set->sigma[j];
			DateADT td = set->day[j],
					tt = set->target_day[j];
			int ts = set->sym[j];

			memcpy(tmp, set->x + j * p, sizeof(double) * p);
			memcpy(set->x + j * p, set->x + i * p, sizeof(double) * p);
			memcpy(set->x + i * p, tmp, sizeof(double) * p);
			set->y[j] = set->y[i];
			set->close[j] = set->close[i];
			set->sigma[j] = set->sigma[i];
			set->day[j] = set->day[i];
			set->target_day[j] = set->target_day[i];
			set->sym[j] = set->sym[i];
			set->y[i] = ty;
			set->close[i] = tc;
			set->sigma[i] = tv;
			set->day[i] = td;
			set->target_day[i] = tt;
			set->sym[i] = ts;
			dest[i] = dest[j];
			dest[j] = j;
		}
	}
	pfree(dest);
	pfree(tmp);
}

static void
IndexDays(TrainSet *set)
{
	int nd = 0;

	for (int64 i = 0; i < set->n; i++)
		if (i == 0 || set->day[i] != set->day[i - 1])
			nd++;
	set->ndays = nd;
	set->days = palloc(sizeof(DateADT) * Max(nd, 1));
	set->day_start = palloc(sizeof(int64) * (nd + 1));
	nd = 0;
	for (int64 i = 0; i < set->n; i++)
		if (i == 0 || set->day[i] != set->day[i - 1])
		{
			set->days[nd] = set->day[i];
			set->day_start[nd++] = i;
		}
	set->day_start[nd] = set->n;
}

/* DEBUG1 timing of a phase of train(); *since moves to now */
static void
LogPhase(const char *what, instr_time *since)
{
	instr_time now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, *since);
	elog(DEBUG1, "stockml train: %s in %.3f s", what, INSTR_TIME_GET_DOUBLE(now));
	INSTR_TIME_SET_CURRENT(*since);
}

/*
 * The fewest usable days for which every test block has MIN_TEST_DAYS and
 * the first training window p + 2 days (so even OLS is determined).
 */
static int
MinimumDays(int folds, int horizon, int p)
{
	for (int m = 1;; m++)
	{
		int test = m / (folds + 1);

		if (test >= MIN_TEST_DAYS && m - folds * test - horizon >= p + 2)
			return m;
	}
}

/*
 * One out-of-sample prediction, scored on the price: the predicted close is
 * close * exp(yhat), the realized one close * exp(y), given here as
 * predicted and actual.  Directional accuracy is DirectionHit()'s, the same
 * as monitor()'s (stockml.direction_hit): a prediction or move of exactly 0
 * has no direction and is left out, so the naive baseline has none (NULL).
 */
static void
StatsAdd(ErrorStats *s, double predicted, double actual, double yhat, double y)
{
	double e = predicted - actual;
	int	   hit = DirectionHit(yhat, y);

	s->n++;
	s->abs_sum += fabs(e);
	s->sq_sum += e * e;
	s->ape_sum += fabs(e) / actual;
	if (hit >= 0)
	{
		s->directed++;
		s->hits += hit;
	}
}

/* hits / directed, NaN (null) when no row had a direction */
static double
StatsDirection(const ErrorStats *s)
{
	return s->directed > 0 ? (double) s->hits / s->directed : NAN;
}

static double
StatsMae(const ErrorStats *s)
{
	return s->n > 0 ? s->abs_sum / s->n : NAN;
}

static void
AppendStats(StringInfo buf, const char *prefix, const ErrorStats *s)
{
	double n = (double) Max(s->n, 1);

	double da = StatsDirection(s);

	appendStringInfo(buf, "\"%smae\": %s, \"%srmse\": %s, \"%smape\": %s, \"%sdirectional_accuracy\": %s",
					 prefix, float8out_internal(s->abs_sum / n),
					 prefix, float8out_internal(sqrt(s->sq_sum / n)),
					 prefix, float8out_internal(s->ape_sum / n),
					 prefix, isnan(da) ? "null" : float8out_internal(da));
}

static void
AppendSkill(StringInfo buf, const ErrorStats *model, const ErrorStats *naive)
{
	double nm = StatsMae(naive);

	if (nm > 0)
		appendStringInfo(buf, "\"skill\": %s", float8out_internal(1 - StatsMae(model) / nm));
	else
		appendStringInfoString(buf, "\"skill\": null");
}

/*
 * A classifier's scores over the validation rows [from, to) of a head: its
 * p_up, and the constant base rate of each fold's training rows (the
 * classifier's naive baseline; its AUC is 0.5)
 */
static void
ScoreProbabilities(const HeadResult *head, int64 from, int64 to, FoldResult *r)
{
	double *y = palloc(sizeof(double) * Max(to - from, 1));
	double	base = 0;

	for (int64 k = from; k < to; k++)
	{
		y[k - from] = head->set.y[head->vp_row[k]];
		base += head->vp_base[k];
	}
	r->has_prob = true;
	ProbScoresCompute(head->vp_p + from, y, to - from, &r->prob);
	ProbScoresCompute(head->vp_base + from, y, to - from, &r->base);
	r->base_rate = to > from ? base / (to - from) : NAN;
	pfree(y);
}

/* , "log_loss": ..., "base_...": ..., "log_loss_skill": ... of a classifier (nothing for a regressor) */
static void
AppendProbScores(StringInfo buf, const FoldResult *r)
{
	const double			 v[] = {r->prob.log_loss, r->prob.brier, r->prob.auc, r->prob.accuracy,
									r->base_rate, r->base.log_loss, r->base.brier, r->base.auc, r->base.accuracy,
						r->prob.n > 0 ? (double) r->prob.n_up / r->prob.n : NAN,
						r->base.log_loss > 0 ? 1 - r->prob.log_loss / r->base.log_loss : NAN};
	static const char *const keys[] = {"log_loss", "brier", "auc", "accuracy", "base_rate", "base_log_loss",
									   "base_brier", "base_auc", "base_accuracy", "up_share", "log_loss_skill"};

	StaticAssertStmt(lengthof(v) == lengthof(keys), "one key per score");
	if (!r->has_prob)
		return;
	for (int i = 0; i < (int) lengthof(keys); i++)
		appendStringInfo(buf, ", \"%s\": %s", keys[i], isnan(v[i]) ? "null" : float8out_internal(v[i]));
}

/*
 * ", \"skill_scaled\": s, \"symbols\": {...}": each symbol's metrics, and a
 * pooled skill from scale-free errors (MASE-style): 1 - the mean over test
 * rows of |error| / the naive MAE of the row's symbol, so an expensive symbol
 * weighs no more than a cheap one.  Symbols whose naive MAE is 0 are left out.
 */
static void
AppendSymbolSkills(StringInfo buf, const TrainRequest *req, const FoldResult *per_symbol)
{
	double scaled = 0;
	int64  n = 0;

	appendStringInfoString(buf, ", \"symbols\": {");
	for (int k = 0; k < req->nsymbols; k++)
	{
		const FoldResult *r = &per_symbol[k];
		double			  nm = StatsMae(&r->naive);

		if (nm > 0)
		{
			scaled += r->model.abs_sum / nm;
			n += r->model.n;
		}
		appendStringInfoString(buf, k > 0 ? ", " : "");
		escape_json(buf, req->symbols[k]);
		appendStringInfo(buf, ": {\"n_test\": " INT64_FORMAT ", ", r->model.n);
		AppendStats(buf, "", &r->model);
		appendStringInfo(buf, ", \"naive_mae\": %s, ", r->naive.n > 0 ? float8out_internal(nm) : "null");
		AppendSkill(buf, &r->model, &r->naive);
		appendStringInfoChar(buf, '}');
	}
	appendStringInfoChar(buf, '}');
	if (n > 0)
		appendStringInfo(buf, ", \"skill_scaled\": %s", float8out_internal(1 - scaled / n));
	else
		appendStringInfoString(buf, ", \"skill_scaled\": null");
}

/*
 * {"names": [...], "rows": [[...], ...], "abs_residuals": [...],
 *  "n_residuals": n, "scaled_residuals": [...], "n_scaled": m,
 *  "interval": {"scale": "ewma", "lambda": λ, "seed_returns": s}}:
 * reference_rows training rows (of the primary head) evenly spaced in time;
 * up to INTERVAL_KEPT order statistics of the primary head's out-of-sample
 * absolute log errors (all of them when there are fewer), for the
 * fixed-width interval; the same of those errors over σ_t sqrt(horizon), for
 * the interval that follows volatility (interval.c).  With several heads,
 * "heads": [{"horizon": h, "abs_residuals": ..., "n_residuals": ...,
 * "scaled_residuals": ..., "n_scaled": ...}, ...] for each other head.
 */
static char *
BuildReference(const TrainRequest *req, const HeadResult *heads, int primary)
{
	const TrainSet *set = &heads[primary].set;
	StringInfoData	buf;
	int64			rows = Min((int64) req->reference_rows, set->n);

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"names\": [");
	for (int j = 0; j < set->p; j++)
	{
		appendStringInfoString(&buf, j > 0 ? ", " : "");
		escape_json(&buf, req->spec->defs[j].name);
	}
	appendStringInfoString(&buf, "], \"rows\": [");
	for (int64 k = 0; k < rows; k++)
	{
		int64 i = ReferenceRowIndex(k, rows, set->n);

		appendStringInfoString(&buf, k > 0 ? ", [" : "[");
		for (int j = 0; j < set->p; j++)
			appendStringInfo(&buf, "%s%s", j > 0 ? ", " : "",
							 float8out_internal(set->x[i * set->p + j]));
		appendStringInfoChar(&buf, ']');
	}
	appendStringInfoString(&buf, "], ");
	AppendResiduals(&buf, &heads[primary]);
	if (heads[primary].nscaled > 0)
		appendStringInfo(&buf, ", \"interval\": {\"scale\": \"ewma\", \"lambda\": %s, \"seed_returns\": %d}",
						 float8out_internal(TrainVolatilityScale.lambda), TrainVolatilityScale.seed);
	if (req->nhorizons > 1)
	{
		bool first = true;

		appendStringInfoString(&buf, ", \"heads\": [");
		for (int h = 0; h < req->nhorizons; h++)
		{
			if (h == primary)
				continue;
			appendStringInfo(&buf, "%s{\"horizon\": %d, ", first ? "" : ", ", heads[h].horizon);
			AppendResiduals(&buf, &heads[h]);
			appendStringInfoChar(&buf, '}');
			first = false;
		}
		appendStringInfoChar(&buf, ']');
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* "abs_residuals": [...], "n_residuals": n[, "scaled_residuals": [...], "n_scaled": m] (sorts them) */
static void
AppendResiduals(StringInfo buf, const HeadResult *head)
{
	appendStringInfoString(buf, "\"abs_residuals\": ");
	IntervalAppendOrderStatistics(buf, head->abs_res, head->nres);
	appendStringInfo(buf, ", \"n_residuals\": " INT64_FORMAT, head->nres);
	if (head->nscaled > 0)
	{
		appendStringInfoString(buf, ", \"scaled_residuals\": ");
		IntervalAppendOrderStatistics(buf, head->scaled_res, head->nscaled);
		appendStringInfo(buf, ", \"n_scaled\": " INT64_FORMAT, head->nscaled);
	}
}

/*
 * , "heads": {"<h>": {mae, ..., skill, permutation_importance, n_test,
 * n_train, test_days}, ...}: every head's pooled out-of-sample metrics and
 * the permutation importance of its last fold's model at its horizon, the
 * primary's too
 */
static void
AppendHeadMetrics(StringInfo buf, const TrainRequest *req, const HeadResult *heads, int primary)
{
	appendStringInfoString(buf, ", \"heads\": {");
	for (int h = 0; h < req->nhorizons; h++)
	{
		const HeadResult *r = &heads[h];

		appendStringInfo(buf, "%s\"%d\": {", h > 0 ? ", " : "", r->horizon);
		AppendStats(buf, "", &r->pooled.model);
		appendStringInfoString(buf, ", ");
		AppendStats(buf, "naive_", &r->pooled.naive);
		appendStringInfoString(buf, ", ");
		AppendSkill(buf, &r->pooled.model, &r->pooled.naive);
		AppendProbScores(buf, &r->pooled);
		AppendPermutation(buf, req, r);
		appendStringInfo(buf, ", \"n_test\": " INT64_FORMAT ", \"n_train\": " INT64_FORMAT ", \"test_days\": %d, \"primary\": %s}", r->pooled.model.n, r->set.n,
						 r->test_days, h == primary ? "true" : "false");
	}
	appendStringInfoChar(buf, '}');
}

/* run_metrics of one head: keys prefixed by prefix ("" for the version's own) */
static void
LogRunMetrics(int64 run_id, const char *prefix, const FoldResult *folds, int nfolds,
			  const FoldResult *pooled)
{
	static const char *const keys[] = {
		"mae", "rmse", "mape", "directional_accuracy",
		"naive_mae", "naive_rmse", "naive_mape", "naive_directional_accuracy",
		"skill", "n_train", "n_test",
		/* classifiers only */
		"log_loss", "brier", "auc", "accuracy", "base_rate",
		"base_log_loss", "base_brier", "base_auc", "base_accuracy", "log_loss_skill"};
	int	   nk = pooled->has_prob ? lengthof(keys) : 11;
	int	   total = nk * (nfolds + 1);
	Datum *kd = palloc(sizeof(Datum) * total);
	Datum *sd = palloc(sizeof(Datum) * total);
	Datum *vd = palloc(sizeof(Datum) * total);
	bool  *vn = palloc0(sizeof(bool) * total);
	int	   dims[1] = {total};
	int	   lbs[1] = {1};
	Datum  args[4];
	int	   t = 0;

	for (int f = 0; f <= nfolds; f++)
	{
		const FoldResult *r = f == 0 ? pooled : &folds[f - 1];
		double			  n = (double) Max(r->model.n, 1);
		double			  nm = StatsMae(&r->naive);
		double			  v[lengthof(keys)] = {
					   r->model.abs_sum / n, sqrt(r->model.sq_sum / n), r->model.ape_sum / n, StatsDirection(&r->model),
					   r->naive.abs_sum / n, sqrt(r->naive.sq_sum / n), r->naive.ape_sum / n, StatsDirection(&r->naive),
			   nm > 0 ? 1 - StatsMae(&r->model) / nm : NAN,
					   (double) r->n_train, (double) r->model.n,
					   r->prob.log_loss, r->prob.brier, r->prob.auc, r->prob.accuracy, r->base_rate,
					   r->base.log_loss, r->base.brier, r->base.auc, r->base.accuracy,
			   r->base.log_loss > 0 ? 1 - r->prob.log_loss / r->base.log_loss : NAN};

		for (int k = 0; k < nk; k++, t++)
		{
			kd[t] = CStringGetTextDatum(psprintf("%s%s", prefix, keys[k]));
			sd[t] = Int32GetDatum(f);
			vd[t] = Float8GetDatum(v[k]);
			vn[t] = isnan(v[k]);
		}
	}
	args[0] = Int64GetDatum(run_id);
	args[1] = PointerGetDatum(construct_array(kd, total, TEXTOID, -1, false, TYPALIGN_INT));
	args[2] = PointerGetDatum(construct_array(sd, total, INT4OID, 4, true, TYPALIGN_INT));
	args[3] = PointerGetDatum(construct_md_array(vd, vn, 1, dims, lbs, FLOAT8OID, 8,
												 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	if (SPI_execute_with_args("INSERT INTO stockml.run_metrics (run_id, key, step, value)"
							  " SELECT $1, k, s, v FROM unnest($2::text[], $3::int[], $4::float8[]) AS t(k, s, v)",
							  4, (Oid[]) {INT8OID, TEXTARRAYOID, INT4ARRAYOID, FLOAT8ARRAYOID},
							  args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write run_metrics");
}

/*
 * The order StoreValidationRows inserts the rows in: symbol by symbol, each
 * symbol's rows by day.  Each symbol's rows are then one run of the primary
 * key (model_id, symbol, day), so every index insertion lands next to the
 * previous one: 2 M rows in the (day, symbol) order of the folds took 30 to 60
 * s (each insertion a random leaf of a large index), symbol by symbol 2.5 s.
 * A stable counting sort of the positions by symbol: a symbol's rows are in
 * day order already, and the rows of one day keep the order of the symbols
 * they had, so a scan of one day's rows sees them as before.
 */
static int64 *
ValidationRowOrder(const TrainRequest *req, const TrainSet *set, const int64 *rows, int64 n)
{
	int	   ns = req->nsymbols;
	int64 *start = palloc0(sizeof(int64) * (ns + 1));
	int64 *order = MemoryContextAllocHuge(CurrentMemoryContext, mul_size(Max(n, 1), sizeof(int64)));

	for (int64 k = 0; k < n; k++)
		start[set->sym[rows[k]] + 1]++;
	for (int s = 0; s < ns; s++)
		start[s + 1] += start[s];
	for (int64 k = 0; k < n; k++)
		order[start[set->sym[rows[k]]]++] = k;
	pfree(start);
	return order;
}

/*
 * Keep every out-of-sample prediction of the folds in
 * stockml.validation_predictions, so the deploy gate and compare() score two
 * versions on the same rows.
 */
static void
StoreValidationRows(const TrainRequest *req, const TrainSet *set, int64 model_id, int32 version,
					const HeadResult *head)
{
	const int64	 *rows = head->vp_row;
	const int	 *folds = head->vp_fold;
	const double *yhat = head->vp_yhat;
	int64		  n = head->nres;
	Datum		 *names = palloc(sizeof(Datum) * req->nsymbols);
	Datum		 *sd = MemoryContextAllocHuge(CurrentMemoryContext, mul_size(Max(n, 1), sizeof(Datum)));
	Datum		 *dd = MemoryContextAllocHuge(CurrentMemoryContext, mul_size(Max(n, 1), sizeof(Datum)));
	Datum		 *td = MemoryContextAllocHuge(CurrentMemoryContext, mul_size(Max(n, 1), sizeof(Datum)));
	Datum		 *fd = MemoryContextAllocHuge(CurrentMemoryContext, mul_size(Max(n, 1), sizeof(Datum)));
	Datum		 *cd = MemoryContextAllocHuge(CurrentMemoryContext, mul_size(Max(n, 1), sizeof(Datum)));
	Datum		 *yd = MemoryContextAllocHuge(CurrentMemoryContext, mul_size(Max(n, 1), sizeof(Datum)));
	Datum		 *hd = MemoryContextAllocHuge(CurrentMemoryContext, mul_size(Max(n, 1), sizeof(Datum)));
	Datum		  args[12];
	char		  nulls[12];
	int64		 *order;

	if (n > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many validation rows to keep: " INT64_FORMAT, n),
				 errhint("Train fewer symbols or a shorter period at once.")));
	order = ValidationRowOrder(req, set, rows, n);
	for (int s = 0; s < req->nsymbols; s++)
		names[s] = CStringGetTextDatum(req->symbols[s]);
	for (int64 o = 0; o < n; o++)
	{
		int64 k = order[o];
		int64 i = rows[k];

		sd[o] = names[set->sym[i]];
		dd[o] = DateADTGetDatum(set->day[i]);
		td[o] = DateADTGetDatum(set->target_day[i]);
		fd[o] = Int32GetDatum(folds[k]);
		cd[o] = Float8GetDatum(set->close[i]);
		yd[o] = Float8GetDatum(set->y[i]);
		hd[o] = Float8GetDatum(yhat[k]);
	}
	args[0] = Int64GetDatum(model_id);
	args[1] = CStringGetTextDatum(req->model_name);
	args[2] = Int32GetDatum(version);
	args[3] = PointerGetDatum(construct_array(fd, (int) n, INT4OID, 4, true, TYPALIGN_INT));
	args[4] = PointerGetDatum(construct_array(sd, (int) n, TEXTOID, -1, false, TYPALIGN_INT));
	args[5] = PointerGetDatum(construct_array(dd, (int) n, DATEOID, 4, true, TYPALIGN_INT));
	args[6] = PointerGetDatum(construct_array(td, (int) n, DATEOID, 4, true, TYPALIGN_INT));
	args[7] = PointerGetDatum(construct_array(cd, (int) n, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[8] = PointerGetDatum(construct_array(yd, (int) n, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[9] = PointerGetDatum(construct_array(hd, (int) n, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	/* a classifier's p_up and base rate; NULL for a regressor */
	memset(nulls, ' ', sizeof(nulls));
	nulls[10] = nulls[11] = head->vp_p ? ' ' : 'n';
	args[10] = args[11] = (Datum) 0;
	if (head->vp_p)
	{
		for (int64 o = 0; o < n; o++)
		{
			cd[o] = Float8GetDatum(head->vp_p[order[o]]);
			yd[o] = Float8GetDatum(head->vp_base[order[o]]);
		}
		args[10] = PointerGetDatum(construct_array(cd, (int) n, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		args[11] = PointerGetDatum(construct_array(yd, (int) n, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	}
	if (SPI_execute_with_args("INSERT INTO stockml.validation_predictions (model_id, model_name, model_version,"
							  " fold, symbol, day, target_day, close, y, yhat, p_up, base_p_up)"
							  " SELECT $1, $2, $3, t.* FROM unnest($4::int[], $5::text[], $6::date[], $7::date[],"
							  " $8::float8[], $9::float8[], $10::float8[], $11::float8[], $12::float8[]) AS t",
							  12, (Oid[]) {INT8OID, TEXTOID, INT4OID, INT4ARRAYOID, TEXTARRAYOID, DATEARRAYOID, DATEARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID},
							  args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write the validation predictions");
	pfree(order);
}

/* The empirical null of the drift tests, from the training rows (drift_null.c) */
static void
StoreDriftNull(const TrainRequest *req, const TrainSet *set, int64 model_id)
{
	DriftNullInput in;
	const char	 **names = palloc(sizeof(char *) * Max(set->p, 1));

	for (int j = 0; j < set->p; j++)
		names[j] = req->spec->defs[j].name;
	in.x = set->x;
	in.n = set->n;
	in.p = set->p;
	in.names = names;
	in.ndays = set->ndays;
	in.day_start = set->day_start;
	in.days = set->days;
	in.reference_rows = req->reference_rows;
	DriftNullStore(model_id, req->model_name, &in);
	pfree(names);
}

/*
 * Whether the catalog has the deploy gate (0.2.0): the library also serves a
 * database still at 0.1.0 until ALTER EXTENSION stockml UPDATE.
 */
static bool
GateInstalled(void)
{
	bool isnull;

	if (SPI_execute("SELECT pg_catalog.to_regprocedure('stockml._deploy_gate(text, integer, boolean, text)') IS NOT NULL",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look for the deploy gate");
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * The description and tags given in params, through stockml.set_version_info
 * (sql/install/56_version_info.sql: it checks and normalises the tags).  A database
 * still at 0.1.0 has no such columns: an ERROR says to update it.
 */
static void
StoreVersionInfo(const TrainRequest *req, int32 version)
{
	Datum args[4];
	char  nulls[4] = {' ', ' ', ' ', ' '};
	bool  isnull;

	if (SPI_execute("SELECT pg_catalog.to_regprocedure('stockml.set_version_info(text, integer, text, text[])') IS NOT NULL",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look for set_version_info");
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("parameters \"description\" and \"tags\" need stockml 0.2.0 in this database"),
				 errhint("Run ALTER EXTENSION stockml UPDATE, or train without them.")));
	args[0] = CStringGetTextDatum(req->model_name);
	args[1] = Int32GetDatum(version);
	args[2] = req->description ? CStringGetTextDatum(req->description) : (Datum) 0;
	nulls[2] = req->description ? ' ' : 'n';
	args[3] = req->tags_json ? CStringGetTextDatum(req->tags_json) : (Datum) 0;
	nulls[3] = req->tags_json ? ' ' : 'n';
	if (SPI_execute_with_args("SELECT stockml.set_version_info($1, $2, $3,"
							  " CASE WHEN $4 IS NOT NULL THEN ARRAY(SELECT pg_catalog.jsonb_array_elements_text($4::pg_catalog.jsonb)) END)",
							  4, (Oid[]) {TEXTOID, INT4OID, TEXTOID, TEXTOID}, args, nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not store the version's description and tags");
}

/*
 * The deploy gate (stockml._deploy_gate, sql/install/53_gate.sql, the owner's
 * only; we run as the owner here) decides and moves production in the
 * caller's name; its decision and reason go into the version's metrics under
 * "gate".  Returns whether it deployed.
 */
static bool
DeployGate(const TrainRequest *req, int64 model_id, int32 version, char **metrics)
{
	Datum args[4];
	bool  isnull;
	bool  deployed;
	Datum gate;

	args[0] = CStringGetTextDatum(req->model_name);
	args[1] = Int32GetDatum(version);
	args[2] = BoolGetDatum(req->auto_deploy);
	args[3] = CStringGetTextDatum(req->caller);
	if (SPI_execute_with_args("SELECT deployed, gate FROM stockml._deploy_gate($1, $2, $3, $4)",
							  4, (Oid[]) {TEXTOID, INT4OID, BOOLOID, TEXTOID}, args, NULL, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not run the deploy gate");
	deployed = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	gate = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	gate = PointerGetDatum(DatumGetJsonbPCopy(gate));

	args[0] = Int64GetDatum(model_id);
	args[1] = gate;
	if (SPI_execute_with_args("UPDATE stockml.models SET metrics = metrics || jsonb_build_object('gate', $2::jsonb)"
							  " WHERE id = $1 RETURNING metrics::text",
							  2, (Oid[]) {INT8OID, JSONBOID}, args, NULL, false, 1) != SPI_OK_UPDATE_RETURNING ||
		SPI_processed != 1)
		elog(ERROR, "could not record the deploy decision");
	*metrics = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	return deployed;
}

/*
 * The training window of the fold whose test block starts on day ts: the
 * longest prefix whose targets all end before the test block (*known and
 * *known_max carry over from the fold before).
 */
static int64
KnownPrefix(const TrainSet *set, int ts, int gap, int64 *known, DateADT *known_max)
{
	int64 train_rows = set->day_start[ts - gap];

	while (*known < train_rows && Max(*known_max, set->target_day[*known]) < set->days[ts])
	{
		*known_max = Max(*known_max, set->target_day[*known]);
		(*known)++;
	}
	return *known;
}

/* Each fold's training rows (WalkForward says when one is too few), then every row */
static int64 *
FoldRows(const TrainRequest *req, const HeadResult *head)
{
	int64  *rows = palloc(sizeof(int64) * (req->folds + 1));
	int64	known = 0;
	DateADT known_max = DATEVAL_NOBEGIN;

	for (int k = 0; k < req->folds; k++)
		rows[k] = KnownPrefix(&head->set, head->set.ndays - (req->folds - k) * head->test_days,
							  head->horizon, &known, &known_max);
	rows[req->folds] = head->set.n;
	return rows;
}

/*
 * On Citus: R of the rows each window adds to the one before it, segment k
 * being rows [fold_rows[k-1], fold_rows[k]) of all symbols (fold_rows[folds]
 * = every row), as (folds + 1) c x c matrices; *segment_n their row counts.
 * Each symbol's share of a segment is a run of its own rows (the rows are
 * ordered by day), so its worker returns the R factors of those runs
 * (_train_piece_qr) and they are merged here, symbol by symbol.
 */
static double *
PieceSegments(const TrainRequest *req, int horizon, TrainSet *set, const int64 *fold_rows,
			  int64 **segment_n)
{
	int		folds = req->folds;
	int		nseg = folds + 1;
	int		c = set->p + 2;
	int	   *count = palloc0(sizeof(int) * req->nsymbols);
	int	   *cuts = palloc(mul_size(mul_size(req->nsymbols, nseg), sizeof(int)));
	double *out = palloc0(mul_size(mul_size(nseg, c), c * sizeof(double)));
	int64  *out_n = palloc0(sizeof(int64) * nseg);
	double *r = palloc(mul_size(mul_size(nseg, c), c * sizeof(double)));
	int64  *rn = palloc(sizeof(int64) * nseg);
	RawQr	merge;
	int		k = 0;

	/* cuts[s * nseg + k]: the rows of symbol s among the first fold_rows[k] */
	for (int64 i = 0; i <= set->n; i++)
	{
		while (k < nseg && fold_rows[k] == i)
		{
			for (int s = 0; s < req->nsymbols; s++)
				cuts[s * nseg + k] = count[s];
			k++;
		}
		if (i < set->n)
			count[set->sym[i]]++;
	}
	Assert(k == nseg);
	LinalgQrInit(&merge, set->p);
	for (int s = 0; s < req->nsymbols; s++)
	{
		CHECK_FOR_INTERRUPTS();
		if (count[s] == 0)
			continue;
		TrainPieceQr(req->symbols[s], req->spec_jsonb, set->p, horizon,
					 req->has_train_end ? &req->train_end : NULL, set->sym_hash[s],
					 cuts + s * nseg, nseg, r, rn, &set->bytes);
		for (int j = 0; j < nseg; j++)
		{
			double *acc = out + (int64) j * c * c;

			if (rn[j] != cuts[s * nseg + j] - (j > 0 ? cuts[s * nseg + j - 1] : 0))
				elog(ERROR, "the QR piece of \"%s\" holds " INT64_FORMAT " rows, not %d",
					 req->symbols[s], rn[j], cuts[s * nseg + j] - (j > 0 ? cuts[s * nseg + j - 1] : 0));
			memcpy(merge.r, acc, sizeof(double) * c * c);
			merge.n = out_n[j];
			merge.have_r = out_n[j] > 0;
			LinalgQrMerge(&merge, r + (int64) j * c * c, rn[j]);
			memcpy(acc, merge.r, sizeof(double) * c * c);
			out_n[j] = merge.n;
		}
	}
	LinalgQrFree(&merge);
	pfree(rn);
	pfree(r);
	pfree(cuts);
	pfree(count);
	*segment_n = out_n;
	return out;
}

/*
 * One head: its rows (a target horizon bars ahead), walk-forward folds with
 * gap = horizon, and the refit on every row.  Job progress moves from
 * progress_from over progress_span.
 */
static void
TrainHead(const TrainRequest *req, int horizon, HeadResult *head, int permutation_repeats,
		  double progress_from, double progress_span)
{
	LoadHead(req, horizon, head);
	WalkForward(req, req->values, head, progress_from, progress_span);
	Refit(req, req->values, head, permutation_repeats);
}

/* A head's rows, checked to be enough for the folds */
static void
LoadHead(const TrainRequest *req, int horizon, HeadResult *head)
{
	TrainSet  *set = &head->set;
	int		   p = req->spec->nfeatures;
	int		   folds = req->folds;
	int		   gap = horizon;
	int		   min_days = MinimumDays(folds, gap, p);
	instr_time phase;

	INSTR_TIME_SET_CURRENT(phase);
	memset(head, 0, sizeof(HeadResult));
	head->horizon = horizon;
	LoadTrainSet(req, horizon, set);
	LogPhase("read the features", &phase);
	if (set->ndays < min_days)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("too little history to train \"%s\": %d usable days, %d needed",
						req->model_name, set->ndays, min_days),
				 errdetail("A usable day has every feature (the spec needs %d bars of warm-up) and a target %d bar%s later%s; "
						   "%d folds of at least %d test days, after a first training window of %d days and a gap of %d, need %d.",
						   req->spec->warmup, horizon, horizon == 1 ? "" : "s",
						   req->has_train_end ? " on or before train_end" : "",
						   folds, MIN_TEST_DAYS, p + 2, gap, min_days),
				 errhint("Load more history, use fewer folds (params => '{\"folds\": 3}'), or a later train_end.")));

	head->test_days = set->ndays / (folds + 1);

	/*
	 * On Citus the linear algorithms' fits come from the R factors of each
	 * symbol's share of every window, computed on the symbol's worker; they
	 * do not depend on the parameters, so a search's trials share them
	 */
	if (set->pieces && req->alg->fit_summary != NULL)
		head->segments = PieceSegments(req, horizon, set, FoldRows(req, head), &head->segment_n);
	if (set->pieces)
		ereport(DEBUG1,
				(errmsg("stockml train: %d symbols read on their nodes: " INT64_FORMAT " bytes of rows and " INT64_FORMAT " bytes of QR factors came back (" INT64_FORMAT " and " INT64_FORMAT " a symbol)",
						set->bytes.symbols, set->bytes.rows, set->bytes.qr,
						set->bytes.rows / Max(set->bytes.symbols, 1), set->bytes.qr / Max(set->bytes.symbols, 1))));
}

/*
 * Walk-forward folds of a loaded head with the algorithm's parameters
 * values: every out-of-sample prediction scored (head->loss among them).
 * What the refit continues from stays in head: a linear algorithm's QR of
 * the rows so far, the last fold's model and test rows.  A search calls it
 * once per trial on the same rows and Refit only for the winner, so the
 * winner goes through exactly what a train() of its values alone does.
 */
static void
WalkForward(const TrainRequest *req, const double *values, HeadResult *head,
			double progress_from, double progress_span)
{
	TrainSet	  *set = &head->set;
	int			   p = req->spec->nfeatures;
	int			   folds = req->folds;
	int			   horizon = head->horizon;
	int			   gap = horizon;
	int			   test_days = head->test_days;
	double		  *work = palloc(sizeof(double) * p);
	Model		  *model;
	ModelTrainData data;
	RawQr		   qr;
	const bool	   linear = req->alg->fit_summary != NULL;
	const bool	   classifier = req->alg->probability != NULL;
	int64		  *fold_start; /* each fold's first validation row */
	int64		   ups = 0;	   /* up moves among the first counted training rows */
	int64		   counted = 0;
	int64		   known = 0;					/* leading rows whose targets end before a test block */
	DateADT		   known_max = DATEVAL_NOBEGIN; /* their latest target day */
	double		   horizon_scale = sqrt((double) horizon);
	double		   loss_sum = 0;
	instr_time	   phase;

	INSTR_TIME_SET_CURRENT(phase);
	memset(&head->pooled, 0, sizeof(FoldResult));
	head->nres = 0;
	head->nscaled = 0;
	head->model = NULL;
	head->perm_repeats = 0;
	head->fold = palloc0(sizeof(FoldResult) * folds);
	head->abs_res = MemoryContextAllocHuge(CurrentMemoryContext,
										   mul_size(Max(set->n, 1), sizeof(double)));
	head->scaled_res = MemoryContextAllocHuge(CurrentMemoryContext,
											  mul_size(Max(set->n, 1), sizeof(double)));
	head->vp_row = MemoryContextAllocHuge(CurrentMemoryContext, mul_size(Max(set->n, 1), sizeof(int64)));
	head->vp_fold = MemoryContextAllocHuge(CurrentMemoryContext, mul_size(Max(set->n, 1), sizeof(int)));
	head->vp_yhat = MemoryContextAllocHuge(CurrentMemoryContext, mul_size(Max(set->n, 1), sizeof(double)));
	if (classifier)
	{
		head->vp_p = MemoryContextAllocHuge(CurrentMemoryContext, mul_size(Max(set->n, 1), sizeof(double)));
		head->vp_base = MemoryContextAllocHuge(CurrentMemoryContext, mul_size(Max(set->n, 1), sizeof(double)));
	}
	fold_start = palloc(sizeof(int64) * (folds + 1));
	head->per_symbol = palloc0(sizeof(FoldResult) * req->nsymbols);
	data.x = set->x;
	data.y = set->y;
	data.p = p;
	/* linear algorithms: one streaming QR, fitted at each fold's end */
	if (linear)
		LinalgQrInit(&qr, p);
	for (int k = 0; k < folds; k++)
	{
		int			ts = set->ndays - (folds - k) * test_days;
		int64		train_rows = KnownPrefix(set, ts, gap, &known, &known_max);
		int64		test_from = set->day_start[ts];
		int64		test_to = set->day_start[ts + test_days];
		FoldResult *fold = &head->fold[k];

		CHECK_FOR_INTERRUPTS();
		if (train_rows < p + 2)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("too little history to train \"%s\": fold %d has " INT64_FORMAT " training rows whose targets end before its test block, %d needed",
							req->model_name, k + 1, train_rows, p + 2),
					 errdetail("The test block starts on %s; a symbol without bars for a while before it has targets (%d of its own bars ahead) inside the block.",
							   DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(set->days[ts]))),
							   horizon),
					 errhint("Train the symbols whose bars have gaps separately, or use fewer folds.")));
		model = ModelCreate(req->alg, p, values);
		data.n = train_rows;
		if (linear)
		{
			if (head->segments)
				LinalgQrMerge(&qr, head->segments + (int64) k * qr.c * qr.c, head->segment_n[k]);
			else
				LinalgQrAdd(&qr, &data, qr.n, train_rows);
			if (qr.n != train_rows)
				elog(ERROR, "the QR of fold %d holds " INT64_FORMAT " rows, not " INT64_FORMAT,
					 k + 1, qr.n, train_rows);
			ModelFitFromQr(model, &qr);
		}
		else
			ModelFit(model, &data);
		fold->n_train = train_rows;
		while (counted < train_rows)
			ups += set->y[counted++] > 0;
		fold_start[k] = head->nres;
		for (int64 i = test_from; i < test_to; i++)
		{
			double yhat = ModelPredict(model, set->x + i * p, work);
			double close = set->close[i];
			double predicted = close * exp(yhat);
			double actual = close * exp(set->y[i]);

			if (classifier)
			{
				head->vp_p[head->nres] = ModelProbabilityUp(model, set->x + i * p, work);
				head->vp_base[head->nres] = (double) ups / train_rows;
			}

			StatsAdd(&fold->model, predicted, actual, yhat, set->y[i]);
			StatsAdd(&fold->naive, close, actual, 0, set->y[i]);
			StatsAdd(&head->pooled.model, predicted, actual, yhat, set->y[i]);
			StatsAdd(&head->pooled.naive, close, actual, 0, set->y[i]);
			StatsAdd(&head->per_symbol[set->sym[i]].model, predicted, actual, yhat, set->y[i]);
			StatsAdd(&head->per_symbol[set->sym[i]].naive, close, actual, 0, set->y[i]);
			loss_sum += OosLoss(req->alg, yhat, classifier ? head->vp_p[head->nres] : NAN, set->y[i]);
			head->vp_row[head->nres] = i;
			head->vp_fold[head->nres] = k + 1;
			head->vp_yhat[head->nres] = yhat;
			head->abs_res[head->nres++] = fabs(set->y[i] - yhat);
			if (set->sigma[i] > 0 && isfinite(set->sigma[i]))
				head->scaled_res[head->nscaled++] = fabs(set->y[i] - yhat) / (set->sigma[i] * horizon_scale);
		}
		head->last_model = model;
		head->last_from = test_from;
		head->last_to = test_to;
		StockmlReportJobProgress(progress_from + progress_span * (k + 1) / (folds + 1));
	}
	head->pooled.n_train = set->n;
	fold_start[folds] = head->nres;
	if (classifier)
	{
		for (int k = 0; k < folds; k++)
			ScoreProbabilities(head, fold_start[k], fold_start[k + 1], &head->fold[k]);
		ScoreProbabilities(head, 0, head->nres, &head->pooled);
	}
	pfree(fold_start);
	head->loss = head->nres > 0 ? loss_sum / head->nres : NAN;
	LogPhase("walk-forward folds", &phase);
	head->has_qr = linear;
	if (linear)
		head->qr = qr;
	pfree(work);
}

/*
 * After the folds: the permutation importance of the last fold's model on
 * its test rows (permutation_repeats > 0), and the model itself, refitted
 * on every row (a linear algorithm's QR taking in the rows after the last
 * fold's training window)
 */
static void
Refit(const TrainRequest *req, const double *values, HeadResult *head, int permutation_repeats)
{
	TrainSet	  *set = &head->set;
	int			   p = set->p;
	Model		  *model;
	ModelTrainData data;
	instr_time	   phase;

	INSTR_TIME_SET_CURRENT(phase);
	head->perm_repeats = 0;
	if (permutation_repeats > 0)
	{
		int64		  fold_rows = head->last_to - head->last_from;
		const double *x = set->x + head->last_from * p;
		const double *y = set->y + head->last_from;

		head->perm_repeats = permutation_repeats;
		head->perm_fold_rows = fold_rows;
		head->perm_rows = req->permutation_rows > 0 ? Min(fold_rows, (int64) req->permutation_rows) : fold_rows;
		if (head->perm_rows < fold_rows)
		{
			/* evenly spaced rows of the fold, in time order (the reference sample's rule) */
			double *sx = MemoryContextAllocHuge(CurrentMemoryContext, mul_size(mul_size(head->perm_rows, p), sizeof(double)));
			double *sy = palloc(sizeof(double) * head->perm_rows);

			for (int64 k = 0; k < head->perm_rows; k++)
			{
				int64 i = ReferenceRowIndex(k, head->perm_rows, fold_rows);

				memcpy(sx + k * p, x + i * p, sizeof(double) * p);
				sy[k] = y[i];
			}
			x = sx;
			y = sy;
		}
		head->perm_mean = palloc(sizeof(double) * p);
		head->perm_std = palloc(sizeof(double) * p);
		PermutationImportance(head->last_model, x, y, head->perm_rows, permutation_repeats, (uint64) req->seed,
							  head->perm_mean, head->perm_std, &head->perm_baseline);
		LogPhase("permutation importance", &phase);
	}
	data.x = set->x;
	data.y = set->y;
	data.p = p;
	data.n = set->n;
	model = ModelCreate(req->alg, p, values);
	if (head->has_qr)
	{
		if (head->segments)
			LinalgQrMerge(&head->qr, head->segments + (int64) req->folds * head->qr.c * head->qr.c,
						  head->segment_n[req->folds]);
		else
			LinalgQrAdd(&head->qr, &data, head->qr.n, set->n);
		if (head->qr.n != set->n)
			elog(ERROR, "the QR of every row holds " INT64_FORMAT " rows, not " INT64_FORMAT, head->qr.n, set->n);
		ModelFitFromQr(model, &head->qr);
		LinalgQrFree(&head->qr);
		head->has_qr = false;
	}
	else
		ModelFit(model, &data);
	head->model = model;
	LogPhase("refit", &phase);
}

/*
 * A search (search.c) on the primary head: its rows loaded once, every trial
 * scored by the same walk-forward folds and recorded as a run of its own
 * (parent_run_id = this train()'s run), the lowest loss kept (the first of
 * equals) with what its folds left (the QR, the last fold's model); then the
 * winner's refit, so that the version is what a train() of its values alone
 * makes, to the bit.
 */
static void
SearchTrials(TrainRequest *req, int64 run_id, int horizon, HeadResult *head,
			 double progress_from, double progress_span)
{
	const SearchPlan *plan = req->search;
	double			  span = progress_span / plan->ntrials;
	MemoryContext	  trial_cxt;
	MemoryContext	  best_cxt = NULL; /* the best trial's results (freed with the caller's context) */
	HeadResult		  loaded;
	bool			  isnull;

	if (SPI_execute("SELECT EXISTS (SELECT FROM pg_catalog.pg_attribute WHERE attrelid = 'stockml.runs'::pg_catalog.regclass"
					" AND attname = 'parent_run_id' AND NOT attisdropped)",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look for runs.parent_run_id");
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a hyperparameter search needs stockml 0.2.0 in this database"),
				 errhint("Run ALTER EXTENSION stockml UPDATE, or give each parameter one value.")));
	LoadHead(req, horizon, head);
	loaded = *head;
	req->trial_runs = palloc(sizeof(int64) * plan->ntrials);
	req->trial_loss = palloc(sizeof(double) * plan->ntrials);
	req->best_trial = -1;
	/* each trial's results in a context of its own; the best one's is kept */
	trial_cxt = AllocSetContextCreate(CurrentMemoryContext, "stockml search trial", ALLOCSET_DEFAULT_SIZES);
	for (int t = 0; t < plan->ntrials; t++)
	{
		TimestampTz			  started_at = GetCurrentTimestamp();
		MemoryContext		  old = MemoryContextSwitchTo(trial_cxt);
		ErrorContextCallback  cb;
		SearchTrialContextArg arg = {t + 1, plan->ntrials, plan->trials[t].text};
		HeadResult			  trial = loaded; /* the rows, shared */
		double				  best;

		cb.callback = SearchTrialErrorContext;
		cb.arg = &arg;
		cb.previous = error_context_stack;
		error_context_stack = &cb;
		WalkForward(req, plan->trials[t].values, &trial, progress_from + span * t, span);
		error_context_stack = cb.previous;
		req->trial_loss[t] = trial.loss;
		req->trial_runs[t] = RecordTrial(req, run_id, t, &trial, started_at);
		MemoryContextSwitchTo(old);
		best = req->best_trial >= 0 ? req->trial_loss[req->best_trial] : NAN;
		if (req->best_trial < 0 || req->trial_loss[t] < best || (isnan(best) && !isnan(req->trial_loss[t])))
		{
			req->best_trial = t;
			*head = trial;
			if (best_cxt != NULL)
				MemoryContextDelete(best_cxt);
			best_cxt = trial_cxt;
			trial_cxt = AllocSetContextCreate(CurrentMemoryContext, "stockml search trial",
											  ALLOCSET_DEFAULT_SIZES);
		}
		else
			MemoryContextReset(trial_cxt);
	}
	MemoryContextDelete(trial_cxt);
	/* the winner: its refit continues from its folds, as in a train() of its values alone */
	memcpy(req->values, plan->trials[req->best_trial].values, sizeof(req->values));
	req->params_full = FullParams(req, req->values);
	Refit(req, req->values, head, req->permutation_repeats);
}

/* A trial's run: its params, the search's run as parent, its fold metrics and loss */
static int64
RecordTrial(const TrainRequest *req, int64 run_id, int trial, const HeadResult *head,
			TimestampTz started_at)
{
	StockmlOwnerSwitch sw;
	Datum			   args[4];
	bool			   isnull;
	int64			   id;

	StockmlBecomeOwner(&sw);
	args[0] = Int64GetDatum(run_id);
	args[1] = CStringGetTextDatum(req->search->trials[trial].text);
	args[2] = TimestampTzGetDatum(started_at);
	/* the time as a parameter: Citus refuses volatile functions in writes of a reference table */
	args[3] = TimestampTzGetDatum(GetCurrentTimestamp());
	if (SPI_execute_with_args("INSERT INTO stockml.runs (experiment_id, parent_run_id, model_name, algorithm, symbols,"
							  " horizon, feature_set, train_end, params, status, started_at, finished_at)"
							  " SELECT r.experiment_id, r.id, r.model_name, r.algorithm, r.symbols, r.horizon,"
							  " r.feature_set, r.train_end, $2::jsonb, 'finished', $3, $4"
							  " FROM stockml.runs r WHERE r.id = $1 RETURNING id",
							  4, (Oid[]) {INT8OID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID}, args, NULL, false, 0) != SPI_OK_INSERT_RETURNING ||
		SPI_processed != 1)
		elog(ERROR, "could not record search trial %d", trial + 1);
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	LogRunMetrics(id, "", head->fold, req->folds, &head->pooled);
	LogRunValue(id, "loss", head->loss);
	StockmlRestoreUser(&sw);
	return id;
}

/* One run_metrics row at step 0 (NaN: NULL) */
static void
LogRunValue(int64 run_id, const char *key, double value)
{
	Datum args[3];
	char  nulls[3] = {' ', ' ', isnan(value) ? 'n' : ' '};

	args[0] = Int64GetDatum(run_id);
	args[1] = CStringGetTextDatum(key);
	args[2] = Float8GetDatum(value);
	if (SPI_execute_with_args("INSERT INTO stockml.run_metrics (run_id, key, step, value) VALUES ($1, $2, 0, $3)",
							  3, (Oid[]) {INT8OID, TEXTOID, FLOAT8OID}, args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write run_metrics");
}

/* A float8 as a JSON number, null when not finite (JSON has no NaN) */
static const char *
JsonNumberText(double v)
{
	return isfinite(v) ? float8out_internal(v) : "null";
}

/*
 * , "permutation_importance": {...}: the last fold's model on its test rows,
 * per feature (in the spec's order) the mean growth of the loss when the
 * feature is shuffled, and its standard deviation over the repeats
 */
static void
AppendPermutation(StringInfo buf, const TrainRequest *req, const HeadResult *head)
{
	if (head->perm_repeats == 0)
		return;
	appendStringInfo(buf, ", \"permutation_importance\": {\"fold\": %d, \"n_rows\": " INT64_FORMAT ", \"fold_rows\": " INT64_FORMAT ", \"n_repeats\": %d, \"seed\": " INT64_FORMAT ", \"loss\": ",
					 req->folds, head->perm_rows, head->perm_fold_rows, head->perm_repeats, req->seed);
	escape_json(buf, OosLossName(req->alg));
	appendStringInfo(buf, ", \"baseline_loss\": %s, \"importance\": [", JsonNumberText(head->perm_baseline));
	for (int j = 0; j < head->set.p; j++)
		appendStringInfo(buf, "%s%s", j > 0 ? ", " : "", JsonNumberText(head->perm_mean[j]));
	appendStringInfoString(buf, "], \"std\": [");
	for (int j = 0; j < head->set.p; j++)
		appendStringInfo(buf, "%s%s", j > 0 ? ", " : "", JsonNumberText(head->perm_std[j]));
	appendStringInfoString(buf, "]}");
}

/* , "search": {...}: what was searched, the winner and every trial's run */
static void
AppendSearch(StringInfo buf, const TrainRequest *req)
{
	const SearchPlan *plan = req->search;

	if (plan == NULL)
		return;
	appendStringInfo(buf, ", \"search\": {\"kind\": \"%s\", \"trials\": %d, \"best_trial\": %d, \"loss\": ",
					 plan->kind, plan->ntrials, req->best_trial + 1);
	escape_json(buf, OosLossName(req->alg));
	appendStringInfo(buf, ", \"best_loss\": %s, \"runs\": [", JsonNumberText(req->trial_loss[req->best_trial]));
	for (int t = 0; t < plan->ntrials; t++)
		appendStringInfo(buf, "%s" INT64_FORMAT, t > 0 ? ", " : "", req->trial_runs[t]);
	appendStringInfoString(buf, "]}");
}

/* The work of one run, inside the caller's subtransaction */
static TrainOutcome
TrainAndRegister(TrainRequest *req, int64 run_id)
{
	HeadResult		  *heads = palloc0(sizeof(HeadResult) * req->nhorizons);
	HeadResult		  *head;
	TrainSet		  *set;
	int				   primary = 0;
	int				   folds = req->folds;
	int64			   model_id;
	bool			   gate;
	StockmlOwnerSwitch sw;
	ModelHeads		   blob_heads;
	bytea			  *blob;
	char			  *reference;
	StringInfoData	   metrics;
	TrainOutcome	   out;
	Datum			   args[16];
	char			   nulls[16];
	int				   rc;
	bool			   isnull;
	instr_time		   phase;

	while (req->horizons[primary] != req->horizon)
		primary++;
	/* the primary head first: its "too little history" is the version's */
	for (int n = 0; n < req->nhorizons; n++)
	{
		int h = n == 0 ? primary : (n <= primary ? n - 1 : n);

		/* a search is decided on the primary head; the other heads take its winner's values */
		if (req->search && h == primary)
			SearchTrials(req, run_id, req->horizons[h], &heads[h],
						 (double) n / req->nhorizons, 1.0 / req->nhorizons);
		else
			TrainHead(req, req->horizons[h], &heads[h], req->permutation_repeats,
					  (double) n / req->nhorizons, 1.0 / req->nhorizons);
		if (h != primary)
		{
			/* what the other heads still need is small: free their matrix */
			pfree(heads[h].set.x);
			heads[h].set.x = NULL;
		}
	}
	head = &heads[primary];
	set = &head->set;

	INSTR_TIME_SET_CURRENT(phase);
	blob_heads.nheads = req->nhorizons;
	blob_heads.horizons = req->horizons;
	blob_heads.models = palloc(sizeof(Model *) * req->nhorizons);
	for (int h = 0; h < req->nhorizons; h++)
		blob_heads.models[h] = heads[h].model;
	blob = ModelSerializeHeads(&blob_heads);
	reference = BuildReference(req, heads, primary);
	LogPhase("reference sample", &phase);

	initStringInfo(&metrics);
	appendStringInfoChar(&metrics, '{');
	AppendStats(&metrics, "", &head->pooled.model);
	appendStringInfoString(&metrics, ", ");
	AppendStats(&metrics, "naive_", &head->pooled.naive);
	appendStringInfoString(&metrics, ", ");
	AppendSkill(&metrics, &head->pooled.model, &head->pooled.naive);
	AppendProbScores(&metrics, &head->pooled);
	AppendSymbolSkills(&metrics, req, head->per_symbol);
	if (req->nhorizons > 1)
		AppendHeadMetrics(&metrics, req, heads, primary);
	AppendPermutation(&metrics, req, head);
	AppendSearch(&metrics, req);
	appendStringInfo(&metrics, ", \"n_test\": " INT64_FORMAT ", \"n_train\": " INT64_FORMAT ", \"folds\": %d, \"test_days\": %d}", head->pooled.model.n, set->n, folds,
					 head->test_days);

	/*
	 * The registry is written as the owner from here on (callers may read
	 * it, not write it: nobody rewrites a run or moves an alias without its
	 * history row).  One version number at a time per model name: its
	 * experiment's row, locked FOR NO KEY UPDATE (the lock of
	 * stockml._lock_model_name, src/registry.c) so that the key-share locks
	 * of rows referencing it do not block.  Nobody else may UPDATE
	 * experiments, so nobody can hold that lock first, as anyone could an
	 * advisory lock.
	 */
	memset(nulls, ' ', sizeof(nulls));
	args[0] = CStringGetTextDatum(req->model_name);
	StockmlBecomeOwner(&sw);
	rc = SPI_execute_with_args("SELECT FROM stockml.experiments WHERE name = $1 FOR NO KEY UPDATE",
							   1, (Oid[]) {TEXTOID}, args, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not lock the model name");

	args[1] = Int32GetDatum(0); /* version: computed in the statement */
	args[2] = CStringGetTextDatum(req->alg->name);
	args[3] = PointerGetDatum(req->symbols_array);
	args[4] = Int32GetDatum(req->horizon);
	args[5] = CStringGetTextDatum(req->feature_set);
	args[6] = JsonbPGetDatum(req->spec_jsonb);
	args[7] = CStringGetTextDatum(req->params_full);
	args[8] = CStringGetTextDatum(metrics.data);
	args[9] = DateADTGetDatum(set->days[0]);
	args[10] = DateADTGetDatum(set->days[set->ndays - 1]);
	args[11] = Int64GetDatum(set->n);
	args[12] = CStringGetTextDatum(reference);
	args[13] = PointerGetDatum(blob);
	args[14] = Int64GetDatum(run_id);
	rc = SPI_execute_with_args("INSERT INTO stockml.models (name, version, algorithm, symbols, horizon,"
							   " feature_set, feature_spec, params, metrics, train_start, train_end, n_rows,"
							   " reference, model, run_id)"
							   " SELECT $1, coalesce(max(version), 0) + 1, $3, $4, $5, $6, $7, $8::jsonb,"
							   " $9::jsonb, $10, $11, $12, $13::jsonb, $14, $15"
							   " FROM stockml.models WHERE name = $1 RETURNING version, id",
							   15, (Oid[]) {TEXTOID, INT4OID, TEXTOID, TEXTARRAYOID, INT4OID, TEXTOID, JSONBOID, TEXTOID, TEXTOID, DATEOID, DATEOID, INT8OID, TEXTOID, BYTEAOID, INT8OID},
							   args, nulls, false, 0);
	if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "could not store the model: %s", SPI_result_code_string(rc));
	out.version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	model_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	out.metrics = metrics.data;
	if (req->description != NULL || req->tags_json != NULL)
		StoreVersionInfo(req, out.version);
	gate = GateInstalled();
	if (gate)
		StoreValidationRows(req, set, model_id, out.version, head);
	LogPhase("validation rows", &phase);
	StoreDriftNull(req, set, model_id);
	LogPhase("drift null", &phase);

	LogRunMetrics(run_id, "", head->fold, folds, &head->pooled);
	if (req->nhorizons > 1)
		for (int h = 0; h < req->nhorizons; h++)
			LogRunMetrics(run_id, psprintf("h%d_", heads[h].horizon), heads[h].fold, folds,
						  &heads[h].pooled);
	args[0] = Int64GetDatum(run_id);
	args[1] = Int32GetDatum(out.version);
	args[2] = TimestampTzGetDatum(GetCurrentTimestamp());
	rc = SPI_execute_with_args("UPDATE stockml.runs SET status = 'finished', finished_at = $3,"
							   " model_version = $2 WHERE id = $1",
							   3, (Oid[]) {INT8OID, INT4OID, TIMESTAMPTZOID}, args, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not finish the run");
	if (req->search)
	{
		/* the winning trial's run names the version too */
		args[0] = Int64GetDatum(req->trial_runs[req->best_trial]);
		if (SPI_execute_with_args("UPDATE stockml.runs SET model_version = $2 WHERE id = $1",
								  2, (Oid[]) {INT8OID, INT4OID}, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not mark the winning trial");
		LogRunValue(run_id, "search_trials", req->search->ntrials);
		LogRunValue(run_id, "search_best_trial", req->best_trial + 1);
		LogRunValue(run_id, "loss", req->trial_loss[req->best_trial]);
	}

	if (gate)
		out.deployed = DeployGate(req, model_id, out.version, &out.metrics);
	else
	{
		out.deployed = false;
		if (req->auto_deploy)
			ereport(NOTICE,
					(errmsg("version %d of \"%s\" was not deployed: the deploy gate is not installed",
							out.version, req->model_name),
					 errhint("ALTER EXTENSION stockml UPDATE installs it; stockml.deploy() moves production by hand.")));
	}
	StockmlRestoreUser(&sw);
	LogPhase("register", &phase);
	StockmlReportJobProgress(1.0);
	return out;
}

/*
 * stockml.train_check(...train's arguments...) RETURNS void: the checks
 * train() makes of its arguments (ParseRequest, the same code), without
 * training; the train job's checker calls it so that submit() refuses what
 * the job would.
 */
Datum
stockml_train_check(PG_FUNCTION_ARGS)
{
	TrainRequest req;
	int			 citus_level;

	StockmlRequireAdmin("train models");
	/* as train(): its queries of the bars must not make a later train() refused on Citus */
	citus_level = CitusSequentialWrites(get_relname_relid("models", get_namespace_oid("stockml", false)));
	ParseRequest(fcinfo, &req);
	CitusRestoreSettings(citus_level);
	PG_RETURN_VOID();
}

Datum
stockml_train(PG_FUNCTION_ARGS)
{
	TrainRequest	   req;
	TupleDesc		   tupdesc;
	Datum			   values[4];
	bool			   nulls[4] = {false, false, false, false};
	MemoryContext	   caller = CurrentMemoryContext;
	ResourceOwner	   owner = CurrentResourceOwner;
	TimestampTz		   started_at = GetCurrentTimestamp();
	int64			   run_id;
	TrainOutcome	   out;
	Datum			   args[12];
	bool			   isnull;
	MemoryContext	   work;
	StockmlOwnerSwitch sw;
	int				   citus_level;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	/* who may train is settled before any work on the arguments */
	StockmlRequireAdmin("train models");
	/* on Citus, before any query of the bars (src/distributed.c) */
	citus_level = CitusSequentialWrites(get_relname_relid("models", get_namespace_oid("stockml", false)));
	/* a wrong call is an ERROR before any run exists */
	ParseRequest(fcinfo, &req);
	req.caller = GetUserNameFromId(GetUserId(), false);

	/* the run and its experiment are written as the owner (see TrainAndRegister) */
	SPI_connect();
	StockmlBecomeOwner(&sw);
	if (SPI_execute("SELECT pg_catalog.nextval(pg_catalog.pg_get_serial_sequence('stockml.runs', 'id'))",
					false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not draw a run id");
	run_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	StockmlRestoreUser(&sw);
	SPI_finish();

	work = AllocSetContextCreate(caller, "stockml train", ALLOCSET_DEFAULT_SIZES);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(work);
	PG_TRY();
	{
		SPI_connect();
		StockmlBecomeOwner(&sw);
		args[0] = CStringGetTextDatum(req.model_name);
		if (SPI_execute_with_args("INSERT INTO stockml.experiments (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
								  1, (Oid[]) {TEXTOID}, args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not create the experiment");
		args[1] = CStringGetTextDatum(req.alg->name);
		args[2] = PointerGetDatum(req.symbols_array);
		args[3] = Int32GetDatum(req.horizon);
		args[4] = CStringGetTextDatum(req.feature_set);
		args[5] = DateADTGetDatum(req.train_end);
		args[6] = CStringGetTextDatum(req.params_text);
		args[7] = TimestampTzGetDatum(started_at);
		args[8] = Int64GetDatum(run_id);
		if (SPI_execute_with_args("INSERT INTO stockml.runs (id, experiment_id, model_name, algorithm, symbols,"
								  " horizon, feature_set, train_end, params, status, started_at)"
								  " SELECT $9, e.id, $1, $2, $3, $4, $5, $6, $7::jsonb, 'running', $8"
								  " FROM stockml.experiments e WHERE e.name = $1",
								  9, (Oid[]) {TEXTOID, TEXTOID, TEXTARRAYOID, INT4OID, TEXTOID, DATEOID, TEXTOID, TIMESTAMPTZOID, INT8OID},
								  args, req.has_train_end ? NULL : "     n   ", false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not create the run");
		StockmlRestoreUser(&sw);

		out = TrainAndRegister(&req, run_id);

		/* results outlive the subtransaction and the work context */
		MemoryContextSwitchTo(caller);
		out.metrics = pstrdup(out.metrics);
		SPI_finish();
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData *edata;
		FailedRun  failed;

		edata = StockmlAbortSubTransaction(caller, owner);

		failed.run_id = run_id;
		failed.model_name = req.model_name;
		failed.algorithm = req.alg->name;
		failed.symbols = req.symbols;
		failed.nsymbols = req.nsymbols;
		failed.horizon = req.horizon;
		failed.feature_set = req.feature_set;
		failed.has_train_end = req.has_train_end;
		failed.train_end = req.train_end;
		failed.params = req.params_text;
		failed.started_at = started_at;
		failed.error = edata->message;
		RecordFailedRun(&failed);
		ReThrowError(edata);
	}
	PG_END_TRY();
	MemoryContextDelete(work);
	CitusRestoreSettings(citus_level);

	values[0] = CStringGetTextDatum(req.model_name);
	values[1] = Int32GetDatum(out.version);
	values[2] = DirectFunctionCall1(jsonb_in, CStringGetDatum(out.metrics));
	values[3] = BoolGetDatum(out.deployed);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/* 0.2.0's train(..., horizons): the same function, reading argument 8 */
PG_FUNCTION_INFO_V1(stockml_train_0_2);
Datum
stockml_train_0_2(PG_FUNCTION_ARGS)
{
	return stockml_train(fcinfo);
}
