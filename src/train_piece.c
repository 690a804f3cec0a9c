/*
 * train_piece.c — the per-symbol pieces of train(): one symbol's training
 * rows (TrainSymbolRows, what train() reads of each symbol on one node), and
 * on Citus the two functions a worker runs where the symbol's shard lives,
 * registered by stockml.distribute() with create_distributed_function(...,
 * 'symbol', colocate_with => 'stockml.prices', force_delegation => true):
 *
 *   stockml._train_piece_rows(symbol, spec, horizon, train_end) -> bytea:
 *       the rows (day, target day, close, σ, y, x), packed in network order;
 *   stockml._train_piece_qr(symbol, spec, horizon, train_end, rows_hash, cuts)
 *       -> bytea: R of [1 | x | y] of each segment [cuts[k-1], cuts[k]) of
 *       the same rows, (c+1)c/2 numbers a segment (c = p + 2), whatever the
 *       number of rows.
 *
 * train() on the coordinator (train.c) asks for the rows of each symbol (the
 * features are computed where the bars are), cuts its walk-forward folds over
 * all of them, and for the linear algorithms asks each symbol for the R
 * factors of its share of every fold's training window: stacking them gives
 * the R of the whole window exactly (linalg.c's LinalgQrMerge), so the fits
 * equal one node's up to rounding.  rows_hash makes the second call refuse
 * rows that changed since the first (an ingest in between): never a fit on
 * other rows than the ones validated.  Pieces read only the symbol's own bars
 * (and its corporate actions): a spec that reads another symbol or the
 * calendar is refused here, and train() does not use the pieces for it.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#include "distributed.h"
#include "feature_matrix.h"
#include "linalg.h"
#include "price_store.h"
#include "roles.h"
#include "train.h"

PG_FUNCTION_INFO_V1(stockml_train_piece_rows);
PG_FUNCTION_INFO_V1(stockml_train_piece_qr);

#define PIECE_MAGIC 0x534D5452 /* "SMTR" */
#define PIECE_VERSION 1
#define PIECE_HASH_SEED UINT64CONST(0x7472616e)

const IntervalScale TrainVolatilityScale = {INTERVAL_EWMA_LAMBDA, INTERVAL_EWMA_SEED};

static void	  PieceArgs(FunctionCallInfo fcinfo, char **symbol, FeatureSpec **spec,
						int *horizon, DateADT *train_end, bool *has_end);
static void	  PackRows(const SymbolRows *rows, StringInfo buf);
static uint64 RowsHash(const StringInfo packed);
static bytea *ToBytea(const StringInfo buf);
static bytea *CallPiece(const char *sql, int nargs, Oid *types, Datum *args,
						const char *nulls, int64 *bytes_out);

/*
 * The rows of symbol with complete features and a target that ends no later
 * than *train_end (every stored bar when NULL), oldest first; memory from
 * CurrentMemoryContext.
 */
void
TrainSymbolRows(const char *symbol, const FeatureSpec *spec, int horizon,
				const DateADT *train_end, SymbolRows *out)
{
	int			   p = spec->nfeatures;
	int			   nbars;
	FeatureBar	  *bars = FeatureBarsLoad(symbol, &nbars);
	FeatureMatrix *m;
	double		  *sigma;
	int			   first = 0; /* row i is bars[first + i] */
	int			   cap;

	/* bars after train_end are not known at train_end: not even as targets */
	while (train_end && nbars > 0 && bars[nbars - 1].day > *train_end)
		nbars--;
	m = FeatureMatrixFromBars(spec, nbars > 0 ? FeatureInputsLoad(spec, symbol) : NULL,
							  bars, nbars, NULL, NULL, horizon);
	sigma = palloc(sizeof(double) * Max(nbars, 1));
	IntervalVolatility(bars, nbars, &TrainVolatilityScale, sigma);
	while (m->nrows > 0 && bars[first].day < m->days[0])
		first++;

	cap = Max(m->nrows, 1);
	out->p = p;
	out->n = 0;
	out->hash = 0;
	out->x = palloc(mul_size(mul_size(cap, p), sizeof(double)));
	out->y = palloc(sizeof(double) * cap);
	out->close = palloc(sizeof(double) * cap);
	out->sigma = palloc(sizeof(double) * cap);
	out->day = palloc(sizeof(DateADT) * cap);
	out->target_day = palloc(sizeof(DateADT) * cap);
	for (int i = 0; i < m->nrows; i++)
	{
		const double *xr = m->x + (int64) i * p;
		bool		  ok = isfinite(m->y[i]);
		int			  k = out->n;

		for (int j = 0; j < p && ok; j++)
			ok = isfinite(xr[j]);
		if (!ok)
			continue;
		memcpy(out->x + (int64) k * p, xr, sizeof(double) * p);
		out->y[k] = m->y[i];
		out->close[k] = m->close[i];
		out->sigma[k] = sigma[first + i];
		out->day[k] = m->days[i];
		/* a finite y has its bar stored: first + i + horizon < nbars */
		Assert(bars[first + i].day == m->days[i] && first + i + horizon < nbars);
		out->target_day[k] = bars[first + i + horizon].day;
		out->n++;
	}
}

