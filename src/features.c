/*
 * features.c — the bars of a symbol as the features read them (by a scan of
 * the primary key, or through SPI where privileges or row-level security
 * need it; total-return adjusted), the other symbols and the calendar a spec
 * reads, and the SQL functions stockml.features(), features_spec(),
 * feature_names() and feature_spec_check().  The spec is read by
 * feature_spec.c, the matrix computed by feature_matrix.c.
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/fmgrprotos.h"
#include "utils/tuplestore.h"

#include "adjust.h"
#include "calendar.h"
#include "distributed.h"
#include "feature_matrix.h"
#include "price_store.h"
#include "roles.h"

static void		   FeaturesToTuplestore(FunctionCallInfo fcinfo, const char *symbol, const FeatureSpec *spec,
										int start_arg, int end_arg, int horizon);
static void		   CheckSymbolKnown(const char *symbol);
static FeatureBar *LoadBarsSpi(const char *symbol, int *nbars);
static FeatureBar *LoadBarsDirect(const char *symbol, const DateADT *after, int *nbars);
static char		  *RequiredText(FunctionCallInfo fcinfo, int arg, const char *what);
static int		   RequiredHorizon(FunctionCallInfo fcinfo, int arg);

Jsonb *
FeatureSetSpec(const char *name)
{
	Oid			  argtypes[1] = {TEXTOID};
	Datum		  values[1];
	Jsonb		 *result = NULL;
	MemoryContext caller = CurrentMemoryContext;
	int			  rc;

	values[0] = CStringGetTextDatum(name);
	SPI_connect();
	rc = SPI_execute_with_args("SELECT spec FROM stockml.feature_sets WHERE name = $1",
							   1, argtypes, values, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading stockml.feature_sets failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 1)
	{
		bool  isnull;
		Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			MemoryContext spi = MemoryContextSwitchTo(caller);

			result = DatumGetJsonbPCopy(d);
			MemoryContextSwitchTo(spi);
		}
	}
	SPI_finish();
	if (result == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("feature set \"%s\" does not exist", name),
				 errhint("SELECT name FROM stockml.feature_sets lists them; 'default' is built in.")));
	return result;
}

/* The bars through SPI: honours row-level security and column privileges */
static void LoadAdjustedCloses(const char *symbol, FeatureBar *bars, int nbars);

static FeatureBar *
LoadBarsSpi(const char *symbol, int *nbars)
{
	static SPIPlanPtr plan = NULL;
	Datum			  values[1];
	FeatureBar		 *bars;
	MemoryContext	  caller = CurrentMemoryContext;
	int				  rc;

	values[0] = CStringGetTextDatum(symbol);
	SPI_connect();
	if (plan == NULL)
	{
		Oid		   argtypes[1] = {TEXTOID};
		SPIPlanPtr p = SPI_prepare("SELECT day, high, low, close, volume::float8 FROM stockml.prices "
								   "WHERE symbol = $1 ORDER BY day",
								   1, argtypes);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		plan = p;
	}
	rc = SPI_execute_plan(plan, values, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading stockml.prices failed: %s", SPI_result_code_string(rc));

	*nbars = (int) SPI_processed;
	bars = MemoryContextAlloc(caller, mul_size(Max(SPI_processed, 1), sizeof(FeatureBar)));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple tup = SPI_tuptable->vals[i];
		TupleDesc desc = SPI_tuptable->tupdesc;
		bool	  isnull;
		Datum	  vol;

		bars[i].day = DatumGetDateADT(SPI_getbinval(tup, desc, 1, &isnull));
		bars[i].high = DatumGetFloat8(SPI_getbinval(tup, desc, 2, &isnull));
		bars[i].low = DatumGetFloat8(SPI_getbinval(tup, desc, 3, &isnull));
		bars[i].close = DatumGetFloat8(SPI_getbinval(tup, desc, 4, &isnull));
		vol = SPI_getbinval(tup, desc, 5, &isnull);
		bars[i].volume = isnull ? 0.0 : DatumGetFloat8(vol);
		bars[i].adj_close = NAN;
	}
	SPI_finish();
	LoadAdjustedCloses(symbol, bars, *nbars);
	return bars;
}

