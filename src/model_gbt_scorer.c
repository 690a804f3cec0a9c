/*
 * model_gbt_scorer.c — the bitvector evaluator of gbt trees (QuickScorer,
 * Lucchese et al. 2015, with the threshold scan replaced by one rank per
 * feature), which predict() uses instead of walking the trees node by node.
 *
 * A tree's leaves are numbered left to right.  A split whose test fails for
 * a row (x > threshold: the row goes right) rules out the leaves of its left
 * subtree; the row's exit leaf is the leftmost leaf no failed split rules
 * out, the lowest set bit of the AND of the failed splits' masks (a mask has
 * a zero for every leaf of the split's left subtree).  Trees of at most 32
 * leaves take one uint32 each, of at most 64 one uint64; more leaves, and
 * models whose tables would be large, keep the walk.
 *
 * Which splits of a feature fail depends only on the rank of x among that
 * feature's distinct thresholds: r thresholds below x fail the splits on the
 * first r.  So for each block of trees whose masks fill 64 bytes (16 trees of
 * 32 leaves, 8 of 64) and each feature the block splits on, a table holds, per
 * rank among the block's own thresholds of that feature, the AND of the masks
 * of the block's splits that fail (a prefix AND), and a map turns the rank
 * among the model's thresholds into the block's.  A row costs one binary
 * search per feature, then per block and feature one map look-up and one
 * 64-byte AND, then per tree one lowest-set-bit and one leaf value; the leaf
 * values are added in tree order, in double, as the walk adds them, so both
 * give the same number to the bit.  The scorer checks x for NaN first
 * (as the walk): ranks compare with <, so -0 and 0, and infinities, order
 * as the walk's x > threshold does.
 */
#include "postgres.h"

#include "port/pg_bitutils.h"
#include "utils/float.h"

#include "model_gbt.h"

/* x86-64 with gcc or clang: an AVX-512 kernel, used when the CPU has it */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SCORER_AVX512
#endif

#define SCORER_ROW_BYTES 64
#define SCORER_ROW_WORDS (SCORER_ROW_BYTES / 8)
/* the walk is kept when the tables would take more than this + SCORER_BYTES_PER_NODE a node */
#define SCORER_FIXED_BYTES ((Size) 1024 * 1024)
#define SCORER_BYTES_PER_NODE 256

/*
 * A row of a block's table as four 16-byte vectors, so the AND of a block's
 * rows stays in four SSE2 registers on a baseline x86-64 build (as an array,
 * or as one 64-byte vector, gcc kept it in memory and each AND waited on the
 * last one's store)
 */
typedef uint64 ScorerVec __attribute__((vector_size(16)));
typedef struct ScorerRow
{
	ScorerVec v[4];
} ScorerRow;

/* One feature a block of trees splits on */
typedef struct ScorerFeature
{
	int32  feature;
	uint32 map; /* offset into rank_map: per rank among the model's thresholds, the block's row */
} ScorerFeature;


#ifdef SCORER_AVX512
/*
 * A feature's thresholds for the AVX-512 rank: in groups of 8, padded with
 * +Infinity to one whole group more, and the last threshold of each group,
 * padded to a multiple of 8
 */
typedef struct ScorerRanker
{
	int32		  feature;
	uint32		  nsamples;
	const double *samples;
	const double *groups;
} ScorerRanker;
#endif

struct GbtScorer
{
	int			   ntrees;
	int			   word_bits; /* 32 or 64: bits of one tree's mask */
	int			   per_block; /* trees per 64-byte row: 16 or 8 */
	int			   nblocks;
	int			   nused;	   /* features split on anywhere */
	int32		  *used;	   /* nused feature numbers */
	uint32		  *thr_start;  /* n_features + 1 offsets into thr */
	double		  *thr;		   /* per feature: its distinct thresholds, ascending */
	uint32		  *block_feat; /* nblocks + 1 offsets into feats */
	ScorerFeature *feats;
	uint32		  *rank_map;
	ScorerRow	  *rows;	   /* 64-byte aligned */
	double		  *leaf_value; /* per tree word_bits slots: its leaves left to right; zeros to whole blocks */
	uint32		  *rank;	   /* scratch of GbtScorerPredict: per feature */
#ifdef SCORER_AVX512
	bool		  avx512;
	ScorerRanker *rankers; /* nused */
#endif
};

