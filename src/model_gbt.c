/*
 * model_gbt.c — histogram gradient-boosted regression trees ("gbt"), the
 * algorithm of scikit-learn's HistGradientBoostingRegressor with its
 * parameter names and defaults, least-squares loss.
 *
 * Fitting: the bin edges of each feature are computed once per fit, from at
 * most GBT_BIN_SUBSAMPLE rows (every k-th row; scikit-learn draws 200 000 at
 * random): the midpoints between distinct values when there are at most
 * max_bins of them, else the midpoint-method percentiles at 100 i / max_bins.
 * Each row becomes a row of p bytes (padded to 8), kept once row by row (the
 * histograms read it) and once feature by feature (the partitions read one
 * feature); the rows never move: an array of row indices is kept partitioned
 * by node (stably, each tree starting in row order), so a node's histogram is
 * one pass over its run of indices in row order, and the root's a sequential
 * pass over the rows.  A tree grows best-first (leaf-wise): the
 * leaf whose best split gains most is split next, until max_leaf_nodes
 * leaves, max_depth, min_samples_leaf or no positive gain stop it.  A node's
 * histogram (per feature and bin: sum of gradients and count; the hessian of
 * squared error is 1) is built for the smaller child only, the sibling's is
 * the parent's minus it.  Gradients are float32 as in scikit-learn, sums
 * float64; split gain and leaf values are scikit-learn's formulas
 * (-G / (H + l2 + 1e-15), shrunk by learning_rate), ties going to the lower
 * feature, then the lower bin.
 *
 * Early stopping holds out the most recent validation_fraction of the rows
 * (rows come in time order: train() orders them by day), not a random
 * subset, and stops when the last n_iter_no_change iterations did not
 * improve the held-out squared error by more than tol (scikit-learn's rule
 * for scoring="loss"); "auto" means on when there are more than 10 000 rows.
 *
 * Features must be finite: fit refuses NaN (model.c), and a NaN at
 * prediction gives NaN, which predict() refuses.
 *
 * The payload: format version, baseline (mean of y), tree count, per-feature
 * total split gain (for feature importance), then per tree its node count and
 * nodes in creation order: feature (GBT_LEAF for a leaf), threshold or leaf
 * value, and for a split the index of its left child (the right one follows
 * it).  The decoder checks that every child index points forward inside the
 * tree, every node but the root has exactly one parent, every feature index is
 * in range and every number finite, so a damaged blob cannot loop or read out
 * of bounds.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "miscadmin.h"
#include "utils/float.h"
#include "utils/memutils.h"

#include "model.h"
#include "model_gbt.h"

#define GBT_PAYLOAD_VERSION 1
#define GBT_LEAF 0xFFFFFFFFu
#define GBT_MAX_BINS 255
#define GBT_BIN_SUBSAMPLE 200000
#define GBT_EPS 1e-15		   /* scikit-learn's guard in the node value */
#define GBT_AUTO_ES_ROWS 10000 /* early_stopping "auto": on above this */
#define GBT_MAX_HIST_BYTES ((Size) 1024 * 1024 * 1024)
#define GBT_PREFETCH 48 /* rows HistBuild fetches ahead */

enum
{
	GBT_MAX_ITER,
	GBT_LEARNING_RATE,
	GBT_MAX_LEAF_NODES,
	GBT_MAX_DEPTH,
	GBT_MIN_SAMPLES_LEAF,
	GBT_L2,
	GBT_MAX_BINS_P,
	GBT_EARLY_STOPPING,
	GBT_VALIDATION_FRACTION,
	GBT_N_ITER_NO_CHANGE,
	GBT_TOL,
	GBT_NPARAMS
};

static const ModelParamSpec gbt_params[] = {
	[GBT_MAX_ITER] = {"max_iter", MODEL_PARAM_INT, 1, 10000, 100,
					  "max_iter is the number of boosting iterations (trees), 1 to 10000."},
	[GBT_LEARNING_RATE] = {"learning_rate", MODEL_PARAM_REAL, 0, 1e6, 0.1,
						   "learning_rate shrinks each tree's leaf values: more than 0 (0.1 by default)."},
	[GBT_MAX_LEAF_NODES] = {"max_leaf_nodes", MODEL_PARAM_INT, 2, 4096, 31,
							"max_leaf_nodes is the most leaves a tree has, 2 to 4096."},
	[GBT_MAX_DEPTH] = {"max_depth", MODEL_PARAM_INT, 1, 1000, 0,
					   "max_depth is the most edges from a tree's root to a leaf, 1 to 1000, or null (no limit).",
					   "null", 0},
	[GBT_MIN_SAMPLES_LEAF] = {"min_samples_leaf", MODEL_PARAM_INT, 1, 1e9, 20,
							  "min_samples_leaf is the fewest rows in a leaf, 1 or more."},
	[GBT_L2] = {"l2_regularization", MODEL_PARAM_REAL, 0, 1e300, 0,
				"l2_regularization is the L2 penalty on leaf values, 0 or more."},
	[GBT_MAX_BINS_P] = {"max_bins", MODEL_PARAM_INT, 2, GBT_MAX_BINS, 255,
						"max_bins is the number of bins per feature, 2 to 255."},
	[GBT_EARLY_STOPPING] = {"early_stopping", MODEL_PARAM_BOOL, 0, 1, -1,
							"early_stopping is true, false or \"auto\" (on when fitting on more than 10000 rows).",
							"auto", -1},
	[GBT_VALIDATION_FRACTION] = {"validation_fraction", MODEL_PARAM_REAL, 0, 1, 0.1,
								 "validation_fraction is the share of the most recent rows held out for early stopping, strictly between 0 and 1."},
	[GBT_N_ITER_NO_CHANGE] = {"n_iter_no_change", MODEL_PARAM_INT, 1, 10000, 10,
							  "n_iter_no_change is how many iterations without improvement stop early, 1 to 10000."},
	[GBT_TOL] = {"tol", MODEL_PARAM_REAL, 0, 1e300, 1e-7,
				 "tol is the improvement of the held-out loss that counts, 0 or more."},
};