/*
 * The stored adjusted closes of the bars the caller may see, read as the
 * extension's owner: the adjustment of a visible bar must not depend on
 * whether the caller may read the adj_close column (a caller without it
 * would otherwise apply Yahoo's splits a second time to its split-adjusted
 * closes).  Nothing else of a row is read.
 */
static void
LoadAdjustedCloses(const char *symbol, FeatureBar *bars, int nbars)
{
	StockmlOwnerSwitch sw;
	int				   t = 0;

	if (nbars == 0)
		return;
	StockmlBecomeOwner(&sw);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT day, adj_close FROM stockml.prices"
							  " WHERE symbol = $1 AND adj_close IS NOT NULL ORDER BY day",
							  1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(symbol)},
							  NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading stockml.prices failed");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple tup = SPI_tuptable->vals[i];
		bool	  isnull;
		DateADT	  day = DatumGetDateADT(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));

		while (t < nbars && bars[t].day < day)
			t++;
		if (t < nbars && bars[t].day == day)
			bars[t].adj_close = DatumGetFloat8(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));
	}
	SPI_finish();
	StockmlRestoreUser(&sw);
}

/*
 * The bars by a scan of the primary key (symbol, day) of stockml.prices: one
 * ordered index scan, no query.  NULL when the table is not as expected (no
 * such key, other column types), has row-level security for this user, or the
 * user lacks table-wide SELECT: LoadBarsSpi then does it with every check a
 * query makes.  NULL too when the table is a Citus table: on a coordinator it
 * is a shell whose rows live on the workers, which only a query reaches.
 * With after, only the bars of later days.
 */
static FeatureBar *
LoadBarsDirect(const char *symbol, const DateADT *after, int *nbars)
{
	Oid						 relid = get_relname_relid("prices", get_namespace_oid("stockml", false));
	static const char *const columns[] = {"symbol", "day", "high", "low", "close", "volume",
										  "adj_close"};
	static const Oid		 types[] = {TEXTOID, DATEOID, FLOAT8OID, FLOAT8OID, FLOAT8OID, INT8OID,
										FLOAT8OID};
	AttrNumber				 att[7];
	AttrNumber				 maxatt = 0;
	Relation				 rel;
	Relation				 idx;
	Oid						 pk;
	IndexScanDesc			 scan;
	TupleTableSlot			*slot;
	ScanKeyData				 key[2];
	Snapshot				 snapshot;
	FeatureBar				*bars;
	int						 n = 0;
	int						 size = 1024;

	if (!OidIsValid(relid) ||
		pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK ||
		check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED ||
		RelationIsCitusTable(relid))
		return NULL;
	for (int i = 0; i < 7; i++)
	{
		att[i] = get_attnum(relid, columns[i]);
		if (att[i] == InvalidAttrNumber || get_atttype(relid, att[i]) != types[i])
			return NULL;
		maxatt = Max(maxatt, att[i]);
	}

	rel = table_open(relid, AccessShareLock);
	pk = RelationGetPrimaryKeyIndex(rel);
	if (!OidIsValid(pk))
	{
		table_close(rel, AccessShareLock);
		return NULL;
	}
	idx = index_open(pk, AccessShareLock);
	if (idx->rd_rel->relam != BTREE_AM_OID ||
		IndexRelationGetNumberOfKeyAttributes(idx) != 2 ||
		idx->rd_index->indkey.values[0] != att[0] || idx->rd_index->indkey.values[1] != att[1])
	{
		index_close(idx, AccessShareLock);
		table_close(rel, AccessShareLock);
		return NULL;
	}

	ScanKeyEntryInitialize(&key[0], 0, 1, BTEqualStrategyNumber, InvalidOid,
						   idx->rd_indcollation[0], F_TEXTEQ, CStringGetTextDatum(symbol));
	if (after)
		ScanKeyEntryInitialize(&key[1], 0, 2, BTGreaterStrategyNumber, InvalidOid,
							   idx->rd_indcollation[1], F_DATE_GT, DateADTGetDatum(*after));
	snapshot = ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
	scan = index_beginscan(rel, idx, snapshot, after ? 2 : 1, 0);
	index_rescan(scan, key, after ? 2 : 1, NULL, 0);
	slot = table_slot_create(rel, NULL);
	bars = palloc(sizeof(FeatureBar) * size);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		FeatureBar *b;

		if ((n & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		if (n == size)
		{
			if (size > (int) (MaxAllocSize / sizeof(FeatureBar) / 2))
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("symbol \"%s\" has too many bars", symbol)));
			size *= 2;
			bars = repalloc(bars, sizeof(FeatureBar) * size);
		}
		slot_getsomeattrs(slot, maxatt);
		b = &bars[n++];
		/* the table's NOT NULL constraints hold day and prices; volume may be NULL */
		b->day = DatumGetDateADT(slot->tts_values[att[1] - 1]);
		b->high = DatumGetFloat8(slot->tts_values[att[2] - 1]);
		b->low = DatumGetFloat8(slot->tts_values[att[3] - 1]);
		b->close = DatumGetFloat8(slot->tts_values[att[4] - 1]);
		b->volume = slot->tts_isnull[att[5] - 1] ? 0.0 :
												   (double) DatumGetInt64(slot->tts_values[att[5] - 1]);
		b->adj_close = slot->tts_isnull[att[6] - 1] ? NAN :
													  DatumGetFloat8(slot->tts_values[att[6] - 1]);
	}
	ExecDropSingleTupleTableSlot(slot);
	index_endscan(scan);
	index_close(idx, AccessShareLock);
	table_close(rel, AccessShareLock);
	*nbars = n;
	return bars;
}