/* A split while the tables are built */
typedef struct ScorerSplit
{
	int32  feature;
	uint32 tree;
	double threshold;
	uint64 mask; /* the leaves a failed test leaves possible */
} ScorerSplit;

static int	  CompareByFeature(const void *a, const void *b);
static int	  CompareByBlock(const void *a, const void *b);
static uint32 CountBelow(const double *t, uint32 n, double v);
static void	  BlockLeaves(const GbtScorer *sc, int b, const uint64 *acc, double *s);
#ifdef SCORER_AVX512
static void	  BuildAvx512(GbtScorer *sc, int n_features);
static double PredictAvx512(const GbtScorer *sc, double intercept, const double *x, int n_features);
#endif

static int sort_per_block; /* CompareByBlock's block size (qsort has no argument) */

static int
CompareByFeature(const void *a, const void *b)
{
	const ScorerSplit *x = a;
	const ScorerSplit *y = b;

	if (x->feature != y->feature)
		return x->feature < y->feature ? -1 : 1;
	return (x->threshold > y->threshold) - (x->threshold < y->threshold);
}

static int
CompareByBlock(const void *a, const void *b)
{
	const ScorerSplit *x = a;
	const ScorerSplit *y = b;
	uint32			   bx = x->tree / sort_per_block;
	uint32			   by = y->tree / sort_per_block;

	if (bx != by)
		return bx < by ? -1 : 1;
	return CompareByFeature(a, b);
}

/*
 * The scorer of these trees (tree_start: ntrees + 1 offsets into nodes, each
 * tree's child indices relative to its start, as the decoder checked them),
 * or NULL when the walk is kept
 */