/*
 * Whether train() reads its rows through the pieces: stockml.prices is a
 * Citus table (so the rows live on the workers), the spec reads only each
 * symbol's own bars, and this catalog has the pieces (0.2.0).
 */
bool
TrainPiecesApply(const FeatureSpec *spec)
{
	Oid	 ns = get_namespace_oid("stockml", true);
	Oid	 prices = OidIsValid(ns) ? get_relname_relid("prices", ns) : InvalidOid;
	bool isnull;
	bool have;

	if (spec->needs_inputs || !OidIsValid(prices) || !RelationIsCitusTable(prices))
		return false;
	SPI_connect();
	if (SPI_execute("SELECT pg_catalog.to_regprocedure('stockml._train_piece_qr(text, jsonb, integer, date, bigint, integer[])') IS NOT NULL",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look for the training pieces");
	have = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return have;
}

/* The arguments both pieces share, checked as train() checks them */
static void
PieceArgs(FunctionCallInfo fcinfo, char **symbol, FeatureSpec **spec, int *horizon,
		  DateADT *train_end, bool *has_end)
{
	StockmlRequireAdmin("train models");
	for (int i = 0; i < 3; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be NULL", (const char *[]) {"symbol", "feature_spec", "horizon"}[i])));
	*symbol = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ValidateSymbol(*symbol);
	*spec = FeatureSpecParse(PG_GETARG_JSONB_P(1));
	if ((*spec)->needs_inputs)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the training pieces take feature sets over the symbol's own bars only"),
				 errdetail("This feature set reads another symbol's bars or the trading calendar, which may live on another node."),
				 errhint("train() reads such feature sets on the coordinator; call train(), not the pieces.")));
	*horizon = PG_GETARG_INT32(2);
	FeatureCheckHorizon(*horizon);
	*has_end = !PG_ARGISNULL(3);
	*train_end = *has_end ? PG_GETARG_DATEADT(3) : 0;
	if (*has_end && DATE_NOT_FINITE(*train_end))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("train_end must be a finite date"),
				 errhint("Pass NULL to train on every stored bar.")));
}

/* magic, version, n, p, then per row: day, target day, close, σ, y, x */
static void
PackRows(const SymbolRows *rows, StringInfo buf)
{
	initStringInfo(buf);
	pq_sendint32(buf, PIECE_MAGIC);
	pq_sendint32(buf, PIECE_VERSION);
	pq_sendint32(buf, rows->n);
	pq_sendint32(buf, rows->p);
	for (int i = 0; i < rows->n; i++)
	{
		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		pq_sendint32(buf, rows->day[i]);
		pq_sendint32(buf, rows->target_day[i]);
		pq_sendfloat8(buf, rows->close[i]);
		pq_sendfloat8(buf, rows->sigma[i]);
		pq_sendfloat8(buf, rows->y[i]);
		for (int j = 0; j < rows->p; j++)
			pq_sendfloat8(buf, rows->x[(int64) i * rows->p + j]);
	}
}

static uint64
RowsHash(const StringInfo packed)
{
	return hash_bytes_extended((const unsigned char *) packed->data, packed->len, PIECE_HASH_SEED);
}

static bytea *
ToBytea(const StringInfo buf)
{
	bytea *out = palloc(VARHDRSZ + buf->len);

	SET_VARSIZE(out, VARHDRSZ + buf->len);
	memcpy(VARDATA(out), buf->data, buf->len);
	return out;
}

/*
 * stockml._train_piece_rows(symbol text, feature_spec jsonb, horizon int,
 * train_end date) RETURNS bytea
 */
Datum
stockml_train_piece_rows(PG_FUNCTION_ARGS)
{
	char		  *symbol;
	FeatureSpec	  *spec;
	int			   horizon;
	DateADT		   train_end;
	bool		   has_end;
	SymbolRows	   rows;
	StringInfoData buf;

	PieceArgs(fcinfo, &symbol, &spec, &horizon, &train_end, &has_end);
	TrainSymbolRows(symbol, spec, horizon, has_end ? &train_end : NULL, &rows);
	PackRows(&rows, &buf);
	PG_RETURN_BYTEA_P(ToBytea(&buf));
}

/*
 * stockml._train_piece_qr(symbol text, feature_spec jsonb, horizon int,
 * train_end date, rows_hash bigint, cuts int[]) RETURNS bytea: nseg, c, then
 * per segment its row count (int64) and the upper triangle of its R,
 * column by column (c (c+1) / 2 numbers; zeros for an empty segment).
 */