/*
 * The one place bars are read for modelling: as stored, then put on the
 * total-return scale of the last bar (src/adjust.c, doc/adjustment.md).
 */
FeatureBar *
FeatureBarsLoad(const char *symbol, int *nbars)
{
	FeatureBar *bars = LoadBarsDirect(symbol, NULL, nbars);

	if (bars == NULL)
		bars = LoadBarsSpi(symbol, nbars);
	FeatureBarsAdjust(symbol, bars, *nbars);
	return bars;
}

FeatureBar *
FeatureBarsLoadStored(const char *symbol, const DateADT *after, int *nbars)
{
	return LoadBarsDirect(symbol, after, nbars);
}

bool
FeatureBarsAdjust(const char *symbol, FeatureBar *bars, int nbars)
{
	AdjustInput *in;
	double		*price;
	double		*volume;
	bool		 unit = true;

	if (nbars < 2)
		return true;
	in = palloc(mul_size(nbars, sizeof(AdjustInput)));
	price = palloc(mul_size(nbars, sizeof(double)));
	volume = palloc(mul_size(nbars, sizeof(double)));
	for (int t = 0; t < nbars; t++)
	{
		in[t].day = bars[t].day;
		in[t].close = bars[t].close;
		in[t].adj_close = bars[t].adj_close;
	}
	PriceAdjustFactors(symbol, in, nbars, price, volume);
	for (int t = 0; t < nbars; t++)
	{
		bars[t].high *= price[t];
		bars[t].low *= price[t];
		bars[t].close *= price[t];
		bars[t].volume *= volume[t];
		unit &= (price[t] == 1.0 && volume[t] == 1.0);
	}
	pfree(in);
	pfree(price);
	pfree(volume);
	return unit;
}