GbtScorer *
GbtScorerBuild(int ntrees, const uint32 *tree_start, const GbtNode *nodes)
{
	uint32		 nnodes = tree_start[ntrees];
	int			 n_features = 1;
	int			 max_leaves = 1;
	GbtScorer	*sc;
	ScorerSplit *splits;
	uint32		 nsplits = 0;
	uint16		*lo;
	uint16		*nleaves;
	uint32		 nmap = 0,
		   nrows = 0,
		   nfeats = 0;
	Size	bytes;
	char   *raw;
	double *block_thr;

	for (int t = 0; t < ntrees; t++)
		max_leaves = Max(max_leaves, (int) (tree_start[t + 1] - tree_start[t] + 1) / 2);
	if (max_leaves > 64)
		return NULL;
	for (uint32 i = 0; i < nnodes; i++)
		n_features = Max(n_features, nodes[i].feature + 1);

	sc = palloc0(sizeof(GbtScorer));
	sc->ntrees = ntrees;
	sc->word_bits = max_leaves <= 32 ? 32 : 64;
	sc->per_block = SCORER_ROW_BYTES * 8 / sc->word_bits;
	sc->nblocks = (ntrees + sc->per_block - 1) / sc->per_block;
	/* whole blocks: the AVX-512 kernel gathers every lane's leaf, a tree or not (zeros) */
	sc->leaf_value = MemoryContextAllocExtended(CurrentMemoryContext,
												sizeof(double) * sc->word_bits *
													(Size) Max(sc->nblocks * sc->per_block, 1),
												MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	splits = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(ScorerSplit) * ((Size) nnodes / 2 + 1));
	lo = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint16) * ((Size) nnodes + 1));
	nleaves = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint16) * ((Size) nnodes + 1));

	/* leaves numbered left to right; a split's mask clears its left subtree's */
	for (int t = 0; t < ntrees; t++)
	{
		const GbtNode *tn = nodes + tree_start[t];
		uint32		   count = tree_start[t + 1] - tree_start[t];
		uint16		  *tlo = lo + tree_start[t];
		uint16		  *tnl = nleaves + tree_start[t];

		/* children come after their parent */
		for (uint32 k = count; k-- > 0;)
			tnl[k] = tn[k].feature < 0 ? 1 : tnl[tn[k].left] + tnl[tn[k].left + 1];
		tlo[0] = 0;
		for (uint32 k = 0; k < count; k++)
		{
			if (tn[k].feature < 0)
			{
				sc->leaf_value[(Size) t * sc->word_bits + tlo[k]] = tn[k].value;
				continue;
			}
			tlo[tn[k].left] = tlo[k];
			tlo[tn[k].left + 1] = tlo[k] + tnl[tn[k].left];
			splits[nsplits].feature = tn[k].feature;
			splits[nsplits].tree = t;
			splits[nsplits].threshold = tn[k].value;
			/* a left subtree has fewer than 64 leaves */
			splits[nsplits].mask = ~((((uint64) 1 << tnl[tn[k].left]) - 1) << tlo[k]);
			nsplits++;
		}
	}
	pfree(lo);
	pfree(nleaves);

	/* the model's distinct thresholds per feature */
	qsort(splits, nsplits, sizeof(ScorerSplit), CompareByFeature);
	sc->thr_start = palloc0(sizeof(uint32) * (n_features + 1));
	sc->thr = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * ((Size) nsplits + 1));
	sc->used = palloc(sizeof(int32) * n_features);
	{
		uint32 n = 0;

		for (uint32 i = 0; i < nsplits; i++)
		{
			if (i == 0 || splits[i].feature != splits[i - 1].feature)
				sc->used[sc->nused++] = splits[i].feature;
			if (i == 0 || splits[i].feature != splits[i - 1].feature ||
				splits[i].threshold != splits[i - 1].threshold)
			{
				sc->thr[n++] = splits[i].threshold;
				sc->thr_start[splits[i].feature + 1]++;
			}
		}
		for (int j = 0; j < n_features; j++)
			sc->thr_start[j + 1] += sc->thr_start[j];
	}

	/* the sizes of the blocks' tables */
	sort_per_block = sc->per_block;
	qsort(splits, nsplits, sizeof(ScorerSplit), CompareByBlock);
	for (uint32 i = 0; i < nsplits; i++)
	{
		bool new_group = i == 0 || splits[i].feature != splits[i - 1].feature ||
						 splits[i].tree / sc->per_block != splits[i - 1].tree / sc->per_block;

		if (new_group)
		{
			int f = splits[i].feature;

			nfeats++;
			nmap += sc->thr_start[f + 1] - sc->thr_start[f] + 1;
			nrows++;
		}
		if (new_group || splits[i].threshold != splits[i - 1].threshold)
			nrows++;
	}
	bytes = (Size) nmap * sizeof(uint32) + (Size) nrows * SCORER_ROW_BYTES;
	if ((double) bytes > (double) SCORER_FIXED_BYTES + (double) SCORER_BYTES_PER_NODE * nnodes)
	{
		pfree(splits);
		return NULL;
	}

	sc->block_feat = palloc0(sizeof(uint32) * (sc->nblocks + 1));
	sc->feats = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(ScorerFeature) * ((Size) nfeats + 1));
	sc->rank_map = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint32) * ((Size) nmap + 1));
	raw = MemoryContextAllocHuge(CurrentMemoryContext, (Size) nrows * SCORER_ROW_BYTES + SCORER_ROW_BYTES);
	sc->rows = (ScorerRow *) TYPEALIGN(SCORER_ROW_BYTES, raw);
	sc->rank = palloc0(sizeof(uint32) * Max(n_features, 1));
	block_thr = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * ((Size) nsplits + 1));

	/* per block and feature: the prefix ANDs by the block's rank, and the map to it */
	nmap = nrows = nfeats = 0;
	for (uint32 i = 0; i < nsplits;)
	{
		int			   f = splits[i].feature;
		uint32		   block = splits[i].tree / sc->per_block;
		uint32		   end = i;
		const double  *global = sc->thr + sc->thr_start[f];
		uint32		   nglobal = sc->thr_start[f + 1] - sc->thr_start[f];
		ScorerFeature *fe = &sc->feats[nfeats++];
		uint64		  *row;
		uint32		   local = 0,
			   nlocal = 0,
			   first_row;

		while (end < nsplits && splits[end].feature == f && splits[end].tree / sc->per_block == block)
			end++;
		sc->block_feat[block + 1] = nfeats;
		fe->feature = f;
		fe->map = nmap;
		first_row = nrows;
		row = (uint64 *) &sc->rows[nrows];
		for (int w = 0; w < SCORER_ROW_WORDS; w++)
			row[w] = ~(uint64) 0;
		nrows++;
		for (uint32 k = i; k < end; k++)
		{
			int	   lane = splits[k].tree % sc->per_block;
			uint64 clear;

			if (k == i || splits[k].threshold != splits[k - 1].threshold)
			{
				/* a new rank: x above this threshold fails it and every one below */
				memmove(row + SCORER_ROW_WORDS, row, SCORER_ROW_BYTES); /* the next row, adjacent */
				row += SCORER_ROW_WORDS;
				nrows++;
			}
			if (sc->word_bits == 32)
				clear = (uint64) (uint32) ~splits[k].mask << (32 * (lane % 2));
			else
				clear = ~splits[k].mask;
			row[sc->word_bits == 32 ? lane / 2 : lane] &= ~clear;
		}
		/* rank r among the model's: how many of the block's thresholds are among the r lowest */
		for (uint32 k = i; k < end; k++)
			if (k == i || splits[k].threshold != splits[k - 1].threshold)
				block_thr[nlocal++] = splits[k].threshold;
		for (uint32 r = 0; r <= nglobal; r++)
		{
			while (r > 0 && local < nlocal && block_thr[local] <= global[r - 1])
				local++;
			sc->rank_map[nmap + r] = first_row + local;
		}
		nmap += nglobal + 1;
		i = end;
	}
	/* blocks without a split: empty ranges */
	for (int b = 0; b < sc->nblocks; b++)
		sc->block_feat[b + 1] = Max(sc->block_feat[b + 1], sc->block_feat[b]);
	pfree(block_thr);
	pfree(splits);