StaticAssertDecl(lengthof(gbt_params) == GBT_NPARAMS, "gbt parameter table");
StaticAssertDecl(GBT_NPARAMS <= MODEL_MAX_PARAMS, "gbt has too many parameters");

/*
 * The trees as prediction walks them: GBT_LANES trees at a time in lockstep,
 * so the walks' load-compare-load chains overlap instead of waiting on each
 * other.  A leaf points to itself with threshold +Infinity, so a walk that
 * reached it stays; a group walks as many steps as its deepest tree.  The
 * groups take the trees by depth (order), so a shallow tree does not walk as
 * long as a deep one beside it; each tree's leaf value goes to its slot of
 * tree_value and the sum is made in tree order, as a walk in tree order
 * makes it, so the prediction is the same to the bit.
 */
#define GBT_LANES 8

typedef struct GbtWalk
{
	GbtNode *nodes;		  /* all trees, absolute child indices, then one leaf of 0 */
	double	*leaf_value;  /* per node (0 for a split) */
	int		*group_depth; /* per group of GBT_LANES trees of order */
	int		*order;		  /* the trees by depth, shallowest first */
	double	*tree_value;  /* scratch of GbtPredict: each tree's leaf value */
} GbtWalk;

typedef struct GbtState
{
	int		   ntrees;
	uint32	  *tree_start; /* ntrees + 1 offsets into nodes */
	GbtNode	  *nodes;
	double	  *importance; /* n_features: total split gain */
	GbtWalk	  *walk;
	GbtScorer *scorer; /* the bitvector evaluator (model_gbt_scorer.c), NULL: walk */
} GbtState;

int gbt_evaluator = GBT_EVALUATOR_AUTO;

/*
 * One bin of a histogram: [0] the sum of gradients, [1] the row count (exact
 * in a double), a pair so that adding a row to a bin is one load, one add and
 * one store.
 */
typedef double HistBin __attribute__((vector_size(16), aligned(8)));

/* bins a feature's histogram takes, whatever max_bins: offsets known to the compiler */
#define GBT_HIST_STRIDE (GBT_MAX_BINS + 1)

/* A node while a tree grows */
typedef struct GrowNode
{
	uint32	 start; /* its rows: rows[start .. end - 1] of GbtFit */
	uint32	 end;
	int		 depth;
	double	 sum_g;
	double	 value; /* -G / (H + l2 + eps), unshrunk */
	HistBin *hist;	/* while it may still be split */
	bool	 splittable;
	/* its best split */
	double gain;
	int	   feature;
	int	   bin;
	double left_g;
	uint32 left_n;
	double left_value;
	double right_value;
	uint32 left; /* its children, when split */
} GrowNode;

/* Everything one fit works on */
typedef struct GbtFit
{
	int	   p;
	uint32 n;	   /* training rows (the held-out tail excluded) */
	int	   stride; /* bytes of a binned row: p rounded up to 8 */
	/*
	 * The rows stay where they are; their indices are kept partitioned by
	 * node, so that every node's rows are one run [start, end) of rows.
	 */
	const uint8	  *binned;	   /* n x stride, row by row: the histograms' reads */
	const uint8	  *binned_col; /* p x n, feature by feature: the partition's */
	float		  *grad;
	double		  *raw;
	const double  *y;
	uint32		  *rows;
	uint32		  *tmp_rows; /* where SplitNode puts the right child's rows */
	const int	  *nbins;	 /* per feature: bins holding values */
	double *const *edges;	 /* per feature: nbins - 1 thresholds */
	Size		   hist_bytes;
	HistBin		 **free_hists;
	int			   nfree;
	int			   max_leaves;
	int			   max_depth; /* 0: none */
	uint32		   min_samples_leaf;
	double		   l2;
	GrowNode	  *grow; /* up to 2 max_leaves - 1 */
	int			   ngrow;
	double		  *importance;
} GbtFit;

static void		   GbtCheckParams(const double *params);
static void		   GbtFitModel(Model *model, const ModelTrainData *data);
static double	   GbtPredict(const Model *model, const double *x);
static void		   GbtWritePayload(const Model *model, StringInfo buf);
static void		   GbtReadPayload(Model *model, ModelReader *reader);
static const char *GbtImportance(const Model *model, double *out);
static int		   BinEdges(const ModelTrainData *data, uint32 nrows, int feature, int max_bins,
							double *sorted, double *edges);
static void		   BinRows(const ModelTrainData *data, uint32 nrows, const int *nbins,
						   double *const *edges, uint8 *binned, int stride, uint8 *binned_col);
static HistBin	  *HistGet(GbtFit *f);
static void		   HistRelease(GbtFit *f, HistBin *h);
static double	   HistBuild(GbtFit *f, const GrowNode *node, HistBin *hist);
static void		   FindSplit(GbtFit *f, GrowNode *node, bool is_root);
static void		   SplitNode(GbtFit *f, GrowNode *node);
static void		   GrowTree(GbtFit *f);
static double	   TreePredict(const GbtNode *nodes, const double *x);
static void		   BuildWalk(GbtState *state);