FeatureInputs *
FeatureInputsLoad(const FeatureSpec *spec, const char *symbol)
{
	FeatureInputs *in;
	bool		   calendar = false;

	if (!spec->needs_inputs)
		return NULL;
	in = palloc0(sizeof(FeatureInputs));
	in->exo_bars = palloc0(sizeof(FeatureBar *) * spec->nfeatures);
	in->exo_nbars = palloc0(sizeof(int) * spec->nfeatures);
	in->exo_calendar = palloc0(sizeof(int) * spec->nfeatures);
	for (int j = 0; j < spec->nfeatures; j++)
	{
		const FeatureDef *def = &spec->defs[j];
		int				  same = -1;

		calendar |= FEATURE_KIND_IS_CALENDAR(def->kind);
		if (def->symbol[0] == '\0')
			continue;
		for (int i = 0; i < j && same < 0; i++)
			if (strcmp(spec->defs[i].symbol, def->symbol) == 0)
				same = i;
		if (same >= 0)
		{
			in->exo_bars[j] = in->exo_bars[same];
			in->exo_nbars[j] = in->exo_nbars[same];
			in->exo_calendar[j] = in->exo_calendar[same];
			continue;
		}
		in->exo_bars[j] = FeatureBarsLoad(def->symbol, &in->exo_nbars[j]);
		if (in->exo_nbars[j] == 0)
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("feature \"%s\" reads symbol \"%s\", which has no stored bars",
							def->name, def->symbol),
					 errhint("Load it first, e.g. SELECT stockml.ingest_yahoo('%s');", def->symbol)));
		in->exo_calendar[j] = SymbolCalendar(def->symbol);
	}
	in->calendar = calendar ? SymbolCalendar(symbol) : CALENDAR_XNYS;
	return in;
}

void
FeatureInputsRequireCurrent(const FeatureSpec *spec, const FeatureInputs *inputs,
							const char *symbol, DateADT as_of)
{
	if (inputs == NULL)
		return;
	for (int j = 0; j < spec->nfeatures; j++)
	{
		const FeatureDef *def = &spec->defs[j];
		DateADT			  latest;
		DateADT			  needed;

		if (def->symbol[0] == '\0')
			continue;
		latest = inputs->exo_bars[j][inputs->exo_nbars[j] - 1].day;
		/* its last trading day on or before as_of */
		needed = CalendarAddTradingDays((TradingCalendar) inputs->exo_calendar[j], as_of + 1, -1);
		if (latest < needed)
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("feature \"%s\" needs the bar of symbol \"%s\" of %s, the latest bar of \"%s\"",
							def->name, def->symbol,
							DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(needed))),
							symbol),
					 errdetail("The latest stored bar of \"%s\" is of %s.", def->symbol,
							   DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(latest)))),
					 errhint("Refresh it first: SELECT * FROM stockml.refresh(ARRAY['%s']);", def->symbol)));
	}
}

FeatureMatrix *
FeatureMatrixCompute(const char *symbol, const FeatureSpec *spec,
					 const DateADT *start_day, const DateADT *end_day, int horizon)
{
	int			   nbars;
	FeatureBar	  *bars;
	FeatureMatrix *m;

	FeatureCheckHorizon(horizon);
	bars = FeatureBarsLoad(symbol, &nbars);
	m = FeatureMatrixFromBars(spec, FeatureInputsLoad(spec, symbol), bars, nbars,
							  start_day, end_day, horizon);
	pfree(bars);
	return m;
}

/* ------------------------------------------------------------ SQL-callable */

static void
CheckSymbolKnown(const char *symbol)
{
	Oid	  argtypes[1] = {TEXTOID};
	Datum values[1];
	bool  known;

	values[0] = CStringGetTextDatum(symbol);
	SPI_connect();
	if (SPI_execute_with_args("SELECT 1 FROM stockml.symbols WHERE symbol = $1",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading stockml.symbols failed");
	known = (SPI_processed > 0);
	SPI_finish();
	if (!known)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("symbol \"%s\" has no stored prices", symbol),
				 errhint("Load bars first, e.g. SELECT * FROM stockml.ingest_csv('%s', :'csv');", symbol)));
}

/*
 * The output rows of features() built from a template tuple: formed once by
 * heap_form_tuple from a first row, then row after row only the bytes of
 * day, close, the elements of x and y are rewritten in it (every row has the
 * same layout: one symbol, x of the same length, y NULL or not, each with a
 * template of its own) and tuplestore_puttuple copies it, in place of
 * forming every row anew (sizes, alignment, a zeroed allocation: about half
 * of what storing a row cost).
 */