#ifdef SCORER_AVX512
	BuildAvx512(sc, n_features);
#endif
	return sc;
}

/* how many of the n ascending thresholds at t are below v (branch-free) */
static inline uint32
CountBelow(const double *t, uint32 n, double v)
{
	const double *base = t;

	if (n == 0)
		return 0;
	while (n > 1)
	{
		uint32 half = n / 2;

		base = base[half] < v ? base + half : base;
		n -= half;
	}
	return (uint32) (base - t) + (*base < v);
}

/* s plus the leaf values of block b's trees, in tree order, from its AND of rows */
static pg_attribute_always_inline void
BlockLeaves(const GbtScorer *sc, int b, const uint64 *acc, double *s)
{
	int			  t0 = b * sc->per_block;
	int			  nt = Min(sc->per_block, sc->ntrees - t0);
	const double *leaf = sc->leaf_value + (Size) t0 * sc->word_bits;
	double		  sum = *s;

	if (sc->word_bits == 32)
		for (int i = 0; i < nt; i++, leaf += 32)
			sum += leaf[pg_rightmost_one_pos32((uint32) (acc[i / 2] >> (32 * (i % 2))))];
	else
		for (int i = 0; i < nt; i++, leaf += 64)
			sum += leaf[pg_rightmost_one_pos64(acc[i])];
	*s = sum;
}

/* intercept + the trees' leaf values for x, added in tree order; NaN when x has a NaN */
double
GbtScorerPredict(const GbtScorer *sc, double intercept, const double *x, int n_features, bool portable)
{
	uint32 *rank = sc->rank;
	double	s = intercept;

#ifdef SCORER_AVX512
	if (sc->avx512 && !portable)
		return PredictAvx512(sc, intercept, x, n_features);
#endif
	for (int j = 0; j < n_features; j++)
		if (unlikely(isnan(x[j])))
			return get_float8_nan();

	for (int k = 0; k < sc->nused; k++)
	{
		int f = sc->used[k];

		rank[f] = CountBelow(sc->thr + sc->thr_start[f], sc->thr_start[f + 1] - sc->thr_start[f], x[f]);
	}
	for (int b = 0; b < sc->nblocks; b++)
	{
		ScorerVec a0,
			a1,
			a2,
			a3;
		uint64 acc[SCORER_ROW_WORDS];

		a0 = a1 = a2 = a3 = (ScorerVec) {~(uint64) 0, ~(uint64) 0};
		for (uint32 k = sc->block_feat[b]; k < sc->block_feat[b + 1]; k++)
		{
			const ScorerFeature *fe = &sc->feats[k];
			const ScorerRow		*row = &sc->rows[sc->rank_map[fe->map + rank[fe->feature]]];

			a0 &= row->v[0];
			a1 &= row->v[1];
			a2 &= row->v[2];
			a3 &= row->v[3];
		}
		memcpy(acc, &a0, 16);
		memcpy(acc + 2, &a1, 16);
		memcpy(acc + 4, &a2, 16);
		memcpy(acc + 6, &a3, 16);
		BlockLeaves(sc, b, acc, &s);
	}
	return s;
}