static void
GbtCheckParams(const double *params)
{
	double vf = params[GBT_VALIDATION_FRACTION];

	if (!(params[GBT_LEARNING_RATE] > 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("parameter \"learning_rate\" of gbt must be more than 0"),
				 errhint("%s", gbt_params[GBT_LEARNING_RATE].help)));
	if (!(vf > 0 && vf < 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("parameter \"validation_fraction\" of gbt must be strictly between 0 and 1"),
				 errhint("%s", gbt_params[GBT_VALIDATION_FRACTION].help)));
}

/* sorts the bin subsample with the comparison inlined (qsort's calls were 5 % of a fit) */
#define ST_SORT SortDoubles
#define ST_ELEMENT_TYPE double
#define ST_COMPARE(a, b) ((*(a) > *(b)) - (*(a) < *(b)))
#define ST_SCOPE static
#define ST_DECLARE
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * The thresholds of one feature over the first nrows rows (a subsample of at
 * most GBT_BIN_SUBSAMPLE of them), as scikit-learn's _find_binning_thresholds;
 * returns their count (bins - 1).
 */
static int
BinEdges(const ModelTrainData *data, uint32 nrows, int feature, int max_bins,
		 double *sorted, double *edges)
{
	uint32 m = Min(nrows, GBT_BIN_SUBSAMPLE);
	uint32 ndistinct = 0;

	for (uint32 i = 0; i < m; i++)
	{
		uint64 row = m == nrows ? i : (uint64) i * nrows / m;

		sorted[i] = data->x[row * data->p + feature];
	}
	SortDoubles(sorted, m);
	for (uint32 i = 0; i < m && ndistinct <= (uint32) max_bins; i++)
		if (i == 0 || sorted[i] != sorted[i - 1])
			ndistinct++;
	if (ndistinct <= (uint32) max_bins)
	{
		int e = 0;

		for (uint32 i = 1; i < m; i++)
			if (sorted[i] != sorted[i - 1])
				edges[e++] = (sorted[i - 1] + sorted[i]) * 0.5;
		return e;
	}

	/* numpy's percentile(method="midpoint") over all m values */
	for (int k = 1; k < max_bins; k++)
	{
		double q = (k * (100.0 / max_bins)) / 100.0;
		double idx = (double) (m - 1) * q;
		double lo = floor(idx);
		uint32 l = (uint32) lo;

		if (idx == lo || l + 1 >= m)
			edges[k - 1] = sorted[l];
		else
			edges[k - 1] = sorted[l + 1] - (sorted[l + 1] - sorted[l]) * 0.5;
	}
	return max_bins - 1;
}

/*
 * bin of x: the number of thresholds below it (x <= edges[b] is bin b), by a
 * binary search without branches (a branching one mispredicts half its
 * steps); into the rows (binned) and the columns (binned_col)
 */
static void
BinRows(const ModelTrainData *data, uint32 nrows, const int *nbins,
		double *const *edges, uint8 *binned, int stride, uint8 *binned_col)
{
	int p = data->p;

	for (uint32 i = 0; i < nrows; i++)
	{
		const double *xr = data->x + (uint64) i * p;
		uint8		 *br = binned + (uint64) i * stride;

		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		for (int j = 0; j < p; j++)
		{
			const double *base = edges[j];
			int			  len = nbins[j] - 1;
			double		  v = xr[j];
			uint8		  bin = 0;

			if (len > 0)
			{
				while (len > 1)
				{
					int half = len / 2;

					base += half * (base[half - 1] < v);
					len -= half;
				}
				bin = (uint8) (base - edges[j]) + (base[0] < v);
			}
			br[j] = bin;
			binned_col[(Size) j * nrows + i] = bin;
		}
	}
}

static HistBin *
HistGet(GbtFit *f)
{
	if (f->nfree > 0)
		return f->free_hists[--f->nfree];
	return MemoryContextAllocHuge(CurrentMemoryContext, f->hist_bytes);
}

static void
HistRelease(GbtFit *f, HistBin *h)
{
	if (h)
		f->free_hists[f->nfree++] = h;
}

/* Add one row (its bins b, gradient and count 1 in gn) to a histogram */
static inline void
HistAddRow(HistBin *hist, const uint8 *b, int p, HistBin gn)
{
	int j = 0;

	for (; j + 8 <= p; j += 8)
	{
		HistBin *h = hist + (Size) j * GBT_HIST_STRIDE;

#pragma GCC unroll 8
		for (int u = 0; u < 8; u++)
			h[u * GBT_HIST_STRIDE + b[j + u]] += gn;
	}
	for (; j < p; j++)
		hist[(Size) j * GBT_HIST_STRIDE + b[j]] += gn;
}

/*
 * The histogram of a node's rows, from scratch: one pass over its run of row
 * indices, in their order (the root's: all rows in row order); returns the
 * sum of their gradients.
 */