typedef struct RowTemplate
{
	HeapTuple tuple;
	char	 *day;
	char	 *close;
	char	 *x; /* the first element */
	char	 *y; /* NULL when y is NULL */
} RowTemplate;

/*
 * The template of a row (values, nulls as tuplestore_putvalues takes them);
 * false when the row's layout is not the one expected, checked by finding the
 * values where they should be: the caller then forms each row.
 */
static bool
RowTemplateInit(RowTemplate *rt, TupleDesc desc, Datum *values, bool *nulls, int nfeatures)
{
	static const Oid types[5] = {TEXTOID, DATEOID, FLOAT8OID, FLOAT8ARRAYOID, FLOAT8OID};
	char			*at[5] = {NULL, NULL, NULL, NULL, NULL};
	HeapTupleHeader	 h;
	char			*tp;
	uint32			 off = 0;
	ArrayType		*x = DatumGetArrayTypeP(values[3]);

	if (desc->natts != 5)
		return false;
	for (int i = 0; i < 5; i++)
		if (TupleDescAttr(desc, i)->attisdropped || TupleDescAttr(desc, i)->atttypid != types[i])
			return false;
	rt->tuple = heap_form_tuple(desc, values, nulls);
	h = rt->tuple->t_data;
	tp = (char *) h + h->t_hoff;
	/* as nocachegetattr walks a tuple */
	for (int i = 0; i < 5; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (HeapTupleHasNulls(rt->tuple) && att_isnull(i, h->t_bits))
			continue;
		off = att_align_pointer(off, att->attalign, att->attlen, tp + off);
		at[i] = tp + off;
		off = att_addlength_pointer(off, att->attlen, tp + off);
	}
	if (at[1] == NULL || at[2] == NULL || at[3] == NULL ||
		VARATT_IS_EXTERNAL(at[3]) || VARATT_IS_COMPRESSED(at[3]))
		return false;
	rt->day = at[1];
	rt->close = at[2];
	rt->x = at[3] + (VARATT_IS_SHORT(at[3]) ? VARHDRSZ_SHORT : VARHDRSZ) + (ARR_OVERHEAD_NONULLS(1) - VARHDRSZ);
	rt->y = at[4];
	if (VARSIZE_ANY(at[3]) != VARSIZE(x) - VARHDRSZ + (VARATT_IS_SHORT(at[3]) ? VARHDRSZ_SHORT : VARHDRSZ) ||
		memcmp(rt->x, (char *) x + ARR_OVERHEAD_NONULLS(1), nfeatures * sizeof(float8)) != 0 ||
		*(DateADT *) rt->day != DatumGetDateADT(values[1]) ||
		DatumGetFloat8(values[2]) != *(double *) rt->close ||
		(rt->y == NULL) != nulls[4] ||
		(rt->y != NULL && *(double *) rt->y != DatumGetFloat8(values[4])))
		return false;
	return true;
}