Datum
stockml_train_piece_qr(PG_FUNCTION_ARGS)
{
	char		  *symbol;
	FeatureSpec	  *spec;
	int			   horizon;
	DateADT		   train_end;
	bool		   has_end;
	SymbolRows	   rows;
	StringInfoData packed;
	StringInfoData buf;
	ArrayType	  *cuts_array;
	Datum		  *elems;
	bool		  *nulls;
	int			   ncuts;
	int			   prev = 0;
	RawQr		   qr;
	ModelTrainData data;
	int			   c;

	PieceArgs(fcinfo, &symbol, &spec, &horizon, &train_end, &has_end);
	if (PG_ARGISNULL(4) || PG_ARGISNULL(5))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", PG_ARGISNULL(4) ? "rows_hash" : "cuts"),
				 errhint("train() passes the hash of the rows it read and the fold boundaries.")));
	TrainSymbolRows(symbol, spec, horizon, has_end ? &train_end : NULL, &rows);
	PackRows(&rows, &packed);
	if ((int64) RowsHash(&packed) != PG_GETARG_INT64(4))
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("the training rows of \"%s\" changed while train() read them", symbol),
				 errdetail("Its bars were written between train()'s two reads of them on the node that holds them."),
				 errhint("Run train() again once the ingest has finished.")));
	pfree(packed.data);

	cuts_array = PG_GETARG_ARRAYTYPE_P(5);
	if (ARR_NDIM(cuts_array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cuts must be a one-dimensional array")));
	deconstruct_array(cuts_array, INT4OID, 4, true, TYPALIGN_INT, &elems, &nulls, &ncuts);
	for (int k = 0; k < ncuts; k++)
	{
		int cut = nulls[k] ? -1 : DatumGetInt32(elems[k]);

		if (cut < prev || cut > rows.n)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cuts must be ascending row counts from 0 to %d, not %s at position %d",
							rows.n, nulls[k] ? "NULL" : psprintf("%d", cut), k + 1),
					 errhint("train() passes each fold's end among the symbol's rows.")));
		prev = cut;
	}

	LinalgQrInit(&qr, rows.p);
	c = qr.c;
	data.x = rows.x;
	data.y = rows.y;
	data.n = rows.n;
	data.p = rows.p;
	initStringInfo(&buf);
	pq_sendint32(&buf, ncuts);
	pq_sendint32(&buf, c);
	prev = 0;
	for (int k = 0; k < ncuts; k++)
	{
		int cut = DatumGetInt32(elems[k]);

		qr.n = 0;
		qr.have_r = false;
		memset(qr.r, 0, sizeof(double) * c * c);
		LinalgQrAdd(&qr, &data, prev, cut);
		pq_sendint64(&buf, qr.n);
		for (int j = 0; j < c; j++)
			for (int i = 0; i <= j; i++)
				pq_sendfloat8(&buf, qr.r[j * c + i]);
		prev = cut;
	}
	LinalgQrFree(&qr);
	PG_RETURN_BYTEA_P(ToBytea(&buf));
}

/*
 * The coordinator's side: one piece through SPI as SELECT * FROM f(...) (the
 * form Citus delegates inside a transaction), its bytea copied into the
 * caller's memory.  bytes_out adds what came back.
 */