static double
HistBuild(GbtFit *f, const GrowNode *node, HistBin *hist)
{
	int			  p = f->p;
	int			  stride = f->stride;
	const uint8	 *binned = f->binned;
	const float	 *grad = f->grad;
	const uint32 *rows = f->rows;
	uint32		  end = node->end;
	uint32		  ahead = Min(end, node->start + GBT_PREFETCH);
	double		  sum_g = 0;

	memset(hist, 0, f->hist_bytes);
	if (end - node->start == f->n)
	{
		const uint8 *b = binned;

		for (uint32 i = 0; i < end; i++, b += stride)
		{
			double g = grad[i];

			sum_g += g;
			HistAddRow(hist, b, p, (HistBin) {g, 1.0});
		}
		return sum_g;
	}
	for (uint32 k = node->start; k < end; k++)
	{
		uint32 i = rows[k];
		double g = grad[i];

		/* a node's rows are scattered: fetch those a few steps ahead */
		if (ahead < end)
		{
			__builtin_prefetch(binned + (Size) rows[ahead] * stride);
			__builtin_prefetch(grad + rows[ahead]);
			ahead++;
		}
		sum_g += g;
		HistAddRow(hist, binned + (Size) i * stride, p, (HistBin) {g, 1.0});
	}
	return sum_g;
}

/*
 * The best split of a node from its histogram (scikit-learn's
 * _find_best_bin_to_split_left_to_right and _split_gain); the root's own loss
 * term is taken as 0, as scikit-learn passes the root value 0.
 */
static void
FindSplit(GbtFit *f, GrowNode *node, bool is_root)
{
	uint32 n = node->end - node->start;
	double sum_g = node->sum_g;
	double l2 = f->l2;
	double loss_node = is_root ? 0 : sum_g * node->value;
	uint32 msl = f->min_samples_leaf;
	double best = -1;

	node->splittable = false;
	for (int j = 0; j < f->p; j++)
	{
		const HistBin *h = node->hist + (Size) j * GBT_HIST_STRIDE;
		double		   gl = 0;
		uint32		   nl = 0;

		for (int b = 0; b < f->nbins[j] - 1; b++)
		{
			uint32 nr;
			double gr,
				vl,
				vr,
				gain;

			nl += (uint32) h[b][1];
			gl += h[b][0];
			nr = n - nl;
			if (nl < msl)
				continue;
			if (nr < msl)
				break;
			gr = sum_g - gl;
			vl = -gl / ((double) nl + l2 + GBT_EPS);
			vr = -gr / ((double) nr + l2 + GBT_EPS);
			gain = loss_node;
			gain -= gl * vl;
			gain -= gr * vr;
			if (gain > best && gain > 0)
			{
				best = gain;
				node->splittable = true;
				node->gain = gain;
				node->feature = j;
				node->bin = b;
				node->left_g = gl;
				node->left_n = nl;
				node->left_value = vl;
				node->right_value = vr;
			}
		}
	}
}

/*
 * Split a node at its best split: partition its rows (stably, so each child
 * reads its rows in order), make its two children, and give the children
 * that may split again their histograms and best splits.
 */
static void
SplitNode(GbtFit *f, GrowNode *node)
{
	int	   feat = node->feature;
	int	   bin = node->bin;
	uint32 nl = 0,
		   nr = 0;
	GrowNode *l,
		*r;
	uint32		 parent_n = node->end - node->start;
	double		 l2 = f->l2;
	const uint8 *col = f->binned_col + (Size) feat * f->n;
	uint32		*rows = f->rows + node->start;
	uint32		*tmp = f->tmp_rows;

	CHECK_FOR_INTERRUPTS();
	/*
	 * Stable: the left rows move down in place, the right ones through tmp;
	 * each index is written to both sides and only one side's count grows
	 * (no branch to mispredict).  rows[nl] is never ahead of rows[k].
	 */
	for (uint32 k = 0; k < parent_n; k++)
	{
		uint32 i = rows[k];
		uint32 left = col[i] <= bin;

		rows[nl] = i;
		tmp[nr] = i;
		nl += left;
		nr += 1 - left;
	}
	Assert(nl == node->left_n);
	memcpy(rows + nl, tmp, sizeof(uint32) * nr);

	/* importance: the gain with the parent's own term for every node */
	f->importance[feat] += node->left_g * node->left_g / ((double) nl + l2) +
						   (node->sum_g - node->left_g) * (node->sum_g - node->left_g) / ((double) nr + l2) -
						   node->sum_g * node->sum_g / ((double) parent_n + l2);

	node->left = f->ngrow;
	l = &f->grow[f->ngrow++];
	r = &f->grow[f->ngrow++];
	memset(l, 0, sizeof(GrowNode));
	memset(r, 0, sizeof(GrowNode));
	l->start = node->start;
	l->end = node->start + nl;
	r->start = l->end;
	r->end = node->end;
	l->depth = r->depth = node->depth + 1;
	l->sum_g = node->left_g;
	r->sum_g = node->sum_g - node->left_g;
	l->value = node->left_value;
	r->value = node->right_value;
	node->splittable = false;
}

/*
 * Grow one tree on the current gradients into f->grow (f->grow[0] the root),
 * best-first as scikit-learn's TreeGrower.
 */
