/*
 * drift.c — distribution-drift statistics over two float8[] samples, the
 * reference (what a model was trained on) and the current window:
 *
 *   ks_test         two-sample Kolmogorov-Smirnov statistic and p-value, with
 *                   the p-value scipy.stats.ks_2samp gives by default (exact
 *                   when both samples have at most 10 000 values, else the
 *                   distribution of D_n at n = round(n1 n2 / (n1 + n2)))
 *   wasserstein     1-D earth mover's distance / max(population sd of ref, 0.001)
 *   psi, kl_div, jensen_shannon
 *                   over Evidently's bins: Sturges equal-width bins over both
 *                   samples when ref has more than 20 distinct values, else
 *                   one bin per distinct value; empty bins get a small share
 *   drift_test      one of the above with Evidently's default choice and
 *                   threshold, for monitor()
 *
 * NULL, NaN and +-Infinity elements are dropped (Evidently drops them too);
 * a sample with nothing left is an ERROR.  Each function sorts its samples
 * once (O(n log n)) and then walks them in step.
 *
 * The p-value algorithms follow scipy 1.10 (stats/_stats_py.py ks_2samp,
 * stats/_ksstats.py kolmogn): Hodges (1958) lattice paths for the exact
 * two-sample distribution, and for D_n the Durbin matrix (Marsaglia, Tsang
 * and Wang 2003), Pomeranz (1974), Pelz-Good (1976) and the Smirnov /
 * Birnbaum-Tingey sum, selected as in Simard and L'Ecuyer (2011).
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "drift.h"

/* Sorting doubles without a function-pointer call per comparison */
#define ST_SORT SortFloat8
#define ST_ELEMENT_TYPE double
#define ST_COMPARE(a, b) ((*(a) > *(b)) - (*(a) < *(b)))
#define ST_SCOPE static
#define ST_DECLARE
#define ST_DEFINE
#include "lib/sort_template.h"

#define ST_SORT SortDriftPoolValues
#define ST_ELEMENT_TYPE DriftPoolValue
#define ST_COMPARE(a, b) (((a)->v > (b)->v) - ((a)->v < (b)->v))
#define ST_SCOPE static
#define ST_DECLARE
#define ST_DEFINE
#include "lib/sort_template.h"

#define ST_SORT SortDriftRefValues
#define ST_ELEMENT_TYPE DriftRefValue
#define ST_COMPARE(a, b) (((a)->v > (b)->v) - ((a)->v < (b)->v))
#define ST_SCOPE static
#define ST_DECLARE
#define ST_DEFINE
#include "lib/sort_template.h"

/* scipy: ks_2samp's 'auto' method is exact up to this many values per sample */
#define KS_MAX_EXACT_N 10000
/* Evidently: reference samples up to this size are compared with KS */
#define DRIFT_KS_MAX_REFERENCE 1000
/* Evidently: a reference with more distinct values than this is binned */
#define DRIFT_MAX_DISCRETE_VALUES 20
/* Sturges bins DriftStatisticsExcluding counts on the stack: log2(2^62) + 2 */
#define DRIFT_WALK_MAX_BINS 64

typedef struct Sample
{
	double *v; /* sorted, finite */
	int		n;
} Sample;

typedef struct BinnedShares
{
	double *ref;
	double *cur;
	int		nbins;
} BinnedShares;

PG_FUNCTION_INFO_V1(stockml_ks_test);
PG_FUNCTION_INFO_V1(stockml_wasserstein);
PG_FUNCTION_INFO_V1(stockml_psi);
PG_FUNCTION_INFO_V1(stockml_kl_div);
PG_FUNCTION_INFO_V1(stockml_jensen_shannon);
PG_FUNCTION_INFO_V1(stockml_drift_test);
PG_FUNCTION_INFO_V1(stockml_drift_walk_check);

static void			SortInterruptible(double *v, int n);
static Sample		SampleFromArray(ArrayType *array, const char *argname);
static double		KsStatistic(const Sample *a, const Sample *b);
static double		KsPValue(int n1, int n2, double *d);
static double		ProbOutsideSquare(int n, int h);
static double		OuterProbInside(int m, int n, int g, int h);
static double		KolmogorovSf(int n, double x);
static double		KolmogorovCdfDurbin(int n, double d);
static double		KolmogorovCdfPomeranz(int n, double x);
static double		KolmogorovCdfPelzGood(int n, double x);
static double		SmirnovSf(int n, double x);
static double		Wasserstein(const Sample *ref, const Sample *cur);
static void			CheckSpan(const Sample *ref, const Sample *cur);
static void			CheckSpanValues(double lo, double hi);
static double		PopulationSd(const Sample *s);
static double		NormedBySd(double distance, double sd);
static int			SturgesBins(double lo, double hi, int64 n);
static void			SturgesEdges(double lo, double hi, int nbins, double *edges);
static double		NormedWasserstein(const Sample *ref, const Sample *cur);
static BinnedShares BinSamples(const Sample *ref, const Sample *cur);
static double		Psi(const BinnedShares *b);
static double		KlDiv(const BinnedShares *b);
static double		JensenShannon(const BinnedShares *b);
static Datum		BinnedStatistic(FunctionCallInfo fcinfo, double (*statistic)(const BinnedShares *));
static int64		Gcd(int64 a, int64 b);

/* runs sorted between interrupt checks: a few milliseconds each */
#define SORT_RUN 65536

/*
 * Sort v[0..n) with CHECK_FOR_INTERRUPTS every few milliseconds: runs of
 * SORT_RUN values sorted in place, then merged pairwise through a buffer, so
 * cancel and statement_timeout act on samples of tens of millions.
 */
static void
SortInterruptible(double *v, int n)
{
	double *src = v;
	double *dst;
	uint64 *keys = n >= DRIFT_RADIX_MIN ? palloc(sizeof(uint64) * 2 * Min(n, SORT_RUN)) : NULL;

	for (int lo = 0; lo < n; lo += SORT_RUN)
	{
		CHECK_FOR_INTERRUPTS();
		DriftSortValues(v + lo, Min(SORT_RUN, n - lo), keys);
	}
	if (keys)
		pfree(keys);
	if (n <= SORT_RUN)
		return;
	dst = palloc(sizeof(double) * n);
	for (int64 width = SORT_RUN; width < n; width *= 2)
	{
		double *t;

		for (int64 lo = 0; lo < n; lo += 2 * width)
		{
			int64 mid = Min(lo + width, (int64) n);
			int64 hi = Min(lo + 2 * width, (int64) n);
			int64 i = lo,
				  j = mid;

			for (int64 k = lo; k < hi; k++)
			{
				if ((k & 0xFFFFF) == 0)
					CHECK_FOR_INTERRUPTS();
				if (j >= hi || (i < mid && src[i] <= src[j]))
					dst[k] = src[i++];
				else
					dst[k] = src[j++];
			}
		}
		t = src;
		src = dst;
		dst = t;
	}
	if (src != v)
	{
		memcpy(v, src, sizeof(double) * n);
		pfree(src);
	}
	else
		pfree(dst);
}

/*
 * The finite elements of a float8[] (any shape), sorted.  ERROR when nothing
 * is left, naming the argument.
 */
static Sample
SampleFromArray(ArrayType *array, const char *argname)
{
	Sample s;
	int	   nitems;

	if (ARR_ELEMTYPE(array) != FLOAT8OID)
		elog(ERROR, "%s is not a float8 array", argname);
	nitems = ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array));
	s.v = palloc(sizeof(double) * Max(nitems, 1));
	s.n = 0;
	if (!ARR_HASNULL(array))
	{
		/* ARR_DATA_PTR without its signed/unsigned ?: (-Wsign-compare) */
		const double *data = (const double *) ((const char *) array + ARR_OVERHEAD_NONULLS(ARR_NDIM(array)));

		for (int i = 0; i < nitems; i++)
			if (isfinite(data[i]))
				s.v[s.n++] = data[i];
	}
	else
	{
		Datum *elems;
		bool  *nulls;
		int	   nelems;

		deconstruct_array(array, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
						  TYPALIGN_DOUBLE, &elems, &nulls, &nelems);
		for (int i = 0; i < nelems; i++)
		{
			double x;

			if (nulls[i])
				continue;
			x = DatumGetFloat8(elems[i]);
			if (isfinite(x))
				s.v[s.n++] = x;
		}
		pfree(elems);
		pfree(nulls);
	}
	if (s.n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s sample has no finite value", argname),
				 errdetail("The array has %d element%s; NULL, NaN and infinite elements are ignored.",
						   nitems, nitems == 1 ? "" : "s"),
				 errhint("Pass at least one finite value in each sample.")));
	SortInterruptible(s.v, s.n);
	return s;
}