#ifdef SCORER_AVX512
/* The padded thresholds of the AVX-512 ranks, when the CPU has AVX-512 */
static void
BuildAvx512(GbtScorer *sc, int n_features)
{
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512cd") ||
		!__builtin_cpu_supports("popcnt"))
		return;
	sc->rankers = palloc(sizeof(ScorerRanker) * Max(sc->nused, 1));
	for (int k = 0; k < sc->nused; k++)
	{
		ScorerRanker *rk = &sc->rankers[k];
		int			  f = sc->used[k];
		uint32		  n = sc->thr_start[f + 1] - sc->thr_start[f];
		uint32		  ngroups = n / 8 + 1; /* whole groups, and one more */
		double		 *groups = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * 8 * (Size) ngroups);
		double		 *samples;

		rk->feature = f;
		rk->nsamples = (ngroups + 7) / 8 * 8;
		samples = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * (Size) rk->nsamples);
		for (uint32 i = 0; i < 8 * ngroups; i++)
			groups[i] = i < n ? sc->thr[sc->thr_start[f] + i] : get_float8_infinity();
		for (uint32 j = 0; j < rk->nsamples; j++)
			samples[j] = j < ngroups ? groups[8 * j + 7] : get_float8_infinity();
		rk->samples = samples;
		rk->groups = groups;
	}
	sc->avx512 = true;
}

/*
 * s plus the 8 lanes of v, lane 0 first: each add takes its lane from a
 * register (the lanes of a 128-bit part by an unpack), so the chain of adds
 * waits on the gather only, not on a store of its result and scalar loads
 * of it (a 64-byte store forwarded to 8-byte loads)
 */
__attribute__((target("avx512f"))) static pg_attribute_always_inline double
AddLanes(double s, __m512d v)
{
	__m256d h0 = _mm512_castpd512_pd256(v);
	__m256d h1 = _mm512_extractf64x4_pd(v, 1);
	__m128d q0 = _mm256_castpd256_pd128(h0);
	__m128d q1 = _mm256_extractf128_pd(h0, 1);
	__m128d q2 = _mm256_castpd256_pd128(h1);
	__m128d q3 = _mm256_extractf128_pd(h1, 1);

	s += _mm_cvtsd_f64(q0);
	s += _mm_cvtsd_f64(_mm_unpackhi_pd(q0, q0));
	s += _mm_cvtsd_f64(q1);
	s += _mm_cvtsd_f64(_mm_unpackhi_pd(q1, q1));
	s += _mm_cvtsd_f64(q2);
	s += _mm_cvtsd_f64(_mm_unpackhi_pd(q2, q2));
	s += _mm_cvtsd_f64(q3);
	s += _mm_cvtsd_f64(_mm_unpackhi_pd(q3, q3));
	return s;
}

/*
 * s plus the leaf values of the first nt trees of a block (per_block
 * trees: 16, in v0 and v1, or 8, in v0), in tree order
 */
__attribute__((target("avx512f"))) static pg_attribute_always_inline double
AddBlock(double s, __m512d v0, __m512d v1, int per_block, int nt)
{
	double value[16];

	if (likely(nt == per_block))
	{
		s = AddLanes(s, v0);
		return per_block == 16 ? AddLanes(s, v1) : s;
	}
	_mm512_storeu_pd(value, v0);
	_mm512_storeu_pd(value + 8, v1);
	for (int i = 0; i < nt; i++)
		s += value[i];
	return s;
}

/*
 * GbtScorerPredict with AVX-512: a feature's rank in two compares of 8
 * (the groups below x, then the thresholds below x in its group), a block's
 * AND in one register, its exit leaves by a leading-zero count and their
 * values by a gather
 */