static void
GrowTree(GbtFit *f)
{
	GrowNode *root = &f->grow[0];
	int		  nleaves = 1;
	double	  sum_g = 0;

	memset(root, 0, sizeof(GrowNode));
	root->start = 0;
	root->end = f->n;
	f->ngrow = 1;
	if (f->n < 2 * f->min_samples_leaf)
	{
		/* in row order, as HistBuild sums them */
		for (uint32 i = 0; i < f->n; i++)
			sum_g += f->grad[i];
		root->sum_g = sum_g;
		root->value = -sum_g / ((double) f->n + f->l2 + GBT_EPS);
		return;
	}
	root->hist = HistGet(f);
	sum_g = HistBuild(f, root, root->hist);
	root->sum_g = sum_g;
	root->value = -sum_g / ((double) f->n + f->l2 + GBT_EPS);
	FindSplit(f, root, true);
	if (!root->splittable)
	{
		HistRelease(f, root->hist);
		root->hist = NULL;
	}

	for (;;)
	{
		GrowNode *best = NULL;
		GrowNode *l,
			*r,
			*small,
			*large;
		bool split_l,
			split_r;

		for (int i = 0; i < f->ngrow; i++)
			if (f->grow[i].splittable && (best == NULL || f->grow[i].gain > best->gain))
				best = &f->grow[i];
		if (best == NULL)
			break;
		SplitNode(f, best);
		l = &f->grow[best->left];
		r = l + 1;
		nleaves++;
		if (nleaves == f->max_leaves || (f->max_depth > 0 && l->depth == f->max_depth))
		{
			if (nleaves == f->max_leaves)
				for (int i = 0; i < f->ngrow; i++)
				{
					f->grow[i].splittable = false;
					HistRelease(f, f->grow[i].hist);
					f->grow[i].hist = NULL;
				}
			HistRelease(f, best->hist);
			best->hist = NULL;
			continue;
		}
		split_l = l->end - l->start >= 2 * f->min_samples_leaf;
		split_r = r->end - r->start >= 2 * f->min_samples_leaf;
		if (split_l || split_r)
		{
			if (l->end - l->start < r->end - r->start)
				small = l, large = r;
			else
				small = r, large = l;
			small->hist = HistGet(f);
			HistBuild(f, small, small->hist);
			/* the sibling's histogram is the parent's minus the smaller child's */
			large->hist = best->hist;
			best->hist = NULL;
			for (Size b = 0; b < (Size) f->p * GBT_HIST_STRIDE; b++)
				large->hist[b] -= small->hist[b];
			if (split_l)
				FindSplit(f, l, false);
			if (split_r)
				FindSplit(f, r, false);
			if (!l->splittable)
			{
				HistRelease(f, l->hist);
				l->hist = NULL;
			}
			if (!r->splittable)
			{
				HistRelease(f, r->hist);
				r->hist = NULL;
			}
		}
		else
		{
			HistRelease(f, best->hist);
			best->hist = NULL;
		}
	}
}

static double
TreePredict(const GbtNode *nodes, const double *x)
{
	uint32 i = 0;

	while (nodes[i].feature >= 0)
		i = nodes[i].left + (x[nodes[i].feature] > nodes[i].value);
	return nodes[i].value;
}

/* The evaluators of a fitted or decoded model's trees: the lockstep walk and the scorer */
static void
BuildWalk(GbtState *state)
{
	int		 nt = state->ntrees;
	uint32	 nnodes = state->tree_start[nt];
	int		 ngroups = (nt + GBT_LANES - 1) / GBT_LANES;
	GbtWalk *w = palloc(sizeof(GbtWalk));
	int		*depth = palloc0(sizeof(int) * (nnodes + 1));

	w->nodes = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(GbtNode) * ((Size) nnodes + 1));
	w->leaf_value = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * ((Size) nnodes + 1));
	w->group_depth = palloc0(sizeof(int) * Max(ngroups, 1));
	for (int t = 0; t < nt; t++)
	{
		uint32 start = state->tree_start[t];
		uint32 count = state->tree_start[t + 1] - start;

		for (uint32 i = 0; i < count; i++)
		{
			const GbtNode *node = &state->nodes[start + i];
			GbtNode		  *out = &w->nodes[start + i];

			if (node->feature < 0)
			{
				out->value = get_float8_infinity();
				out->feature = 0;
				out->left = start + i;
				w->leaf_value[start + i] = node->value;
			}
			else
			{
				*out = *node;
				out->left = start + node->left;
				w->leaf_value[start + i] = 0;
				/* children come after their parent: their depth is set before they are read */
				depth[start + node->left] = depth[start + node->left + 1] = depth[start + i] + 1;
			}
		}
	}
	w->nodes[nnodes].value = get_float8_infinity();
	w->nodes[nnodes].feature = 0;
	w->nodes[nnodes].left = nnodes;
	w->leaf_value[nnodes] = 0;

	/* the trees by depth (a stable counting sort), then each group's deepest */
	w->order = palloc(sizeof(int) * Max(nt, 1));
	w->tree_value = palloc(sizeof(double) * Max(nt, 1));
	{
		int	 maxd = 0;
		int *tdepth = palloc0(sizeof(int) * Max(nt, 1));
		int *count;

		for (int t = 0; t < nt; t++)
		{
			for (uint32 i = state->tree_start[t]; i < state->tree_start[t + 1]; i++)
				tdepth[t] = Max(tdepth[t], depth[i]);
			maxd = Max(maxd, tdepth[t]);
		}
		count = palloc0(sizeof(int) * (maxd + 2));
		for (int t = 0; t < nt; t++)
			count[tdepth[t] + 1]++;
		for (int d = 0; d <= maxd; d++)
			count[d + 1] += count[d];
		for (int t = 0; t < nt; t++)
			w->order[count[tdepth[t]]++] = t;
		for (int g = 0; g < ngroups; g++)
		{
			w->group_depth[g] = 0;
			for (int k = g * GBT_LANES; k < Min(nt, (g + 1) * GBT_LANES); k++)
				w->group_depth[g] = Max(w->group_depth[g], tdepth[w->order[k]]);
		}
		pfree(count);
		pfree(tdepth);
	}
	pfree(depth);
	state->walk = w;
	state->scorer = GbtScorerBuild(nt, state->tree_start, state->nodes);
}