static bytea *
CallPiece(const char *sql, int nargs, Oid *types, Datum *args, const char *nulls, int64 *bytes_out)
{
	MemoryContext caller = CurrentMemoryContext;
	bytea		 *out;
	bool		  isnull;
	Datum		  d;

	SPI_connect();
	if (SPI_execute_with_args(sql, nargs, types, args, nulls, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not read a training piece");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		elog(ERROR, "a training piece came back NULL");
	{
		bytea		 *b = DatumGetByteaPP(d);
		MemoryContext old = MemoryContextSwitchTo(caller);

		out = palloc(VARSIZE_ANY(b));
		memcpy(out, b, VARSIZE_ANY(b));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	*bytes_out += VARSIZE_ANY_EXHDR(out);
	return out;
}

/* The rows of one symbol from the node that holds it (see the file's header) */
void
TrainPieceRows(const char *symbol, Jsonb *spec, int p, int horizon, const DateADT *train_end,
			   SymbolRows *out, PieceBytes *bytes)
{
	Datum		   args[4];
	bytea		  *b;
	StringInfoData msg;
	int			   n;

	args[0] = CStringGetTextDatum(symbol);
	args[1] = JsonbPGetDatum(spec);
	args[2] = Int32GetDatum(horizon);
	args[3] = train_end ? DateADTGetDatum(*train_end) : (Datum) 0;
	b = CallPiece("SELECT * FROM stockml._train_piece_rows($1, $2, $3, $4)", 4,
				  (Oid[]) {TEXTOID, JSONBOID, INT4OID, DATEOID}, args, train_end ? NULL : "   n",
				  &bytes->rows);
	bytes->symbols++;
	msg.data = VARDATA_ANY(b);
	msg.len = VARSIZE_ANY_EXHDR(b);
	msg.maxlen = msg.len;
	msg.cursor = 0;
	if (msg.len < 16 || pq_getmsgint(&msg, 4) != PIECE_MAGIC || pq_getmsgint(&msg, 4) != PIECE_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the training rows of \"%s\" came back in a form this stockml does not read", symbol),
				 errhint("Install the same stockml version on the coordinator and every worker.")));
	n = (int) pq_getmsgint(&msg, 4);
	if (n < 0 || (int) pq_getmsgint(&msg, 4) != p ||
		(int64) msg.len != 16 + (int64) n * (8 + 8 * (3 + (int64) p)))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the training rows of \"%s\" came back with the wrong size", symbol),
				 errhint("Install the same stockml version on the coordinator and every worker.")));
	out->n = n;
	out->p = p;
	out->hash = hash_bytes_extended((const unsigned char *) msg.data, msg.len, PIECE_HASH_SEED);
	out->x = palloc(mul_size(mul_size(Max(n, 1), p), sizeof(double)));
	out->y = palloc(sizeof(double) * Max(n, 1));
	out->close = palloc(sizeof(double) * Max(n, 1));
	out->sigma = palloc(sizeof(double) * Max(n, 1));
	out->day = palloc(sizeof(DateADT) * Max(n, 1));
	out->target_day = palloc(sizeof(DateADT) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		out->day[i] = (DateADT) pq_getmsgint(&msg, 4);
		out->target_day[i] = (DateADT) pq_getmsgint(&msg, 4);
		out->close[i] = pq_getmsgfloat8(&msg);
		out->sigma[i] = pq_getmsgfloat8(&msg);
		out->y[i] = pq_getmsgfloat8(&msg);
		for (int j = 0; j < p; j++)
			out->x[(int64) i * p + j] = pq_getmsgfloat8(&msg);
	}
	pfree(b);
}

/*
 * The R factors of segments [cuts[k-1], cuts[k]) of one symbol's rows (the
 * rows TrainPieceRows read, rows_hash their hash), into r (ncuts c x c
 * column-major matrices, zero below the diagonal) and nrows (ncuts counts).
 */
void
TrainPieceQr(const char *symbol, Jsonb *spec, int p, int horizon, const DateADT *train_end,
			 uint64 rows_hash, const int *cuts, int ncuts, double *r, int64 *nrows,
			 PieceBytes *bytes)
{
	Datum		   args[6];
	Datum		  *elems = palloc(sizeof(Datum) * Max(ncuts, 1));
	bytea		  *b;
	StringInfoData msg;
	int			   c = p + 2;

	for (int k = 0; k < ncuts; k++)
		elems[k] = Int32GetDatum(cuts[k]);
	args[0] = CStringGetTextDatum(symbol);
	args[1] = JsonbPGetDatum(spec);
	args[2] = Int32GetDatum(horizon);
	args[3] = train_end ? DateADTGetDatum(*train_end) : (Datum) 0;
	args[4] = Int64GetDatum((int64) rows_hash);
	args[5] = PointerGetDatum(construct_array(elems, ncuts, INT4OID, 4, true, TYPALIGN_INT));
	b = CallPiece("SELECT * FROM stockml._train_piece_qr($1, $2, $3, $4, $5, $6)", 6,
				  (Oid[]) {TEXTOID, JSONBOID, INT4OID, DATEOID, INT8OID, INT4ARRAYOID}, args,
				  train_end ? NULL : "   n  ", &bytes->qr);
	msg.data = VARDATA_ANY(b);
	msg.len = VARSIZE_ANY_EXHDR(b);
	msg.maxlen = msg.len;
	msg.cursor = 0;
	if ((int64) msg.len != 8 + (int64) ncuts * (8 + 8 * ((int64) c * (c + 1) / 2)) ||
		(int) pq_getmsgint(&msg, 4) != ncuts || (int) pq_getmsgint(&msg, 4) != c)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the QR factors of \"%s\" came back with the wrong size", symbol),
				 errhint("Install the same stockml version on the coordinator and every worker.")));
	memset(r, 0, sizeof(double) * ncuts * c * c);
	for (int k = 0; k < ncuts; k++)
	{
		double *rk = r + (int64) k * c * c;

		nrows[k] = pq_getmsgint64(&msg);
		for (int j = 0; j < c; j++)
			for (int i = 0; i <= j; i++)
				rk[j * c + i] = pq_getmsgfloat8(&msg);
	}
	pfree(b);
	pfree(elems);
}