__attribute__((target("avx512f,avx512cd,popcnt"))) static double
PredictAvx512(const GbtScorer *sc, double intercept, const double *x, int n_features)
{
	uint32				*rank = sc->rank;
	const uint32		*rank_map = sc->rank_map;
	const ScorerRow		*rows = sc->rows;
	const ScorerFeature *feats = sc->feats;
	double				 s = intercept;
	__m512d				 p0 = _mm512_setzero_pd(); /* the last block's leaf values, not added yet */
	__m512d				 p1 = _mm512_setzero_pd();
	/* per lane, the index of its last leaf slot */
	const __m512i lane_end32 = _mm512_set_epi32(511, 479, 447, 415, 383, 351, 319, 287,
												255, 223, 191, 159, 127, 95, 63, 31);
	const __m512i lane_end64 = _mm512_set_epi64(511, 447, 383, 319, 255, 191, 127, 63);

	/* NaN anywhere in x: 8 at a time (a masked load does not touch what it leaves out) */
	for (int j = 0; j < n_features; j += 8)
	{
		__mmask8 in = n_features - j >= 8 ? 0xFF : (__mmask8) ((1u << (n_features - j)) - 1);
		__m512d	 v = _mm512_maskz_loadu_pd(in, x + j);

		if (unlikely(_mm512_cmp_pd_mask(v, v, _CMP_UNORD_Q) != 0))
			return get_float8_nan();
	}
	for (int k = 0; k < sc->nused; k++)
	{
		const ScorerRanker *rk = &sc->rankers[k];
		__m512d				v = _mm512_set1_pd(x[rk->feature]);
		uint32				group = __builtin_popcount(_mm512_cmp_pd_mask(_mm512_loadu_pd(rk->samples), v, _CMP_LT_OQ));

		for (uint32 q = 8; q < rk->nsamples; q += 8)
			group += __builtin_popcount(_mm512_cmp_pd_mask(_mm512_loadu_pd(rk->samples + q), v, _CMP_LT_OQ));
		rank[rk->feature] = 8 * group +
							__builtin_popcount(_mm512_cmp_pd_mask(_mm512_loadu_pd(rk->groups + 8 * group), v, _CMP_LT_OQ));
	}
	/*
	 * A block's leaf values are added after the next block's gathers are
	 * issued (in tree order still): the chain of adds then waits on
	 * gathers issued one block earlier
	 */
	for (int b = 0; b < sc->nblocks; b++)
	{
		__m512i		  acc = _mm512_set1_epi64(-1);
		int			  t0 = b * sc->per_block;
		const double *leaf = sc->leaf_value + (Size) t0 * sc->word_bits;
		__m512d		  g0,
			g1;

		for (uint32 k = sc->block_feat[b]; k < sc->block_feat[b + 1]; k++)
			acc = _mm512_and_si512(acc, _mm512_load_si512(&rows[rank_map[feats[k].map + rank[feats[k].feature]]]));

		/* a lane's exit leaf: its lowest set bit, 31 (63) - the leading zeros of that bit alone */
		if (sc->word_bits == 32)
		{
			__m512i low = _mm512_and_si512(acc, _mm512_sub_epi32(_mm512_setzero_si512(), acc));
			__m512i idx = _mm512_sub_epi32(lane_end32, _mm512_lzcnt_epi32(low));

			g0 = _mm512_i32gather_pd(_mm512_castsi512_si256(idx), leaf, 8);
			g1 = _mm512_i32gather_pd(_mm512_extracti64x4_epi64(idx, 1), leaf, 8);
		}
		else
		{
			__m512i low = _mm512_and_si512(acc, _mm512_sub_epi64(_mm512_setzero_si512(), acc));
			__m512i idx = _mm512_sub_epi64(lane_end64, _mm512_lzcnt_epi64(low));

			g0 = _mm512_i64gather_pd(idx, leaf, 8);
			g1 = _mm512_setzero_pd();
		}
		if (b > 0)
			s = AddBlock(s, p0, p1, sc->per_block, sc->per_block);
		p0 = g0;
		p1 = g1;
	}
	if (sc->nblocks > 0)
		s = AddBlock(s, p0, p1, sc->per_block, sc->ntrees - (sc->nblocks - 1) * sc->per_block);
	return s;
}
#endif