static void
GbtFitModel(Model *model, const ModelTrainData *data)
{
	const double *params = model->params;
	MemoryContext fit_cxt,
		old;
	GbtFit	  f;
	GbtState *state;
	int		  p = data->p;
	int		  max_iter = (int) params[GBT_MAX_ITER];
	double	  lr = params[GBT_LEARNING_RATE];
	bool	  early;
	uint32	  n_all,
		n_train,
		n_val = 0;
	int		  max_bins = (int) params[GBT_MAX_BINS_P];
	int		 *nbins;
	double	**edges;
	double	 *sorted;
	uint8	 *binned;
	uint8	 *binned_col;
	uint16	 *leaf_of; /* per row, its leaf in the last tree (at most 8191 nodes) */
	float	 *grad;
	double	 *raw;
	double	 *raw_val = NULL;
	double	 *scores = NULL;
	double	  baseline = 0;
	int		  nscores = 0;
	int		  ntrees = 0;
	int		  max_nodes;
	GbtNode **trees;
	int		 *tree_nodes;
	uint32	  total_nodes = 0;

	if (data->n > (int64) PG_UINT32_MAX - 1)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("gbt fits on at most %u rows, not " INT64_FORMAT, PG_UINT32_MAX - 1, data->n)));
	n_all = (uint32) data->n;
	if (params[GBT_EARLY_STOPPING] < 0)
		early = n_all > GBT_AUTO_ES_ROWS;
	else
		early = params[GBT_EARLY_STOPPING] != 0;
	n_train = n_all;
	if (early)
	{
		n_val = (uint32) ceil(params[GBT_VALIDATION_FRACTION] * n_all);
		if (n_val < 1 || n_val >= n_all)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("early stopping needs rows to train on and to hold out: %u rows, validation_fraction %g",
							n_all, params[GBT_VALIDATION_FRACTION]),
					 errhint("Pass \"early_stopping\": false, or more rows.")));
		n_train = n_all - n_val;
	}

	fit_cxt = AllocSetContextCreate(CurrentMemoryContext, "stockml gbt fit",
									ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(fit_cxt);

	/* bin edges once, from the training rows */
	nbins = palloc(sizeof(int) * p);
	edges = palloc(sizeof(double *) * p);
	sorted = MemoryContextAllocHuge(fit_cxt, sizeof(double) * Min(n_train, GBT_BIN_SUBSAMPLE));
	for (int j = 0; j < p; j++)
	{
		CHECK_FOR_INTERRUPTS();
		edges[j] = palloc(sizeof(double) * GBT_MAX_BINS);
		nbins[j] = BinEdges(data, n_train, j, max_bins, sorted, edges[j]) + 1;
	}
	memset(&f, 0, sizeof(f));
	f.p = p;
	f.n = n_train;
	f.stride = (p + 7) & ~7;
	binned = MemoryContextAllocExtended(fit_cxt, mul_size((Size) n_train, (Size) f.stride),
										MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	binned_col = MemoryContextAllocHuge(fit_cxt, mul_size((Size) n_train, (Size) p));
	BinRows(data, n_train, nbins, edges, binned, f.stride, binned_col);
	f.binned = binned;
	f.binned_col = binned_col;
	f.nbins = nbins;
	f.edges = edges;
	f.hist_bytes = mul_size(mul_size((Size) p, GBT_HIST_STRIDE), sizeof(HistBin));
	f.max_leaves = (int) params[GBT_MAX_LEAF_NODES];
	f.max_depth = (int) params[GBT_MAX_DEPTH];
	f.min_samples_leaf = (uint32) params[GBT_MIN_SAMPLES_LEAF];
	f.l2 = params[GBT_L2];
	if ((double) f.hist_bytes * (f.max_leaves + 1) > (double) GBT_MAX_HIST_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("gbt histograms for %d leaves of %d features would take more than 1 GB",
						f.max_leaves, p),
				 errhint("Lower max_leaf_nodes or max_bins, or select fewer features.")));
	f.free_hists = palloc(sizeof(HistBin *) * (f.max_leaves + 2));
	max_nodes = 2 * f.max_leaves - 1;
	f.grow = palloc(sizeof(GrowNode) * max_nodes);
	f.rows = MemoryContextAllocHuge(fit_cxt, sizeof(uint32) * (Size) n_train);
	leaf_of = MemoryContextAllocHuge(fit_cxt, sizeof(uint16) * (Size) n_train);
	f.tmp_rows = MemoryContextAllocHuge(fit_cxt, sizeof(uint32) * (Size) n_train);
	for (uint32 i = 0; i < n_train; i++)
		f.rows[i] = i;
	grad = MemoryContextAllocHuge(fit_cxt, sizeof(float) * (Size) n_train);
	f.grad = grad;
	raw = MemoryContextAllocHuge(fit_cxt, sizeof(double) * (Size) n_train);
	f.raw = raw;
	f.y = data->y;
	f.importance = palloc0(sizeof(double) * p);
	trees = palloc(sizeof(GbtNode *) * max_iter);
	tree_nodes = palloc(sizeof(int) * max_iter);

	for (uint32 i = 0; i < n_train; i++)
		baseline += data->y[i];
	baseline /= n_train;
	for (uint32 i = 0; i < n_train; i++)
		raw[i] = baseline;
	if (early)
	{
		double loss = 0;

		raw_val = MemoryContextAllocHuge(fit_cxt, sizeof(double) * (Size) n_val);
		scores = palloc(sizeof(double) * (max_iter + 1));
		for (uint32 i = 0; i < n_val; i++)
		{
			double d = data->y[n_train + i] - baseline;

			raw_val[i] = baseline;
			loss += d * d;
		}
		scores[nscores++] = -0.5 * loss / n_val;
	}

	for (int it = 0; it < max_iter; it++)
	{
		GbtNode *tree;

		CHECK_FOR_INTERRUPTS();
		/* every tree starts from the rows in row order */
		for (uint32 i = 0; i < n_train; i++)
		{
			grad[i] = (float) (raw[i] - f.y[i]);
			f.rows[i] = i;
		}
		GrowTree(&f);

		/* shrink and store, and move the training predictions */
		tree = palloc(sizeof(GbtNode) * f.ngrow);
		for (int k = 0; k < f.ngrow; k++)
		{
			GrowNode *g = &f.grow[k];

			if (g->left != 0)
			{
				tree[k].feature = g->feature;
				tree[k].value = edges[g->feature][g->bin];
				tree[k].left = g->left;
			}
			else
			{
				double v = lr * g->value;

				tree[k].feature = -1;
				tree[k].value = v;
				tree[k].left = 0;
				for (uint32 q = g->start; q < g->end; q++)
					leaf_of[f.rows[q]] = (uint16) k;
			}
			HistRelease(&f, g->hist);
			g->hist = NULL;
		}
		/*
		 * each row's leaf was marked above (2 bytes a row stay in cache where
		 * adding to raw row by row, scattered, missed it); now one pass
		 */
		for (uint32 i = 0; i < n_train; i++)
			raw[i] += tree[leaf_of[i]].value;
		trees[ntrees] = tree;
		tree_nodes[ntrees++] = f.ngrow;
		total_nodes += f.ngrow;

		if (early)
		{
			double loss = 0;
			int	   ref = (int) params[GBT_N_ITER_NO_CHANGE] + 1;
			bool   improved = false;

			for (uint32 i = 0; i < n_val; i++)
			{
				double d;

				raw_val[i] += TreePredict(tree, data->x + (uint64) (n_train + i) * p);
				d = data->y[n_train + i] - raw_val[i];
				loss += d * d;
			}
			scores[nscores++] = -0.5 * loss / n_val;
			/* scikit-learn's _should_stop */
			if (nscores >= ref)
			{
				for (int s = nscores - ref + 1; s < nscores; s++)
					if (scores[s] > scores[nscores - ref] + params[GBT_TOL])
						improved = true;
				if (!improved)
					break;
			}
		}
	}

	MemoryContextSwitchTo(old);
	state = palloc(sizeof(GbtState));
	state->ntrees = ntrees;
	state->tree_start = palloc(sizeof(uint32) * (ntrees + 1));
	state->nodes = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(GbtNode) * (Size) total_nodes);
	state->importance = palloc(sizeof(double) * p);
	memcpy(state->importance, f.importance, sizeof(double) * p);
	total_nodes = 0;
	for (int t = 0; t < ntrees; t++)
	{
		state->tree_start[t] = total_nodes;
		memcpy(state->nodes + total_nodes, trees[t], sizeof(GbtNode) * tree_nodes[t]);
		total_nodes += tree_nodes[t];
	}
	state->tree_start[ntrees] = total_nodes;
	BuildWalk(state);
	model->state = state;
	model->intercept = baseline;
	MemoryContextDelete(fit_cxt);
}