static void
FeaturesToTuplestore(FunctionCallInfo fcinfo, const char *symbol, const FeatureSpec *spec,
					 int start_arg, int end_arg, int horizon)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	FeatureMatrix *m;
	DateADT		   start_day,
		end_day;
	ArrayType	 *x;
	Size		  xsize;
	Datum		  symbol_datum;
	int			  nbars;
	FeatureBar	 *bars;
	MemoryContext work;
	MemoryContext caller;
	RowTemplate	  templates[2];		/* y not NULL, y NULL */
	int			  made[2] = {0, 0}; /* 1 made, -1 cannot be */

	ValidateSymbol(symbol);
	FeatureCheckHorizon(horizon);

	/*
	 * The bars and the matrix live only until they are in the tuplestore: in
	 * a LATERAL call over many symbols the caller's context is not reset
	 * between calls.
	 */
	work = AllocSetContextCreate(CurrentMemoryContext, "stockml features",
								 ALLOCSET_DEFAULT_SIZES);
	caller = MemoryContextSwitchTo(work);
	if (!PG_ARGISNULL(start_arg))
		start_day = PG_GETARG_DATEADT(start_arg);
	if (!PG_ARGISNULL(end_arg))
		end_day = PG_GETARG_DATEADT(end_arg);

	bars = FeatureBarsLoad(symbol, &nbars);
	if (nbars == 0)
		CheckSymbolKnown(symbol);
	m = FeatureMatrixFromBars(spec, nbars > 0 ? FeatureInputsLoad(spec, symbol) : NULL,
							  bars, nbars,
							  PG_ARGISNULL(start_arg) ? NULL : &start_day,
							  PG_ARGISNULL(end_arg) ? NULL : &end_day, horizon);

	InitMaterializedSRF(fcinfo, 0);
	symbol_datum = CStringGetTextDatum(symbol);

	/*
	 * One float8[] buffer, refilled for every row: tuplestore_putvalues copies
	 * it into the stored tuple.  Built by hand, as construct_array would,
	 * without its per-element work.
	 */
	xsize = add_size(ARR_OVERHEAD_NONULLS(1), mul_size(m->nfeatures, sizeof(float8)));
	x = (ArrayType *) palloc0(xsize);
	SET_VARSIZE(x, xsize);
	x->ndim = 1;
	x->dataoffset = 0;
	x->elemtype = FLOAT8OID;
	ARR_DIMS(x)[0] = m->nfeatures;
	ARR_LBOUND(x)[0] = 1;

	for (int i = 0; i < m->nrows; i++)
	{
		Datum		 values[5];
		bool		 nulls[5] = {false, false, false, false, false};
		int			 k = isnan(m->y[i]) ? 1 : 0;
		RowTemplate *rt = &templates[k];

		if (made[k] > 0)
		{
			memcpy(rt->day, &m->days[i], sizeof(DateADT));
			memcpy(rt->close, &m->close[i], sizeof(float8));
			memcpy(rt->x, &m->x[(Size) i * m->nfeatures], m->nfeatures * sizeof(float8));
			if (rt->y)
				memcpy(rt->y, &m->y[i], sizeof(float8));
			tuplestore_puttuple(rsinfo->setResult, rt->tuple);
			continue;
		}
		memcpy((char *) x + ARR_OVERHEAD_NONULLS(1), &m->x[(Size) i * m->nfeatures], m->nfeatures * sizeof(float8));
		values[0] = symbol_datum;
		values[1] = DateADTGetDatum(m->days[i]);
		values[2] = Float8GetDatum(m->close[i]);
		values[3] = PointerGetDatum(x);
		if (k == 1)
			nulls[4] = true;
		else
			values[4] = Float8GetDatum(m->y[i]);
		if (made[k] == 0)
			made[k] = RowTemplateInit(rt, rsinfo->setDesc, values, nulls, m->nfeatures) ? 1 : -1;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	MemoryContextSwitchTo(caller);
	MemoryContextDelete(work);
}

static char *
RequiredText(FunctionCallInfo fcinfo, int arg, const char *what)
{
	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what)));
	return text_to_cstring(PG_GETARG_TEXT_PP(arg));
}

static int
RequiredHorizon(FunctionCallInfo fcinfo, int arg)
{
	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("horizon must not be NULL"),
				 errhint("horizon => 1 predicts the next stored bar's close.")));
	return PG_GETARG_INT32(arg);
}

/*
 * stockml_reader reads no table, yet its documented batch prediction is
 * SELECT predict(model, x) FROM features(...): for a member of it that may not
 * read stockml.prices, features() reads the feature set, the bars and the
 * watchlist as the extension's owner, as predict() does (search_path pinned,
 * security-restricted, reading only; the bars are what price_history shows
 * it).  Everyone else reads them as themselves, row-level security included.
 */
static bool
FeaturesReadAsOwner(void)
{
	Oid reader = get_role_oid(STOCKML_READER_ROLE, true);
	Oid prices = get_relname_relid("prices", get_namespace_oid("stockml", false));

	return OidIsValid(reader) && OidIsValid(prices) &&
		   has_privs_of_role(GetUserId(), reader) &&
		   pg_class_aclcheck(prices, GetUserId(), ACL_SELECT) != ACLCHECK_OK;
}