static int64
Gcd(int64 a, int64 b)
{
	while (b != 0)
	{
		int64 t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/*
 * max |F1(x) - F2(x)| over the pooled values, both ECDFs right-continuous;
 * ties are consumed on both sides before comparing, as searchsorted(side =
 * 'right') does in scipy.
 */
static double
KsStatistic(const Sample *a, const Sample *b)
{
	int i = 0,
		j = 0;
	double maxdiff = 0.0,
		   mindiff = 0.0;

	while (i < a->n || j < b->n)
	{
		double x;
		double diff;

		if (j >= b->n || (i < a->n && a->v[i] <= b->v[j]))
			x = a->v[i];
		else
			x = b->v[j];
		while (i < a->n && a->v[i] == x)
			i++;
		while (j < b->n && b->v[j] == x)
			j++;
		diff = (double) i / a->n - (double) j / b->n;
		if (diff > maxdiff)
			maxdiff = diff;
		if (diff < mindiff)
			mindiff = diff;
	}
	/* not Max(): with both 0 it would return -mindiff, a -0 */
	return -mindiff > maxdiff ? Min(-mindiff, 1.0) : maxdiff;
}

/*
 * Two-sided p-value of the statistic *d for samples of sizes n1 and n2, as
 * scipy's ks_2samp(method='auto').  In exact mode scipy reports the statistic
 * rounded to a multiple of 1/lcm(n1, n2); *d is updated the same way.
 */
static double
KsPValue(int n1, int n2, double *d)
{
	double prob = NAN;

	if (Max(n1, n2) <= KS_MAX_EXACT_N)
	{
		int64 g = Gcd(n1, n2);
		int64 lcm = (n1 / g) * (int64) n2;
		int64 h = (int64) rint(*d * lcm);

		*d = (double) h / lcm;
		if (h == 0)
			return 1.0;
		if (n1 == n2)
			prob = ProbOutsideSquare(n1, (int) h);
		else
			prob = OuterProbInside(n1, n2, (int) g, (int) h);
		/* scipy falls back to the asymptotic distribution when this fails */
		if (!(prob >= 0.0 && prob <= 1.0))
			prob = NAN;
	}
	if (isnan(prob))
	{
		double m = Max(n1, n2);
		double n = Min(n1, n2);
		double en = m * n / (m + n);

		/* rint: round half to even, as numpy.round */
		prob = KolmogorovSf((int) rint(en), *d);
	}
	return Min(Max(prob, 0.0), 1.0);
}

/*
 * Pr(D_{n,n} >= h/n): 2 * sum_k (-1)^(k+1) binom(2n, n - k h) / binom(2n, n),
 * evaluated Horner-like to avoid cancellation.
 */
static double
ProbOutsideSquare(int n, int h)
{
	double p = 0.0;

	for (int64 k = n / h; k >= 0; k--)
	{
		double p1 = 1.0;

		for (int64 j = 0; j < h; j++)
			p1 = (double) (n - k * h - j) * p1 / (double) (n + k * h + j + 1);
		p = p1 * (1.0 - p);
	}
	return 2.0 * p;
}

/* OuterProbInside's band of column i: rows [*minj, *maxj) */
static inline void
BandOfColumn(int64 i, int64 mg, int64 ng, int h, int n, int64 *minj, int64 *maxj)
{
	*minj = Max((int64) floor((double) (ng * i - h) / mg) + 1, 0);
	*minj = Min(*minj, (int64) n);
	*maxj = Min((int64) ceil((double) (ng * i + h) / mg), (int64) n + 1);
}

/*
 * Share of the lattice paths from (0, 0) to (m, n) that leave the band
 * |x n/g - y m/g| < h: one column at a time over the band of y, each cell
 * the probability that a random path to it has already left (scipy's
 * _compute_outer_prob_inside_method, cell for cell).  A cell needs the one
 * below it and the one on its left, so columns i and i + 1 are computed
 * together, i + 1 a row behind: two chains of divisions in flight instead of
 * one, the same operations on the same operands.  A column's cells outside
 * its band read as 1.0 (rows are absolute, the band only moves up).
 */
static double
OuterProbInside(int m, int n, int g, int h)
{
	int64 mg,
		ng;
	int64	pmaxj;
	double *prev,
		*a,
		*b;
	double result;
	bool   empty = false; /* a band with no row: every path leaves */

	if (m < n)
	{
		int t = m;

		m = n;
		n = t;
	}
	mg = m / g;
	ng = n / g;
	prev = palloc(sizeof(double) * (n + 2));
	a = palloc(sizeof(double) * (n + 2));
	b = palloc(sizeof(double) * (n + 2));
	pmaxj = Min((int64) ceil((double) h / mg), (int64) n + 1);
	for (int64 j = 0; j < n + 2; j++)
	{
		prev[j] = j < pmaxj ? 0.0 : 1.0;
		a[j] = b[j] = 1.0;
	}
	for (int64 i = 1; i <= m && !empty; i += 2)
	{
		int64 aminj,
			amaxj,
			bminj,
			bmaxj;
		double va,
			vb;
		double *t;

		CHECK_FOR_INTERRUPTS();
		BandOfColumn(i, mg, ng, h, n, &aminj, &amaxj);
		if (amaxj <= aminj)
		{
			empty = true;
			break;
		}
		va = (aminj == 0) ? 0.0 : 1.0;
		if (i == m)
		{
			/* the last column alone */
			for (int64 j = aminj; j < amaxj; j++)
			{
				va = (prev[j] * i + va * j) / (double) (i + j);
				a[j] = va;
			}
			pmaxj = amaxj;
			t = prev;
			prev = a;
			a = t;
			break;
		}
		BandOfColumn(i + 1, mg, ng, h, n, &bminj, &bmaxj);
		if (bmaxj <= bminj)
		{
			empty = true;
			break;
		}
		vb = (bminj == 0) ? 0.0 : 1.0;
		/* column i's row j, then column i + 1's row j - 1 (bminj >= aminj, bmaxj >= amaxj) */
		for (int64 j = aminj; j <= bmaxj; j++)
		{
			if (j < amaxj)
			{
				va = (prev[j] * i + va * j) / (double) (i + j);
				a[j] = va;
			}
			if (j - 1 >= bminj && j - 1 < bmaxj)
			{
				vb = (a[j - 1] * (i + 1) + vb * (j - 1)) / (double) (i + 1 + j - 1);
				b[j - 1] = vb;
			}
		}
		pmaxj = bmaxj;
		/* prev's cells are column i - 1's, a's column i's: both only up to amaxj */
		t = prev;
		prev = b;
		b = t;
		t = a;
		a = b;
		b = t;
	}
	result = empty ? 1.0 : prev[pmaxj - 1];
	pfree(prev);
	pfree(a);
	pfree(b);
	return result;
}

/* log(n! / n^n) by Stirling's series with n log n taken out */
static double
LogFactorialOverPower(int n)
{
	static const double coeffs[] = {
		-2.955065359477124183e-2, 6.4102564102564102564e-3,
		-1.9175269175269175269e-3, 8.4175084175084175084e-4,
		-5.952380952380952381e-4, 7.9365079365079365079e-4,
		-2.7777777777777777778e-3, 8.3333333333333333333e-2};
	double rn = 1.0 / n;
	double poly = 0.0;

	for (int i = 0; i < (int) lengthof(coeffs); i++)
		poly = poly * (rn / n) + coeffs[i];
	return log((double) n) / 2 - n + log(2 * M_PI) / 2 + rn * poly;
}

/*
 * Pr(D_n > x) for the two-sided one-sample statistic D_n (scipy's
 * kstwo.sf), choosing the algorithm by n and n x^2 as Simard and L'Ecuyer
 * recommend.
 */
static double
KolmogorovSf(int n, double x)
{
	double t = n * x;
	double nxx;
	double cdf;

	if (n <= 0)
		return NAN;
	if (x >= 1.0)
		return 0.0;
	if (x <= 0.0)
		return 1.0;
	if (t <= 1.0)
	{
		double prob;

		/* Ruben-Gambino: 1/2n <= x <= 1/n */
		if (t <= 0.5)
			return 1.0;
		if (n <= 140)
		{
			prob = 1.0;
			for (int i = 1; i <= n; i++)
				prob *= i * (1.0 / n) * (2 * t - 1);
		}
		else
			prob = exp(LogFactorialOverPower(n) + n * log(2 * t - 1));
		return Min(Max(1.0 - prob, 0.0), 1.0);
	}
	if (t >= n - 1)
		return Min(Max(2 * pow(1.0 - x, n), 0.0), 1.0);
	if (x >= 0.5)
		return Min(Max(2 * SmirnovSf(n, x), 0.0), 1.0);

	nxx = t * x;
	if (n <= 140)
	{
		if (nxx <= 0.754693)
			cdf = KolmogorovCdfDurbin(n, x);
		else if (nxx <= 4)
			cdf = KolmogorovCdfPomeranz(n, x);
		else
			return Min(Max(2 * SmirnovSf(n, x), 0.0), 1.0);
		return Min(Max(1.0 - cdf, 0.0), 1.0);
	}
	if (nxx >= 370.0)
		return 0.0;
	if (nxx >= 2.2)
		return Min(Max(2 * SmirnovSf(n, x), 0.0), 1.0);
	if (n <= 100000 && n * pow(x, 1.5) <= 1.4)
		cdf = KolmogorovCdfDurbin(n, x);
	else
		cdf = KolmogorovCdfPelzGood(n, x);
	return Min(Max(1.0 - cdf, 0.0), 1.0);
}

/* c = a b for k x k matrices (row-major) */
static void
MatMul(const double *a, const double *b, double *c, int k)
{
	memset(c, 0, sizeof(double) * k * k);
	for (int i = 0; i < k; i++)
		for (int l = 0; l < k; l++)
		{
			double ail = a[i * k + l];

			if (ail == 0.0)
				continue;
			for (int j = 0; j < k; j++)
				c[i * k + j] += ail * b[l * k + j];
		}
}

/*
 * Pr(D_n <= d) by Durbin's matrix: with d = (k - h)/n, the (k, k) entry of
 * H^n times n!/n^n; intermediate powers rescaled by 2^128.
 */
static double
KolmogorovCdfDurbin(int n, double d)
{
	const double scale = ldexp(1.0, 128);
	double		 nd = n * d;
	int			 k,
		m;
	double h,
		fac,
		p,
		tt;
	double *H,
		*P,
		*T,
		*v,
		*w;
	int expnt = 0,
		Hexpnt = 0;

	if (d >= 1.0)
		return 1.0;
	if (nd <= 0.5)
		return 0.0;
	k = (int) ceil(nd);
	h = k - nd;
	m = 2 * k - 1;

	H = palloc0(sizeof(double) * m * m);
	P = palloc0(sizeof(double) * m * m);
	T = palloc(sizeof(double) * m * m);
	v = palloc(sizeof(double) * m);
	w = palloc(sizeof(double) * m);

	fac = 1.0;
	for (int j = 1; j <= m; j++)
	{
		w[j - 1] = fac;
		fac /= j;
		v[j - 1] = (1.0 - pow(h, j)) * fac;
	}
	tt = pow(Max(2 * h - 1.0, 0.0), m) - 2 * pow(h, m);
	v[m - 1] = (1.0 + tt) * fac;

	for (int i = 1; i < m; i++)
		for (int r = i - 1; r < m; r++)
			H[r * m + i] = w[r - (i - 1)];
	for (int r = 0; r < m; r++)
		H[r * m] = v[r];
	for (int c = 0; c < m; c++)
		H[(m - 1) * m + c] = v[m - 1 - c];
	for (int i = 0; i < m; i++)
		P[i * m + i] = 1.0;

	for (int nn = n; nn > 0; nn /= 2)
	{
		double *swap;

		CHECK_FOR_INTERRUPTS();
		if (nn % 2)
		{
			MatMul(P, H, T, m);
			swap = P;
			P = T;
			T = swap;
			expnt += Hexpnt;
		}
		MatMul(H, H, T, m);
		swap = H;
		H = T;
		T = swap;
		Hexpnt *= 2;
		if (fabs(H[(k - 1) * m + (k - 1)]) > scale)
		{
			for (int i = 0; i < m * m; i++)
				H[i] /= scale;
			Hexpnt += 128;
		}
	}
	p = P[(k - 1) * m + (k - 1)];
	for (int i = 1; i <= n; i++)
	{
		p = i * p / n;
		if (fabs(p) < 1.0 / scale)
		{
			p *= scale;
			expnt -= 128;
		}
	}
	if (expnt != 0)
		p = ldexp(p, expnt);
	pfree(H);
	pfree(P);
	pfree(T);
	pfree(v);
	pfree(w);
	return Min(Max(p, 0.0), 1.0);
}

/* First and last non-zero column of row i in Pomeranz's recursion */
static void
PomeranzBounds(int i, int n, int ll, int ceilf, int roundf, int *j1, int *j2)
{
	int a,
		b;

	if (i == 0)
	{
		a = -ll - ceilf - 1;
		b = ll + ceilf - 1;
	}
	else
	{
		int half = (i + 1) / 2;

		if ((i + 1) % 2 == 0)
		{
			if (half == n + 1)
			{
				a = n - ll - ceilf - 1;
				b = n + ll + ceilf - 1;
			}
			else
			{
				a = half - 1 - ll - roundf - 1;
				b = half + ll - 1 + ceilf - 1;
			}
		}
		else
		{
			a = half - 1 - ll - 1;
			b = half + ll + roundf - 1;
		}
	}
	*j1 = Max(a + 2, 0);
	*j2 = Min(b, n);
}

/* Pr(D_n <= x) by Pomeranz's recursion (two rows, rescaled by 2^128) */
static double
KolmogorovCdfPomeranz(int n, double x)
{
	const double scale = ldexp(1.0, 128);
	double		 t = n * x;
	int			 ll = (int) floor(t);
	double		 f = t - ll;
	double		 g = Min(f, 1.0 - f);
	int			 ceilf = f > 0 ? 1 : 0;
	int			 roundf = f > 0.5 ? 1 : 0;
	int			 npwrs = 2 * (ll + 1);
	double		*gpower = palloc(sizeof(double) * npwrs);
	double		*twogpower = palloc(sizeof(double) * npwrs);
	double		*onem2gpower = palloc(sizeof(double) * npwrs);
	double		*V0 = palloc0(sizeof(double) * npwrs);
	double		*V1 = palloc0(sizeof(double) * npwrs);
	int			 V0s = 0,
		V1s = 0;
	int j1,
		j2;
	int	   expnt = 0;
	double ans;

	gpower[0] = twogpower[0] = onem2gpower[0] = 1.0;
	for (int m = 1; m < npwrs; m++)
	{
		gpower[m] = gpower[m - 1] * (g / n) / m;
		twogpower[m] = twogpower[m - 1] * (2 * g / n) / m;
		onem2gpower[m] = onem2gpower[m - 1] * ((1 - 2 * g) / n) / m;
	}
	V1[0] = 1.0;
	PomeranzBounds(0, n, ll, ceilf, roundf, &j1, &j2);
	for (int i = 1; i < 2 * n + 2; i++)
	{
		int			  k1 = j1;
		double		 *swap = V0;
		int			  swaps = V0s;
		const double *pwrs;
		int			  ln2;

		V0 = V1;
		V1 = swap;
		V0s = V1s;
		V1s = swaps;
		memset(V1, 0, sizeof(double) * npwrs);
		PomeranzBounds(i, n, ll, ceilf, roundf, &j1, &j2);
		if (i == 1 || i == 2 * n + 1)
			pwrs = gpower;
		else
			pwrs = (i % 2) ? twogpower : onem2gpower;
		ln2 = j2 - k1 + 1;
		if (ln2 > 0)
		{
			int	   conv_start = j1 - k1;
			int	   conv_len = j2 - j1 + 1;
			int	   base = k1 - V0s;
			double vmax = 0.0;

			/* the needed slice of the full convolution of V0[base..] with pwrs */
			for (int c = 0; c < conv_len; c++)
			{
				int	   idx = conv_start + c;
				double sum = 0.0;

				for (int a = Max(0, idx - (ln2 - 1)); a <= Min(idx, ln2 - 1); a++)
				{
					int vi = base + a;

					if (vi >= 0 && vi < npwrs)
						sum += V0[vi] * pwrs[idx - a];
				}
				V1[c] = sum;
				vmax = Max(vmax, sum);
			}
			if (vmax > 0 && vmax < 1.0 / scale)
			{
				for (int c = 0; c < npwrs; c++)
					V1[c] *= scale;
				expnt -= 128;
			}
			V1s = V0s + j1 - k1;
		}
	}
	ans = V1[n - V1s];
	for (int m = 1; m <= n; m++)
	{
		if (fabs(ans) > scale)
		{
			ans /= scale;
			expnt += 128;
		}
		ans *= m;
	}
	if (expnt != 0)
		ans = ldexp(ans, expnt);
	pfree(gpower);
	pfree(twogpower);
	pfree(onem2gpower);
	pfree(V0);
	pfree(V1);
	return Min(Max(ans, 0.0), 1.0);
}

/*
 * Pr(D_n <= x) by Pelz and Good's expansion
 * K0(z) + K1(z)/sqrt(n) + K2(z)/n + K3(z)/n^1.5, z = x sqrt(n).
 */
static double
KolmogorovCdfPelzGood(int n, double x)
{
	const double pi2 = M_PI * M_PI,
				 pi4 = pi2 * pi2,
				 pi6 = pi4 * pi2,
				 sqrt2pi = sqrt(2 * M_PI);
	double z,
		z2,
		z3,
		z4,
		z6,
		q,
		qlog;
	double k1a,
		k1b,
		k2a,
		k2b,
		k2c,
		k3a,
		k3b,
		k3c,
		k3d;
	double K[4] = {0, 0, 0, 0};
	double k2extra = 0.0,
		   k3extra = 0.0;
	int maxk;

	if (x <= 0.0)
		return 0.0;
	if (x >= 1.0)
		return 1.0;
	z = sqrt((double) n) * x;
	z2 = z * z;
	z3 = z2 * z;
	z4 = z2 * z2;
	z6 = z4 * z2;
	qlog = -pi2 / 8 / z2;
	if (qlog < -708)
		return 0.0;
	q = exp(qlog);

	k1a = -z2;
	k1b = pi2 / 4;
	k2a = 6 * z6 + 2 * z4;
	k2b = (2 * z4 - 5 * z2) * pi2 / 4;
	k2c = pi4 * (1 - 2 * z2) / 16;
	k3d = pi6 * (5 - 30 * z2) / 64;
	k3c = pi4 * (-60 * z2 + 212 * z4) / 16;
	k3b = pi2 * (135 * z4 - 96 * z6) / 4;
	k3a = -30 * z6 - 90 * pow(z, 8);

	maxk = (int) ceil(16 * z / M_PI);
	for (int k = maxk; k > 0; k--)
	{
		double m = 2 * k - 1;
		double m2 = m * m,
			   m4 = m2 * m2,
			   m6 = m4 * m2;
		double qpower = pow(q, 8 * k);

		K[0] = K[0] * qpower + 1.0;
		K[1] = K[1] * qpower + (k1a + k1b * m2);
		K[2] = K[2] * qpower + (k2a + k2b * m2 + k2c * m4);
		K[3] = K[3] * qpower + (k3a + k3b * m2 + k3c * m4 + k3d * m6);
	}
	for (int i = 0; i < 4; i++)
		K[i] *= q * sqrt2pi;
	K[0] /= z;
	K[1] /= 6 * z4;
	K[2] /= 72 * pow(z, 7);
	K[3] /= 6480 * pow(z, 10);

	q = exp(-pi2 / 2 / z2);
	for (int k = maxk; k > 0; k--)
	{
		double k2 = (double) k * k;
		double qp = pow(q, k2);
		double kpi = M_PI * k;

		k2extra += k2 * qp;
		k3extra += (sqrt(3.0) * z + kpi) * (sqrt(3.0) * z - kpi) * k2 * qp;
	}
	K[2] += k2extra * pi2 * sqrt2pi / (-36 * z3);
	K[3] += k3extra * pi2 * sqrt2pi / (216 * z6);
	for (int i = 1; i < 4; i++)
		K[i] /= pow((double) n, i / 2.0);
	return K[0] + K[1] + K[2] + K[3];
}

/*
 * Pr(D+_n > x), one-sided, by the Smirnov / Birnbaum-Tingey sum
 *   x sum_{v=0}^{floor(n(1-x))} C(n,v) (x + v/n)^(v-1) (1 - x - v/n)^(n-v),
 * whose terms are all positive; each is formed in logs so none overflows.
 */
static double
SmirnovSf(int n, double x)
{
	int	   last;
	double sum = 0.0;
	double lgn1;

	if (x <= 0.0)
		return 1.0;
	if (x >= 1.0)
		return 0.0;
	if (n == 1)
		return 1.0 - x;
	last = (int) floor(n * (1.0 - x));
	lgn1 = lgamma(n + 1.0);
	for (int v = 0; v <= last; v++)
	{
		double evn = x + (double) v / n;
		double omevn = 1.0 - evn;
		double lt;

		if ((v & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
		if (omevn <= 0.0)
			continue;
		lt = lgn1 - lgamma(v + 1.0) - lgamma((double) (n - v) + 1.0) + (v - 1) * log(evn) + (n - v) * log1p(-evn);
		if (lt > -745)
			sum += exp(lt);
	}
	return Min(Max(sum * x, 0.0), 1.0);
}

/*
 * scipy.stats.wasserstein_distance: the integral of |F_ref - F_cur| over
 * the pooled values.
 */
static double
Wasserstein(const Sample *ref, const Sample *cur)
{
	int i = 0,
		j = 0;
	double sum = 0.0;
	double x;

	x = Min(ref->v[0], cur->v[0]);
	while (i < ref->n || j < cur->n)
	{
		double next;

		while (i < ref->n && ref->v[i] == x)
			i++;
		while (j < cur->n && cur->v[j] == x)
			j++;
		if (i >= ref->n && j >= cur->n)
			break;
		if (j >= cur->n || (i < ref->n && ref->v[i] <= cur->v[j]))
			next = ref->v[i];
		else
			next = cur->v[j];
		sum += fabs((double) i / ref->n - (double) j / cur->n) * (next - x);
		x = next;
	}
	return sum;
}

/*
 * Evidently's wasserstein_distance_norm: the distance in units of the
 * reference's population sd, floored at 0.001 so a constant reference stays
 * finite.
 */
static double
NormedWasserstein(const Sample *ref, const Sample *cur)
{
	double sd;

	CheckSpan(ref, cur);
	sd = PopulationSd(ref);
	return NormedBySd(Wasserstein(ref, cur), sd);
}

/* distance / max(sd, 0.001); ERROR when the sd overflowed */
static double
NormedBySd(double distance, double sd)
{
	if (!isfinite(sd))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the reference's standard deviation overflows float8"),
				 errhint("Rescale the values (e.g. divide by a typical magnitude) or drop the extreme ones.")));
	return distance / Max(sd, 0.001);
}

/*
 * ERROR when the two samples together span more than float8 can hold (e.g.
 * -1e308 and 1e308): their distances, bin widths and spread would overflow to
 * infinity and report enormous drift as none.
 */
static void
CheckSpan(const Sample *ref, const Sample *cur)
{
	CheckSpanValues(Min(ref->v[0], cur->v[0]), Max(ref->v[ref->n - 1], cur->v[cur->n - 1]));
}

/* CheckSpan of two samples whose smallest value is lo and largest hi */
static void
CheckSpanValues(double lo, double hi)
{
	if (!isfinite(hi - lo))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("samples span %g to %g, too wide to measure drift in float8", lo, hi),
				 errhint("Rescale the values (e.g. divide by a typical magnitude) or drop the extreme ones.")));
}