static double
GbtPredict(const Model *model, const double *x)
{
	const GbtState *state = model->state;
	double			s = model->intercept;

	const GbtWalk *w = state->walk;
	const GbtNode *nodes = w->nodes;
	int			   nt = state->ntrees;
	uint32		   pad = state->tree_start[nt];

	/* the scorer checks x for NaN itself (the AVX-512 kernel 8 values at a time) */
	if (likely(state->scorer != NULL) && gbt_evaluator != GBT_EVALUATOR_WALK)
		return GbtScorerPredict(state->scorer, s, x, model->n_features, gbt_evaluator == GBT_EVALUATOR_PORTABLE);
	for (int j = 0; j < model->n_features; j++)
		if (unlikely(isnan(x[j])))
			return get_float8_nan();
	for (int t0 = 0; t0 < nt; t0 += GBT_LANES)
	{
		uint32 idx[GBT_LANES];
		int	   lanes = Min(GBT_LANES, nt - t0);

		for (int k = 0; k < GBT_LANES; k++)
			idx[k] = k < lanes ? state->tree_start[w->order[t0 + k]] : pad;
		for (int d = w->group_depth[t0 / GBT_LANES]; d > 0; d--)
		{
			/*
			 * Unrolled, so the lanes' indices stay in registers: rolled, gcc
			 * kept them in memory, and each step waited on a store-to-load
			 * forwarding of its index (batch predict 1.9x faster unrolled).
			 */
#pragma GCC unroll 8
			for (int k = 0; k < GBT_LANES; k++)
			{
				const GbtNode *node = &nodes[idx[k]];

				idx[k] = node->left + (x[node->feature] > node->value);
			}
		}
		for (int k = 0; k < lanes; k++)
			w->tree_value[w->order[t0 + k]] = w->leaf_value[idx[k]];
	}
	for (int t = 0; t < nt; t++)
		s += w->tree_value[t];
	return s;
}