typedef struct FeatureSetCache
{
	char		*set;
	FeatureSpec *spec;
} FeatureSetCache;

/* features(symbol, start_day, end_day, feature_set, horizon) */
PG_FUNCTION_INFO_V1(stockml_features);
Datum
stockml_features(PG_FUNCTION_ARGS)
{
	char			  *symbol = RequiredText(fcinfo, 0, "symbol");
	char			  *set = RequiredText(fcinfo, 3, "feature_set");
	int				   horizon = RequiredHorizon(fcinfo, 4);
	bool			   as_owner = FeaturesReadAsOwner();
	StockmlOwnerSwitch sw;

	FeatureSetCache *cache = (FeatureSetCache *) fcinfo->flinfo->fn_extra;

	/* an ERROR in between is undone by the (sub)transaction's abort */
	if (as_owner)
		StockmlBecomeOwner(&sw);

	/*
	 * The set's spec, read and parsed once per query and call site (a LATERAL
	 * call over many symbols): in the query's one snapshot it cannot change.
	 */
	if (cache == NULL || strcmp(cache->set, set) != 0)
	{
		MemoryContext	 old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		FeatureSetCache *c = palloc(sizeof(FeatureSetCache));

		c->spec = FeatureSpecParse(FeatureSetSpec(set));
		c->set = pstrdup(set);
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = cache = c;
	}
	FeaturesToTuplestore(fcinfo, symbol, cache->spec, 1, 2, horizon);
	if (as_owner)
		StockmlRestoreUser(&sw);
	return (Datum) 0;
}

/* features_spec(symbol, spec, start_day, end_day, horizon) */
PG_FUNCTION_INFO_V1(stockml_features_spec);
Datum
stockml_features_spec(PG_FUNCTION_ARGS)
{
	char *symbol = RequiredText(fcinfo, 0, "symbol");
	int	  horizon = RequiredHorizon(fcinfo, 4);

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("spec must not be NULL"),
				 errhint("Pass a spec, e.g. (SELECT spec FROM stockml.feature_sets WHERE name = 'default').")));
	{
		Jsonb			  *spec = PG_GETARG_JSONB_P(1);
		bool			   as_owner = FeaturesReadAsOwner();
		StockmlOwnerSwitch sw;

		if (as_owner)
			StockmlBecomeOwner(&sw);
		FeaturesToTuplestore(fcinfo, symbol, FeatureSpecParse(spec), 2, 3, horizon);
		if (as_owner)
			StockmlRestoreUser(&sw);
	}
	return (Datum) 0;
}

/* feature_names(spec): the names, in the order of x */
PG_FUNCTION_INFO_V1(stockml_feature_names);
Datum
stockml_feature_names(PG_FUNCTION_ARGS)
{
	FeatureSpec *spec = FeatureSpecParse(PG_GETARG_JSONB_P(0));
	Datum		*names = palloc(sizeof(Datum) * spec->nfeatures);

	for (int i = 0; i < spec->nfeatures; i++)
		names[i] = CStringGetTextDatum(spec->defs[i].name);
	PG_RETURN_ARRAYTYPE_P(construct_array(names, spec->nfeatures, TEXTOID, -1, false, TYPALIGN_INT));
}

/* feature_spec_check(spec): true, or an ERROR saying what is wrong */
PG_FUNCTION_INFO_V1(stockml_feature_spec_check);
Datum
stockml_feature_spec_check(PG_FUNCTION_ARGS)
{
	FeatureSpecParse(PG_GETARG_JSONB_P(0));
	PG_RETURN_BOOL(true);
}

/* feature_spec_warmup(spec): the first bar (from 1) with a full feature row */
PG_FUNCTION_INFO_V1(stockml_feature_spec_warmup);
Datum
stockml_feature_spec_warmup(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(FeatureSpecParse(PG_GETARG_JSONB_P(0))->warmup);
}