/* numpy.std(ddof=0), two-pass */
static double
PopulationSd(const Sample *s)
{
	double mean = 0.0,
		   ss = 0.0;

	for (int i = 0; i < s->n; i++)
		mean += s->v[i];
	mean /= s->n;
	for (int i = 0; i < s->n; i++)
		ss += (s->v[i] - mean) * (s->v[i] - mean);
	return sqrt(ss / s->n);
}

/* Index of the first element of sorted v that is >= x (left) or > x (right) */
static int
SearchSorted(const double *v, int n, double x, bool right)
{
	int lo = 0,
		hi = n;

	while (lo < hi)
	{
		int mid = lo + (hi - lo) / 2;

		if (right ? v[mid] <= x : v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Replace empty shares as Evidently's get_binned_data(feel_zeroes=True)
 * does: by a millionth of the smallest non-empty share when that is at most
 * 0.0001, else by 0.0001.
 */
static void
FillEmptyShares(double *share, int nbins)
{
	double smallest = INFINITY;

	for (int i = 0; i < nbins; i++)
		if (share[i] != 0.0 && share[i] < smallest)
			smallest = share[i];
	if (isinf(smallest))
		return;
	for (int i = 0; i < nbins; i++)
		if (share[i] == 0.0)
			share[i] = smallest <= 0.0001 ? smallest / 1e6 : 0.0001;
}

/* numpy's Sturges bin count over [lo, hi] (lo < hi) for n values in all */
static int
SturgesBins(double lo, double hi, int64 n)
{
	double width = (hi - lo) / (log2((double) n) + 1.0);

	return (int) ceil((hi - lo) / width);
}

/* np.histogram_bin_edges: edges[0..nbins], i * step + lo, the last one hi */
static void
SturgesEdges(double lo, double hi, int nbins, double *edges)
{
	double step = (hi - lo) / nbins;

	for (int i = 0; i < nbins; i++)
		edges[i] = i * step + lo;
	edges[nbins] = hi;
}

/*
 * Evidently's get_binned_data for a numerical feature: when the reference
 * has more than 20 distinct values, numpy's Sturges bin edges over both
 * samples (np.histogram_bin_edges(bins='sturges')) and np.histogram's
 * counting (each bin closed on the left, the last closed on both sides);
 * otherwise one bin per distinct value of either sample.  Shares are counts
 * divided by the sample's size, then empty bins are filled.
 */
static BinnedShares
BinSamples(const Sample *ref, const Sample *cur)
{
	BinnedShares b;
	int			 distinct = 1;

	for (int i = 1; i < ref->n && distinct <= DRIFT_MAX_DISCRETE_VALUES; i++)
		if (ref->v[i] != ref->v[i - 1])
			distinct++;

	CheckSpan(ref, cur);
	if (distinct > DRIFT_MAX_DISCRETE_VALUES)
	{
		double	lo = Min(ref->v[0], cur->v[0]);
		double	hi = Max(ref->v[ref->n - 1], cur->v[cur->n - 1]);
		double *edges;

		/* lo < hi: the reference alone has more than 20 distinct values */
		b.nbins = SturgesBins(lo, hi, (int64) ref->n + cur->n);
		edges = palloc(sizeof(double) * (b.nbins + 1));
		SturgesEdges(lo, hi, b.nbins, edges);
		b.ref = palloc(sizeof(double) * b.nbins);
		b.cur = palloc(sizeof(double) * b.nbins);
		for (int s = 0; s < 2; s++)
		{
			const Sample *smp = s == 0 ? ref : cur;
			double		 *share = s == 0 ? b.ref : b.cur;
			int			  prev = SearchSorted(smp->v, smp->n, edges[0], false);

			for (int i = 0; i < b.nbins; i++)
			{
				int upto = (i == b.nbins - 1) ? SearchSorted(smp->v, smp->n, edges[i + 1], true) : SearchSorted(smp->v, smp->n, edges[i + 1], false);

				share[i] = (double) (upto - prev) / smp->n;
				prev = upto;
			}
		}
		pfree(edges);
	}
	else
	{
		int i = 0,
			j = 0;

		b.nbins = 0;
		b.ref = palloc(sizeof(double) * (ref->n + cur->n));
		b.cur = palloc(sizeof(double) * (ref->n + cur->n));
		while (i < ref->n || j < cur->n)
		{
			double x;
			int	   ci = 0,
				cj = 0;

			if (j >= cur->n || (i < ref->n && ref->v[i] <= cur->v[j]))
				x = ref->v[i];
			else
				x = cur->v[j];
			for (; i < ref->n && ref->v[i] == x; i++)
				ci++;
			for (; j < cur->n && cur->v[j] == x; j++)
				cj++;
			b.ref[b.nbins] = (double) ci / ref->n;
			b.cur[b.nbins] = (double) cj / cur->n;
			b.nbins++;
		}
	}
	FillEmptyShares(b.ref, b.nbins);
	FillEmptyShares(b.cur, b.nbins);
	return b;
}

/* Evidently's PSI: sum (r - c) ln(r / c) over the bins */
static double
Psi(const BinnedShares *b)
{
	double sum = 0.0;

	for (int i = 0; i < b->nbins; i++)
		sum += (b->ref[i] - b->cur[i]) * log(b->ref[i] / b->cur[i]);
	return sum;
}

/* scipy.stats.entropy(ref, cur): both share vectors normalised to sum 1 */
static double
KlDiv(const BinnedShares *b)
{
	double sr = 0.0,
		   sc = 0.0,
		   sum = 0.0;

	for (int i = 0; i < b->nbins; i++)
	{
		sr += b->ref[i];
		sc += b->cur[i];
	}
	for (int i = 0; i < b->nbins; i++)
	{
		double p = b->ref[i] / sr,
			   q = b->cur[i] / sc;

		if (p > 0)
			sum += p * log(p / q);
	}
	return sum;
}

/*
 * scipy.spatial.distance.jensenshannon(ref, cur): the square root of the
 * Jensen-Shannon divergence (natural log) of the normalised shares.
 */
static double
JensenShannon(const BinnedShares *b)
{
	double sr = 0.0,
		   sc = 0.0,
		   left = 0.0,
		   right = 0.0;

	for (int i = 0; i < b->nbins; i++)
	{
		sr += b->ref[i];
		sc += b->cur[i];
	}
	for (int i = 0; i < b->nbins; i++)
	{
		double p = b->ref[i] / sr,
			   q = b->cur[i] / sc,
			   m = (p + q) / 2.0;

		if (p > 0)
			left += p * log(p / m);
		if (q > 0)
			right += q * log(q / m);
	}
	return sqrt(Max((left + right) / 2.0, 0.0));
}

const char *const DriftMethodNames[DRIFT_NMETHODS] = {
	"ks", "wasserstein", "psi", "kl_div", "jensen_shannon"};

void
DriftStatistics(const double *ref, int nref, const double *cur, int ncur, double *out)
{
	Sample		 r = {(double *) ref, nref};
	Sample		 c = {(double *) cur, ncur};
	BinnedShares b = BinSamples(&r, &c); /* once for the three binned ones */

	out[DRIFT_KS] = KsStatistic(&r, &c);
	out[DRIFT_WASSERSTEIN] = NormedWasserstein(&r, &c);
	out[DRIFT_PSI] = Psi(&b);
	out[DRIFT_KL_DIV] = KlDiv(&b);
	out[DRIFT_JENSEN_SHANNON] = JensenShannon(&b);
	pfree(b.ref);
	pfree(b.cur);
}

/* An unsigned key in the order of the double: positive values' sign bit set, negative ones' bits inverted */
static inline uint64
DriftSortKey(double v)
{
	uint64 u;

	memcpy(&u, &v, sizeof(u));
	return u ^ ((UINT64CONST(0) - (u >> 63)) | UINT64CONST(0x8000000000000000));
}

static inline double
DriftKeyValue(uint64 key)
{
	double v;

	key ^= ((key >> 63) - 1) | UINT64CONST(0x8000000000000000);
	memcpy(&v, &key, sizeof(v));
	return v;
}

/*
 * Turn count[byte][value] (the keys' bytes counted) into each value's first
 * position; returns the bytes that differ between keys, in order, in
 * bytes[] (a byte every key shares needs no pass), and how many.
 */
static int
RadixPasses(uint32 (*count)[256], uint64 differ, int *bytes)
{
	int passes = 0;

	for (int b = 0; b < 8; b++)
	{
		uint32 at = 0;

		if (((differ >> (8 * b)) & 0xFF) == 0)
			continue;
		for (int d = 0; d < 256; d++)
		{
			uint32 c = count[b][d];

			count[b][d] = at;
			at += c;
		}
		bytes[passes++] = b;
	}
	return passes;
}

/*
 * Sort n items of size bytes by their first 8 bytes, a uint64 key: a least
 * significant digit radix sort, a byte a pass, skipping the bytes every key
 * shares; a and tmp hold n items each.  Returns where the sorted items are
 * (a or tmp).
 */
static pg_attribute_always_inline char *
RadixSortItems(char *a, char *tmp, int n, size_t size)
{
	uint32 count[8][256];
	int	   bytes[8];
	int	   passes;
	uint64 first,
		differ = 0;

	memset(count, 0, sizeof(count));
	memcpy(&first, a, sizeof(first));
	for (int i = 0; i < n; i++)
	{
		uint64 k;

		memcpy(&k, a + i * size, sizeof(k));
		differ |= k ^ first;
		for (int d = 0; d < 8; d++)
			count[d][(k >> (8 * d)) & 0xFF]++;
	}
	passes = RadixPasses(count, differ, bytes);
	for (int p = 0; p < passes; p++)
	{
		int		shift = 8 * bytes[p];
		uint32 *at = count[bytes[p]];
		char   *t;

		for (int i = 0; i < n; i++)
		{
			uint64 k;

			memcpy(&k, a + i * size, sizeof(k));
			memcpy(tmp + (size_t) at[(k >> shift) & 0xFF]++ * size, a + i * size, size);
		}
		t = a;
		a = tmp;
		tmp = t;
	}
	return a;
}

/*
 * Sort n finite values ascending (tmp: room for 2 n keys): a radix sort over
 * DriftSortKey, for the windows of the drift null; a comparison sort for few
 * values.  Equal values are equal bits but for -0.0 and +0.0, which every
 * statistic here treats alike, and in any order.
 */
void
DriftSortValues(double *v, int n, uint64 *tmp)
{
	uint64 *sorted;

	if (n < DRIFT_RADIX_MIN)
	{
		SortFloat8(v, n);
		return;
	}
	for (int i = 0; i < n; i++)
		tmp[i] = DriftSortKey(v[i]);
	sorted = (uint64 *) RadixSortItems((char *) tmp, (char *) (tmp + n), n, sizeof(uint64));
	for (int i = 0; i < n; i++)
		v[i] = DriftKeyValue(sorted[i]);
}

/* DriftSortValues for a pool (by v, its key in v's place while sorting; tmp: room for n values) */
void
DriftSortPool(DriftPoolValue *pool, int n, DriftPoolValue *tmp)
{
	DriftPoolValue *sorted;

	StaticAssertStmt(offsetof(DriftPoolValue, v) == 0, "the key is a pool value's first 8 bytes");
	if (n < DRIFT_RADIX_MIN)
	{
		SortDriftPoolValues(pool, n);
		return;
	}
	for (int i = 0; i < n; i++)
	{
		uint64 k = DriftSortKey(pool[i].v);

		memcpy(&pool[i].v, &k, sizeof(k));
	}
	sorted = (DriftPoolValue *) RadixSortItems((char *) pool, (char *) tmp, n, sizeof(DriftPoolValue));
	if (sorted != pool)
		memcpy(pool, sorted, sizeof(DriftPoolValue) * n);
	for (int i = 0; i < n; i++)
	{
		uint64 k;

		memcpy(&k, &pool[i].v, sizeof(k));
		pool[i].v = DriftKeyValue(k);
	}
}

/*
 * v when keep, else +0.0, without a branch (the compilers turn keep ? v : 0.0
 * into one, mispredicted wherever keep follows the data)
 */
static inline double
KeepOrZero(double v, bool keep)
{
	uint64 bits;

	memcpy(&bits, &v, sizeof(bits));
	bits &= -(uint64) keep;
	memcpy(&v, &bits, sizeof(bits));
	return v;
}

/* share tables DriftWalkScratch keeps per sample, by n modulo this (a power of 2) */
#define DRIFT_WALK_TABLES 4

/* (double) i / n for i = 0..n, for the last few n */
typedef struct ShareTables
{
	int		n[DRIFT_WALK_TABLES];
	double *share[DRIFT_WALK_TABLES];
} ShareTables;

struct DriftWalkScratch
{
	int			cap;		 /* values of the largest sample or pool, + 1 */
	double	   *sub;		 /* the reference without the excluded values, + a sentinel */
	double	   *cur;		 /* the current sample, + a sentinel */
	double	   *merged;		 /* DriftStatisticsOfPool: both samples in order, + a sentinel */
	uint8	   *merged_from; /* ... 1: from the reference, 2: from cur, 3: both */
	ShareTables ref;		 /* tables of each sample apart: one never evicts the other's */
	ShareTables cur_tables;
};

DriftWalkScratch *
DriftWalkScratchCreate(int max_values)
{
	DriftWalkScratch *s = palloc0(sizeof(DriftWalkScratch));

	s->cap = max_values + 1;
	s->sub = palloc(sizeof(double) * s->cap);
	s->cur = palloc(sizeof(double) * s->cap);
	s->merged = palloc(sizeof(double) * s->cap);
	s->merged_from = palloc(s->cap);
	for (int i = 0; i < DRIFT_WALK_TABLES; i++)
		s->ref.n[i] = s->cur_tables.n[i] = -1;
	return s;
}

/*
 * (double) i / n for i = 0..n, each the quotient KsStatistic and Wasserstein
 * compute, so that a lookup gives the same bits as the division it replaces.
 */
static const double *
ShareTable(DriftWalkScratch *s, ShareTables *t, int n)
{
	int slot = n & (DRIFT_WALK_TABLES - 1);

	Assert(n < s->cap);
	if (t->n[slot] != n)
	{
		if (t->share[slot] == NULL)
			t->share[slot] = MemoryContextAlloc(GetMemoryChunkContext(s), sizeof(double) * s->cap);
		for (int i = 0; i <= n; i++)
			t->share[slot][i] = (double) i / n;
		t->n[slot] = n;
	}
	return t->share[slot];
}

/*
 * A walk over two sorted samples in step (WalkSetup, then a walk of the
 * caller's, then WalkFinish): what DriftStatistics computes in several
 * passes, gathered in one.
 */
typedef struct Walk
{
	int nsub,
		ncur;
	double		  mean;
	int			  nbins;
	double		  edges[DRIFT_WALK_MAX_BINS + 1];
	int			  rstart[DRIFT_WALK_MAX_BINS + 1]; /* values before each bin */
	int			  cstart[DRIFT_WALK_MAX_BINS + 1];
	const double *rtab,
		*ctab;
	double prev_x; /* the walk's first value */
	double ss,	   /* its results (WALK_SAVE) */
		maxdiff,
		mindiff,
		wsum;
} Walk;

/*
 * After the last of a distinct value x, with r and c values of each sample
 * taken.  On the locals of WALK_LOCALS: the compiler keeps them in registers,
 * as it could not fields of a Walk (stores to rstart may alias them, under
 * -fno-strict-aliasing).
 */
#define WALK_LOCALS            \
	const double *rtab, *ctab; \
	double		  ss, maxdiff, mindiff, wsum, prev_x, prev_diff, next_edge
#define WALK_BEGIN(w)                                          \
	do                                                         \
	{                                                          \
		rtab = (w)->rtab;                                      \
		ctab = (w)->ctab;                                      \
		ss = maxdiff = mindiff = wsum = prev_diff = 0.0;       \
		prev_x = (w)->prev_x;                                  \
		next_edge = (w)->nbins > 1 ? (w)->edges[1] : INFINITY; \
	} while (0)
#define WALK_SAVE(w)            \
	do                          \
	{                           \
		(w)->ss = ss;           \
		(w)->maxdiff = maxdiff; \
		(w)->mindiff = mindiff; \
		(w)->wsum = wsum;       \
	} while (0)
#define WALK_STEP(x, r, c)                       \
	do                                           \
	{                                            \
		double diff_ = rtab[r] - ctab[c];        \
                                                 \
		if (diff_ > maxdiff)                     \
			maxdiff = diff_;                     \
		if (diff_ < mindiff)                     \
			mindiff = diff_;                     \
		/* 0 before the first value */           \
		wsum += fabs(prev_diff) * ((x) -prev_x); \
		prev_x = (x);                            \
		prev_diff = diff_;                       \
	} while (0)

/*
 * a bin starts at x: the values before it are counted (no store per value);
 * next_edge is the left edge of the bin after bin, Infinity after the last
 * one (x is finite), so most values cost one comparison with a local
 */
#define WALK_BIN(w, bin, x, r, c)                                                  \
	do                                                                             \
	{                                                                              \
		while (unlikely((x) >= next_edge))                                         \
		{                                                                          \
			(bin)++;                                                               \
			(w)->rstart[bin] = (r);                                                \
			(w)->cstart[bin] = (c);                                                \
			next_edge = (bin) < (w)->nbins - 1 ? (w)->edges[(bin) + 1] : INFINITY; \
		}                                                                          \
	} while (0)

/*
 * The bins, means and share tables of a walk over nsub reference values (sum
 * their sum in order) and ncur current ones, lo and hi the smallest and the
 * largest of either: false when the walk cannot count these bins (more than
 * it holds, or edges out of order), which DriftStatistics then must.
 */
static bool
WalkBins(Walk *w, DriftWalkScratch *scratch, int nsub, double sum, int ncur, double lo, double hi)
{
	CheckSpanValues(lo, hi);
	w->nbins = SturgesBins(lo, hi, (int64) nsub + ncur);
	/* not below 2^62 values in all; kept general */
	if (w->nbins > DRIFT_WALK_MAX_BINS)
		return false;
	SturgesEdges(lo, hi, w->nbins, w->edges);
	for (int i = 0; i < w->nbins; i++)
	{
		/* counting by walking needs ordered edges, binary search does not */
		if (w->edges[i + 1] < w->edges[i])
			return false;
		w->rstart[i] = w->cstart[i] = 0;
	}
	w->nsub = nsub;
	w->ncur = ncur;
	w->mean = sum / nsub;
	w->rtab = ShareTable(scratch, &scratch->ref, nsub);
	w->ctab = ShareTable(scratch, &scratch->cur_tables, ncur);
	w->prev_x = lo;
	return true;
}

/*
 * Everything before the walk over sub (nsub sorted values, sum their sum in
 * order) and cur (ncur sorted): false when DriftStatistics must do it (at
 * most 20 distinct reference values, or bins the walk does not count), which
 * WalkSetup then did, into out.
 */
static bool
WalkSetup(Walk *w, DriftWalkScratch *scratch, const double *sub, int nsub, double sum,
		  const double *cur, int ncur, double *out)
{
	int distinct = 1;

	for (int i = 1; i < nsub && distinct <= DRIFT_MAX_DISCRETE_VALUES; i++)
		if (sub[i] != sub[i - 1])
			distinct++;
	if (distinct <= DRIFT_MAX_DISCRETE_VALUES ||
		!WalkBins(w, scratch, nsub, sum, ncur, Min(sub[0], cur[0]), Max(sub[nsub - 1], cur[ncur - 1])))
	{
		DriftStatistics(sub, nsub, cur, ncur, out);
		return false;
	}
	return true;
}

/* The five statistics from a finished walk */
static void
WalkFinish(Walk *w, double *out)
{
	double rshare[DRIFT_WALK_MAX_BINS],
		cshare[DRIFT_WALK_MAX_BINS];
	BinnedShares b;

	w->rstart[w->nbins] = w->nsub;
	w->cstart[w->nbins] = w->ncur;
	for (int i = 0; i < w->nbins; i++)
	{
		rshare[i] = w->rtab[w->rstart[i + 1] - w->rstart[i]];
		cshare[i] = w->ctab[w->cstart[i + 1] - w->cstart[i]];
	}
	FillEmptyShares(rshare, w->nbins);
	FillEmptyShares(cshare, w->nbins);
	b.ref = rshare;
	b.cur = cshare;
	b.nbins = w->nbins;
	out[DRIFT_KS] = -w->mindiff > w->maxdiff ? Min(-w->mindiff, 1.0) : w->maxdiff;
	out[DRIFT_WASSERSTEIN] = NormedBySd(w->wsum, sqrt(w->ss / w->nsub));
	out[DRIFT_PSI] = Psi(&b);
	out[DRIFT_KL_DIV] = KlDiv(&b);
	out[DRIFT_JENSEN_SHANNON] = JensenShannon(&b);
}

/*
 * DriftStatistics(the reference without the values whose k lies in [k_from,
 * k_to), cur), the same to the bit, for a reference sorted once and compared
 * with many windows.  One pass gathers the reference and its sum; one merge
 * of both samples then computes KS, Wasserstein, the sd and the histogram
 * counts together, where DriftStatistics gathers, merges once per statistic
 * and binary-searches the bins; divisions become lookups (ShareTable).  Each
 * sum adds the same terms in the same order as DriftStatistics does (the
 * reference's sum adds +0.0 for a value it leaves out: x + 0.0 == x, none of
 * the sums being -0.0).  The bin counts are np.histogram's (a value goes to
 * the last bin whose left edge it reaches; the last bin is closed), as
 * BinSamples counts them.  A reference with at most 20 distinct values (one
 * bin per value) goes through DriftStatistics.
 */
bool
DriftStatisticsExcluding(const DriftRefValue *ref, int nref, int64 k_from, int64 k_to,
						 const double *cur, int ncur, DriftWalkScratch *scratch, double *out)
{
	double *sub = scratch->sub;
	double *cs = scratch->cur;
	int		nsub = 0;
	double	sum = 0.0;
	int		r = 0,
		c = 0,
		bin = 0;
	Walk w;
	WALK_LOCALS;

	Assert(nref < scratch->cap && ncur < scratch->cap);
	for (int i = 0; i < nref; i++)
	{
		/* unsigned: one comparison for k_from <= k < k_to */
		bool keep = (uint64) (ref[i].k - k_from) >= (uint64) (k_to - k_from);

		sub[nsub] = ref[i].v;
		sum += KeepOrZero(ref[i].v, keep);
		nsub += keep;
	}
	if (nsub == 0 || ncur == 0)
		return false;
	if (!WalkSetup(&w, scratch, sub, nsub, sum, cur, ncur, out))
		return true;
	memcpy(cs, cur, sizeof(double) * ncur);
	sub[nsub] = cs[ncur] = INFINITY;
	WALK_BEGIN(&w);

	/*
	 * Each value of either sample in order: the run of reference values up
	 * to the next current value, then that value; after the last of each
	 * distinct value, as KsStatistic and Wasserstein visit them, the ECDFs'
	 * difference.
	 */
	for (;;)
	{
		double head_c = cs[c];
		double x;

		while (r < nsub && sub[r] <= head_c)
		{
			x = sub[r];
			WALK_BIN(&w, bin, x, r, c);
			ss += (x - w.mean) * (x - w.mean);
			r++;
			if (Min(sub[r], head_c) != x)
				WALK_STEP(x, r, c);
		}
		if (c >= ncur)
			break;
		x = head_c;
		WALK_BIN(&w, bin, x, r, c);
		c++;
		if (Min(sub[r], cs[c]) != x)
			WALK_STEP(x, r, c);
	}
	WALK_SAVE(&w);
	WalkFinish(&w, out);
	return true;
}

/*
 * The same as DriftStatisticsExcluding, for a pool of values sorted once of
 * which flag[id] says which are in the reference (DRIFT_IN_REF) and which in
 * the current sample (DRIFT_IN_CUR): the windows of a training period share
 * one pool, each with flags of its own.  One branch-free pass over the pool
 * gathers both samples in merged order (a value in both is in both, as
 * gathering them would have it) and the reference's sum (in its order, +0.0
 * for a value it does not hold, as DriftStatisticsExcluding adds), so the
 * walk that follows decides nothing by the data.  The samples apart are
 * gathered only for DriftStatistics (at most 20 distinct reference values).
 */
bool
DriftStatisticsOfPool(const DriftPoolValue *pool, int n, const uint8 *flag, DriftWalkScratch *scratch, double *out)
{
	double *mv = scratch->merged;
	uint8  *mf = scratch->merged_from;
	int		nsub = 0,
		ncur = 0,
		m = 0;
	double sum = 0.0;
	int	   r = 0,
		c = 0,
		bin = 0;
	int	   distinct = 0;
	double last_ref = 0.0;
	double mean;
	Walk   w;
	WALK_LOCALS;

	/*
	 * by flag: 1.0 for a reference value, else 0.0 (v * 0.0 is +-0.0, which
	 * changes no sum here); the counts it adds to nsub (low half) and ncur
	 */
	static const double in_ref[4] = {0.0, 1.0, 0.0, 1.0};
	static const uint64 counts[4] = {0, 1, UINT64CONST(1) << 32, (UINT64CONST(1) << 32) + 1};
	uint64				both = 0;

	Assert(n < scratch->cap);
	for (int i = 0; i < n; i++)
	{
		double v = pool[i].v;
		uint32 f = flag[pool[i].id] & (DRIFT_IN_REF | DRIFT_IN_CUR);

		mv[m] = v;
		mf[m] = (uint8) f;
		m += (f + 3) >> 2; /* f != 0 */
		sum += v * in_ref[f];
		both += counts[f];
	}
	nsub = (int) (both & 0xFFFFFFFF);
	ncur = (int) (both >> 32);
	if (nsub == 0 || ncur == 0)
		return false;
	/* WalkSetup's count of distinct reference values, up to 21 */
	for (int i = 0; i < m && distinct <= DRIFT_MAX_DISCRETE_VALUES; i++)
		if ((mf[i] & 1) && (distinct == 0 || mv[i] != last_ref))
		{
			distinct++;
			last_ref = mv[i];
		}
	if (distinct <= DRIFT_MAX_DISCRETE_VALUES || !WalkBins(&w, scratch, nsub, sum, ncur, mv[0], mv[m - 1]))
	{
		double *sub = scratch->sub;
		double *cs = scratch->cur;

		nsub = ncur = 0;
		for (int i = 0; i < m; i++)
		{
			if (mf[i] & 1)
				sub[nsub++] = mv[i];
			if (mf[i] & 2)
				cs[ncur++] = mv[i];
		}
		DriftStatistics(sub, nsub, cs, ncur, out);
		return true;
	}
	mv[m] = INFINITY;
	WALK_BEGIN(&w);
	mean = w.mean;
	for (int i = 0; i < m; i++)
	{
		double x = mv[i];
		bool   from_ref = mf[i] & 1;

		WALK_BIN(&w, bin, x, r, c);
		ss += KeepOrZero((x - mean) * (x - mean), from_ref);
		r += from_ref;
		c += mf[i] >> 1;
		if (mv[i + 1] != x)
			WALK_STEP(x, r, c);
	}
	WALK_SAVE(&w);
	WalkFinish(&w, out);
	return true;
}

Datum
stockml_ks_test(PG_FUNCTION_ARGS)
{
	Sample	  ref = SampleFromArray(PG_GETARG_ARRAYTYPE_P(0), "reference");
	Sample	  cur = SampleFromArray(PG_GETARG_ARRAYTYPE_P(1), "current");
	TupleDesc tupdesc;
	Datum	  values[2];
	bool	  nulls[2] = {false, false};
	double	  d;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	d = KsStatistic(&ref, &cur);
	values[1] = Float8GetDatum(KsPValue(ref.n, cur.n, &d));
	values[0] = Float8GetDatum(d);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

Datum
stockml_wasserstein(PG_FUNCTION_ARGS)
{
	Sample ref = SampleFromArray(PG_GETARG_ARRAYTYPE_P(0), "reference");
	Sample cur = SampleFromArray(PG_GETARG_ARRAYTYPE_P(1), "current");

	PG_RETURN_FLOAT8(NormedWasserstein(&ref, &cur));
}

/* One binned statistic of the two float8[] arguments */
static Datum
BinnedStatistic(FunctionCallInfo fcinfo, double (*statistic)(const BinnedShares *))
{
	Sample		 ref = SampleFromArray(PG_GETARG_ARRAYTYPE_P(0), "reference");
	Sample		 cur = SampleFromArray(PG_GETARG_ARRAYTYPE_P(1), "current");
	BinnedShares b = BinSamples(&ref, &cur);

	PG_RETURN_FLOAT8(statistic(&b));
}

Datum
stockml_psi(PG_FUNCTION_ARGS)
{
	return BinnedStatistic(fcinfo, Psi);
}

Datum
stockml_kl_div(PG_FUNCTION_ARGS)
{
	return BinnedStatistic(fcinfo, KlDiv);
}

Datum
stockml_jensen_shannon(PG_FUNCTION_ARGS)
{
	return BinnedStatistic(fcinfo, JensenShannon);
}

/*
 * drift_test(ref, cur, method default 'auto', threshold default NULL)
 *   -> (method, statistic, p_value, threshold, drifted)
 * 'auto' is Evidently's default for a numerical feature: KS when the
 * reference has at most 1000 values, Wasserstein above.  Default thresholds
 * are Evidently's: p < 0.05 for KS, statistic >= 0.1 for the others.
 */
Datum
stockml_drift_test(PG_FUNCTION_ARGS)
{
	Sample ref,
		cur;
	const char *method;
	double		statistic;
	double		p_value = NAN;
	double		threshold;
	bool		drifted;
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	ref = SampleFromArray(PG_GETARG_ARRAYTYPE_P(0), "reference");
	cur = SampleFromArray(PG_GETARG_ARRAYTYPE_P(1), "current");
	method = PG_ARGISNULL(2) ? "auto" : text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (strcmp(method, "auto") == 0)
		method = ref.n <= DRIFT_KS_MAX_REFERENCE ? "ks" : "wasserstein";

	if (strcmp(method, "ks") == 0)
	{
		statistic = KsStatistic(&ref, &cur);
		p_value = KsPValue(ref.n, cur.n, &statistic);
		threshold = PG_ARGISNULL(3) ? 0.05 : PG_GETARG_FLOAT8(3);
	}
	else
	{
		threshold = PG_ARGISNULL(3) ? 0.1 : PG_GETARG_FLOAT8(3);
		if (strcmp(method, "wasserstein") == 0)
			statistic = NormedWasserstein(&ref, &cur);
		else if (strcmp(method, "psi") == 0 || strcmp(method, "kl_div") == 0 ||
				 strcmp(method, "jensen_shannon") == 0)
		{
			BinnedShares b = BinSamples(&ref, &cur);

			statistic = method[0] == 'p' ? Psi(&b) : method[0] == 'k' ? KlDiv(&b) :
																		JensenShannon(&b);
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown drift test \"%s\"", method),
					 errhint("Use one of auto, ks, wasserstein, psi, kl_div, jensen_shannon.")));
	}
	if (!(threshold >= 0.0 && isfinite(threshold)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("drift threshold must be a finite non-negative number"),
				 errhint("For ks the threshold is a p-value (default 0.05); for the others a distance (default 0.1).")));
	drifted = strcmp(method, "ks") == 0 ? p_value < threshold : statistic >= threshold;

	values[0] = CStringGetTextDatum(method);
	values[1] = Float8GetDatum(statistic);
	values[2] = Float8GetDatum(p_value);
	nulls[2] = isnan(p_value);
	values[3] = Float8GetDatum(threshold);
	values[4] = BoolGetDatum(drifted);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/* The elements of an int4[] without NULLs, for _drift_walk_check */
static int32 *
IntArgument(FunctionCallInfo fcinfo, int arg, const char *name, int *n)
{
	ArrayType *a = PG_GETARG_ARRAYTYPE_P(arg);
	Datum	  *elems;
	bool	  *nulls;
	int32	  *out;

	deconstruct_array(a, INT4OID, sizeof(int32), true, TYPALIGN_INT, &elems, &nulls, n);
	out = palloc(sizeof(int32) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain NULL", name)));
		out[i] = DatumGetInt32(elems[i]);
	}
	return out;
}

/*
 * stockml._drift_walk_check(ref, cur, cur_from, cur_to, exclude_from, exclude_to)
 *   -> (window, method, walked, pooled, gathered)
 * For each window w: the statistics between ref without its elements
 * exclude_from[w] .. exclude_to[w] (1-based positions) and the elements
 * cur_from[w] .. cur_to[w] of cur, by DriftStatisticsExcluding over the
 * reference sorted once (walked), by DriftStatisticsOfPool over one pool of
 * both arrays sorted once, cur's element i on day i (pooled), both sorted as
 * the drift null sorts them (DriftSortValues, DriftSortPool), all windows
 * through one scratch each as the drift null does, and by DriftStatistics
 * over each sample gathered and sorted (gathered); NULL where a sample has
 * no finite value.  For the tests, which require the three to be the same to
 * the bit.
 */
Datum
stockml_drift_walk_check(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		  *relems,
		*celems;
	bool *rnulls,
		*cnulls;
	int nr,
		nc,
		nw,
		n;
	int32 *cf,
		*ct,
		*ef,
		*et;
	DriftRefValue *ref;
	int			   nref = 0;
	double		  *cur,
		*cur_sorted,
		*sub;
	uint64			 *keys;
	DriftWalkScratch *scratch;
	DriftPoolValue	 *pool;
	uint8			 *flag;
	int				  npool = 0;
	DriftWalkScratch *pool_scratch;

	for (int i = 0; i < 6; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the arguments of _drift_walk_check must not be NULL")));
	InitMaterializedSRF(fcinfo, 0);
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(0), FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &relems, &rnulls, &nr);
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &celems, &cnulls, &nc);
	cf = IntArgument(fcinfo, 2, "cur_from", &nw);
	ct = IntArgument(fcinfo, 3, "cur_to", &n);
	if (n != nw)
		ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("cur_from and cur_to differ in length")));
	ef = IntArgument(fcinfo, 4, "exclude_from", &n);
	if (n != nw)
		ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("cur_from and exclude_from differ in length")));
	et = IntArgument(fcinfo, 5, "exclude_to", &n);
	if (n != nw)
		ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("cur_from and exclude_to differ in length")));

	ref = palloc(sizeof(DriftRefValue) * Max(nr, 1));
	for (int i = 0; i < nr; i++)
		if (!rnulls[i] && isfinite(DatumGetFloat8(relems[i])))
		{
			ref[nref].v = DatumGetFloat8(relems[i]);
			ref[nref].k = i + 1;
			nref++;
		}
	SortDriftRefValues(ref, nref);
	/* the pool's ids: the reference's r-th sorted value r, cur's element i nref + i */
	pool = palloc(sizeof(DriftPoolValue) * (nref + Max(nc, 1)));
	flag = palloc(nref + Max(nc, 1));
	for (int r = 0; r < nref; r++)
	{
		pool[npool].v = ref[r].v;
		pool[npool].id = r;
		npool++;
	}
	for (int i = 0; i < nc; i++)
		if (!cnulls[i] && isfinite(DatumGetFloat8(celems[i])))
		{
			pool[npool].v = DatumGetFloat8(celems[i]);
			pool[npool].id = nref + i;
			npool++;
		}
	DriftSortPool(pool, npool, palloc(sizeof(DriftPoolValue) * Max(npool, 1)));
	cur = palloc(sizeof(double) * Max(nc, 1));
	cur_sorted = palloc(sizeof(double) * Max(nc, 1));
	keys = palloc(sizeof(uint64) * 2 * Max(nc, 1));
	sub = palloc(sizeof(double) * Max(nref, 1));
	scratch = DriftWalkScratchCreate(Max(nref, nc));
	pool_scratch = DriftWalkScratchCreate(npool);
	for (int w = 0; w < nw; w++)
	{
		int ncur = 0,
			nsub = 0;
		double walked[DRIFT_NMETHODS],
			pooled[DRIFT_NMETHODS],
			gathered[DRIFT_NMETHODS];
		bool ok,
			pool_ok;

		CHECK_FOR_INTERRUPTS();
		for (int i = Max(cf[w], 1); i <= Min(ct[w], nc); i++)
			if (!cnulls[i - 1] && isfinite(DatumGetFloat8(celems[i - 1])))
				cur[ncur++] = DatumGetFloat8(celems[i - 1]);
		/* the walk's sorted as the drift null sorts a window, the gathered one by comparisons */
		memcpy(cur_sorted, cur, sizeof(double) * ncur);
		DriftSortValues(cur_sorted, ncur, keys);
		SortFloat8(cur, ncur);
		for (int r = 0; r < nref; r++)
			if (ref[r].k < ef[w] || ref[r].k > et[w])
				sub[nsub++] = ref[r].v;
		ok = DriftStatisticsExcluding(ref, nref, ef[w], Max((int64) et[w] + 1, ef[w]), cur_sorted, ncur, scratch,
									  walked);
		for (int r = 0; r < nref; r++)
			flag[r] = ref[r].k < ef[w] || ref[r].k > et[w] ? DRIFT_IN_REF : 0;
		for (int i = 0; i < nc; i++)
			flag[nref + i] = i + 1 >= cf[w] && i + 1 <= ct[w] ? DRIFT_IN_CUR : 0;
		pool_ok = DriftStatisticsOfPool(pool, npool, flag, pool_scratch, pooled);
		if (nsub > 0 && ncur > 0)
			DriftStatistics(sub, nsub, cur, ncur, gathered);
		for (int m = 0; m < DRIFT_NMETHODS; m++)
		{
			Datum values[5];
			bool  nulls[5] = {false, false, !ok, !pool_ok, nsub == 0 || ncur == 0};

			values[0] = Int32GetDatum(w + 1);
			values[1] = CStringGetTextDatum(DriftMethodNames[m]);
			values[2] = Float8GetDatum(ok ? walked[m] : 0.0);
			values[3] = Float8GetDatum(pool_ok ? pooled[m] : 0.0);
			values[4] = Float8GetDatum(nulls[4] ? 0.0 : gathered[m]);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	return (Datum) 0;
}