static void
GbtWritePayload(const Model *model, StringInfo buf)
{
	const GbtState *state = model->state;

	ModelWriteUint32(buf, GBT_PAYLOAD_VERSION);
	ModelWriteFloat8(buf, model->intercept);
	ModelWriteUint32(buf, state->ntrees);
	for (int j = 0; j < model->n_features; j++)
		ModelWriteFloat8(buf, state->importance[j]);
	for (int t = 0; t < state->ntrees; t++)
	{
		uint32 start = state->tree_start[t];
		uint32 count = state->tree_start[t + 1] - start;

		ModelWriteUint32(buf, count);
		for (uint32 k = 0; k < count; k++)
		{
			const GbtNode *node = &state->nodes[start + k];

			if (node->feature < 0)
			{
				ModelWriteUint32(buf, GBT_LEAF);
				ModelWriteFloat8(buf, node->value);
			}
			else
			{
				ModelWriteUint32(buf, (uint32) node->feature);
				ModelWriteFloat8(buf, node->value);
				ModelWriteUint32(buf, node->left);
			}
		}
	}
}

static void
GbtReadPayload(Model *model, ModelReader *reader)
{
	GbtState *state = palloc(sizeof(GbtState));
	uint32	  version = ModelReadUint32(reader);
	uint32	  ntrees;
	uint32	  max_nodes = 2 * (uint32) model->params[GBT_MAX_LEAF_NODES] - 1;
	uint32	  total = 0;
	Size	  capacity;
	uint8	 *parents;
	double	  bound;

#define GBT_BAD(detail) ereport(ERROR,                            \
								(errcode(ERRCODE_DATA_CORRUPTED), \
								 errmsg("invalid stockml model"), \
								 errdetail("%s", detail),         \
								 errhint("Use the model column of stockml.models as stored; retrain the model if the row is damaged.")))

	if (version != GBT_PAYLOAD_VERSION)
		GBT_BAD("The gbt payload version is unknown to this stockml.");
	model->intercept = ModelReadFloat8(reader);
	ntrees = ModelReadUint32(reader);
	if (ntrees > (uint32) model->params[GBT_MAX_ITER])
		GBT_BAD("The gbt model holds more trees than its max_iter.");
	state->ntrees = (int) ntrees;
	state->importance = palloc(sizeof(double) * model->n_features);
	for (int j = 0; j < model->n_features; j++)
	{
		state->importance[j] = ModelReadFloat8(reader);
		if (state->importance[j] < 0)
			GBT_BAD("A gbt feature importance is negative.");
	}
	/* a node takes at least 12 bytes: no more nodes than the payload can hold */
	capacity = (reader->len - reader->pos) / 12 + 1;
	state->tree_start = palloc(sizeof(uint32) * (ntrees + 1));
	state->nodes = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(GbtNode) * capacity);
	parents = palloc(max_nodes);
	bound = fabs(model->intercept);
	for (uint32 t = 0; t < ntrees; t++)
	{
		uint32 count = ModelReadUint32(reader);
		double largest = 0;

		if (count < 1 || count > max_nodes || count % 2 == 0)
			GBT_BAD("A gbt tree's node count is out of range.");
		if (count > capacity - total)
			GBT_BAD("The model payload ends early.");
		state->tree_start[t] = total;
		memset(parents, 0, count);
		for (uint32 k = 0; k < count; k++)
		{
			GbtNode *node = &state->nodes[total + k];
			uint32	 feature = ModelReadUint32(reader);

			node->value = ModelReadFloat8(reader);
			if (feature == GBT_LEAF)
			{
				node->feature = -1;
				node->left = 0;
				largest = Max(largest, fabs(node->value));
				continue;
			}
			if (feature >= (uint32) model->n_features)
				GBT_BAD("A gbt split names a feature the model does not have.");
			node->feature = (int32) feature;
			node->left = ModelReadUint32(reader);
			/* children point forward, so every walk ends within count steps */
			if (node->left <= k || node->left >= count - 1)
				GBT_BAD("A gbt split's child index is out of its tree.");
			if (parents[node->left]++ || parents[node->left + 1]++)
				GBT_BAD("A gbt tree node has two parents.");
		}
		for (uint32 k = 1; k < count; k++)
			if (parents[k] != 1)
				GBT_BAD("A gbt tree node is not reached from its root.");
		bound += largest;
		total += count;
	}
	state->tree_start[ntrees] = total;
	if (!isfinite(bound))
		GBT_BAD("The gbt leaf values add up beyond float8: no prediction of it would be finite.");
	BuildWalk(state);
	model->state = state;
#undef GBT_BAD
}

/* Split gain: per feature, the training squared error its splits removed */
static const char *
GbtImportance(const Model *model, double *out)
{
	const GbtState *state = model->state;

	memcpy(out, state->importance, sizeof(double) * model->n_features);
	return "split_gain";
}

/* model_describe: the trees, and how predict() evaluates them */
static void
GbtDescribe(const Model *model, StringInfo buf)
{
	const GbtState *state = model->state;

	appendStringInfo(buf, ", \"trees\": %d, \"evaluator\": \"%s\"", state->ntrees,
					 state->scorer ? "bitvector" : "walk");
}

const ModelAlgorithm model_gbt = {
	.name = "gbt",
	.id = 4,
	.nparams = lengthof(gbt_params),
	.params = gbt_params,
	.check_params = GbtCheckParams,
	.fit_summary = NULL,
	.fit = GbtFitModel,
	.raw_features = true,
	.predict = GbtPredict,
	.write_payload = GbtWritePayload,
	.read_payload = GbtReadPayload,
	.importance = GbtImportance,
	.describe = GbtDescribe,
};
