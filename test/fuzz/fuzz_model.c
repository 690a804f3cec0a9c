/*
 * fuzz_model.c — libFuzzer target: the model bytea decoder (src/model_io.c,
 * formats 1 and 2, with the algorithms of src/model*.c), which every
 * predict(), deploy() and model_describe() runs on stored blobs.
 *
 * Each input is decoded twice: as it is (almost always refused at the
 * checksum) and with its last four bytes replaced by the right CRC-32C, so
 * the fuzzer reaches the checks behind the checksum.  A blob that decodes
 * must encode back to the same bytes, and each head predict finite numbers
 * at x = 0 and x = mean, as ModelArithmeticFinite() promises (a
 * classifier's P(up) between 0 and 1).  A gbt head predicts the same to the
 * bit with each of its evaluators (the walk, the bitvector scorer's portable
 * and AVX-512 kernels) at x made of the float8 values found anywhere in the
 * input (so at its own thresholds), and at -0, 0 and the infinities.
 */
#include "postgres.h"

#include <math.h>

#include "port/pg_crc32c.h"

#include "model.h"
#include "model_gbt.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8 *data, size_t size);

/* gbt: every evaluator's prediction at x, the same to the bit */
static void
CompareEvaluators(Model *model, const double *x, double *work)
{
	double y[3];

	for (int e = 0; e < 3; e++)
	{
		gbt_evaluator = e == 0 ? GBT_EVALUATOR_WALK : e == 1 ? GBT_EVALUATOR_PORTABLE :
															   GBT_EVALUATOR_AUTO;
		y[e] = ModelPredict(model, x, work);
	}
	gbt_evaluator = GBT_EVALUATOR_AUTO;
	if (memcmp(&y[0], &y[1], sizeof(double)) != 0 || memcmp(&y[0], &y[2], sizeof(double)) != 0)
		FuzzFail("gbt evaluators disagree: walk %.17g, portable %.17g, auto %.17g", y[0], y[1], y[2]);
}

static void
CheckGbt(Model *model, const bytea *blob, double *work)
{
	const unsigned char *b = (const unsigned char *) VARDATA(blob);
	int					 n = VARSIZE(blob) - VARHDRSZ - 7;
	int					 p = model->n_features;
	double				*values = palloc(sizeof(double) * Max(n, 1));
	double				*x = palloc(sizeof(double) * p);
	int					 nvalues = 0;
	static const double	 special[] = {-0.0, 0.0, INFINITY, -INFINITY};

	/* the blob stores its thresholds as little-endian float8, as x86-64 reads them */
	for (int o = 0; o < n; o++)
	{
		double v;

		memcpy(&v, b + o, sizeof(double));
		if (!isnan(v))
			values[nvalues++] = v;
	}
	for (int k = 0; k < 64 && nvalues > 0; k++)
	{
		for (int j = 0; j < p; j++)
			x[j] = values[((long) k * p + j) % nvalues];
		CompareEvaluators(model, x, work);
	}
	for (int k = 0; k < 4; k++)
	{
		for (int j = 0; j < p; j++)
			x[j] = special[k];
		CompareEvaluators(model, x, work);
	}
}

static void
Decode(void *arg)
{
	bytea	   *blob = arg;
	ModelHeads *heads = ModelDeserializeHeads(blob);
	bytea	   *again = ModelSerializeHeads(heads);

	if (VARSIZE(again) != VARSIZE(blob) ||
		memcmp(VARDATA(again), VARDATA(blob), VARSIZE(blob) - VARHDRSZ) != 0)
		FuzzFail("a decoded model encodes to other bytes (%u vs %u)",
				 (unsigned) VARSIZE(again), (unsigned) VARSIZE(blob));
	for (int h = 0; h < heads->nheads; h++)
	{
		Model  *model = heads->models[h];
		double *x = palloc0(sizeof(double) * model->n_features);
		double *work = palloc(sizeof(double) * model->n_features);
		double	y = ModelPredict(model, x, work);

		if (!isfinite(y))
			FuzzFail("head %d of a decoded model predicts %g at x = 0", h, y);
		memcpy(x, model->mean, sizeof(double) * model->n_features);
		y = ModelPredict(model, x, work);
		if (!isfinite(y))
			FuzzFail("head %d of a decoded model predicts %g at x = mean", h, y);
		if (model->algorithm == &model_gbt)
			CheckGbt(model, blob, work);
		/* a classifier's probability is one */
		if (model->algorithm->probability)
		{
			double p = ModelProbabilityUp(model, x, work);

			if (!(p >= 0 && p <= 1))
				FuzzFail("head %d of a decoded classifier gives P(up) = %g at x = mean", h, p);
		}
	}
	/* the one-head reader the SQL functions use */
	if (heads->nheads == 1)
		(void) ModelDeserialize(blob);
}

static bytea *
Blob(const uint8 *data, size_t size, bool fix_crc)
{
	bytea *blob = palloc(VARHDRSZ + size);

	SET_VARSIZE(blob, VARHDRSZ + size);
	memcpy(VARDATA(blob), data, size);
	if (fix_crc)
	{
		unsigned char *b = (unsigned char *) VARDATA(blob);
		pg_crc32c	   crc;

		INIT_CRC32C(crc);
		COMP_CRC32C(crc, b, size - 4);
		FIN_CRC32C(crc);
		for (int i = 0; i < 4; i++)
			b[size - 4 + i] = (crc >> (8 * i)) & 0xFF;
	}
	return blob;
}

int
LLVMFuzzerTestOneInput(const uint8 *data, size_t size)
{
	/* a bytea has at most 1 GB; the fuzzer's inputs are far smaller */
	FuzzCall(Decode, Blob(data, size, false));
	if (size >= 4)
		FuzzCall(Decode, Blob(data, size, true));
	FuzzReset();
	return 0;
}
