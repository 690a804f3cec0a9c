/*
 * feature_state.c — predict()'s kept feature state: per backend, for each
 * (model version, symbol) served, the indicator states after the symbol's
 * last bar (feature_matrix.c's FeatureStream, interval.c's volatility), so the
 * latest feature row costs one row of stockml.bar_changes when no bar was
 * written since, and the new bars only when bars were appended.  That row is
 * read by a direct scan of its primary key, or straight from the heap where
 * the key last pointed (ReadBarChanges), as the caller: only the reads of
 * bars and of the calendar run as the extension's owner.
 *
 * stockml.bar_changes (sql/install/32_bar_changes.sql) has one row per
 * symbol, moved by a statement trigger of every write of prices and
 * corporate_actions in the writer's transaction: write_id, a value of a
 * sequence (never reused, so a rolled-back write leaves none behind), at
 * every write; edit_id at every write that is not a pure append (a later day
 * than every stored one).  Writers of one symbol serialise on its row, so the
 * committed rows of a symbol form one chain, and a snapshot that sees a
 * committed row (write_id W) sees exactly the bars of W's state.  Hence:
 *
 *	 - same write_id as the state's: the bars are the state's bars (a hit);
 *	 - same edit_id: only appends since, so the bars up to the state's last
 *	   day are the state's, and the later ones are read by the primary key and
 *	   pushed, as long as the total-return factors stay exactly 1 (no split,
 *	   dividend or change of adj_close / close between the state's last bar and
 *	   the new ones; else the earlier bars are rescaled: all are read again);
 *	 - anything else: all bars are read and the state rebuilt.
 *
 * The symbol's calendar (calendar.c's SymbolCalendar, a read of its row of
 * stockml.symbols) is kept with the state, read in the same snapshot as the
 * row of bar_changes: a change of the symbol's calendar, exchange or name
 * moves write_id too (a row trigger of stockml.symbols in the writer's
 * transaction), so a snapshot that sees the state's write_id sees the
 * calendar it was kept with, and a hit reads neither stockml.symbols nor its
 * catalog entries.  A relcache callback would not do: writing rows sends no
 * invalidation.
 *
 * A row written by the current transaction (its own uncommitted bars, which a
 * rollback may take back) is not used: such a call reads every bar, as does
 * any call where the bars are not read by a scan of the primary key (a Citus
 * table, row-level security: FeatureBarsLoadStored), a spec that reads
 * another symbol, or stockml.feature_state_cache_size = 0.  The row a state
 * was built from is checked by its values only; the state is the same as
 * computing from all bars because the kernels are pushed in the same order
 * (test/pgtap/87_predict_state.sql compares both, bit for bit).
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "storage/bufmgr.h"

#include "distributed.h"
#include "feature_state.h"
#include "roles.h"

PG_FUNCTION_INFO_V1(stockml_feature_state_stats);

int stockml_feature_state_cache_size = 1024;

/* What this backend's calls took (stockml.feature_state_stats()) */
static struct
{
	int64 hits;		/* no bar written since the state */
	int64 appends;	/* bars appended: only they were read */
	int64 rebuilds; /* every bar read, the state kept */
	int64 bypassed; /* every bar read, no state kept or used */
} stats;

typedef struct StateKey
{
	int64 model_id;
	char  symbol[NAMEDATALEN]; /* zero-filled: a hash key */
} StateKey;

typedef struct StateEntry
{
	StateKey		 key;
	MemoryContext	 cxt;
	bool			 valid; /* false while being updated, or after an ERROR there */
	int64			 write_id;
	int64			 edit_id;
	ItemPointerData	 tid; /* where bar_changes' primary key last pointed for the symbol */
	int				 nfeatures;
	FeatureStream	*stream;
	bool			 want_sigma;
	IntervalVolState vol;
	FeatureBar		 last;	   /* the last bar as stored */
	TradingCalendar	 calendar; /* the symbol's, as of write_id */
	double			*x;		   /* its feature row */
	double			 sigma;
	uint64			 last_used;
} StateEntry;

static HTAB			*state_cache = NULL;
static MemoryContext state_cxt = NULL;
static bool			 state_stale = false;
static bool			 callback_registered = false;
static uint64		 use_clock = 0;
static Oid			 changes_relid = InvalidOid;
static Oid			 models_relid = InvalidOid;
static Oid			 prices_relid = InvalidOid;

static void StateCallback(Datum arg, Oid relid);
static bool ReadBarChanges(const char *symbol, ItemPointer tid, int64 *write_id, int64 *edit_id);
static bool FetchBarChanges(Relation rel, const char *symbol, ItemPointer tid, int64 *write_id,
							int64 *edit_id, bool *found);
static bool RebuildState(StateEntry *e, const FeatureSpec *spec, const IntervalScale *scale,
						 const char *symbol);
static bool PushAppended(StateEntry *e, const FeatureSpec *spec, const IntervalScale *scale,
						 const char *symbol);
static bool RowIsFinite(const double *x, int n);
static void EvictLeastRecentlyUsed(void);

void
StockmlFeatureStateInit(void)
{
	DefineCustomIntVariable("stockml.feature_state_cache_size",
							"(model version, symbol) pairs each backend keeps predict()'s feature state for.",
							"Least recently used out first; 0 computes the features from all bars on every call.",
							&stockml_feature_state_cache_size,
							1024, 0, 1000000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
}

/* Relcache callback: a model or the change table may be another now; freed at the next lookup */
static void
StateCallback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == changes_relid || relid == models_relid)
		state_stale = true;
}

/*
 * The symbol's row of stockml.bar_changes in the active snapshot; false when
 * there is none, or the current transaction wrote it.  *tid: where the
 * primary key last pointed for it (invalid: not known).  When the row is
 * still reachable from there (the heap-only chain from that line pointer:
 * bar_changes' updates change no indexed column, so they are HOT while its
 * page has room), the index is not read; else the index is scanned and *tid
 * set to what it points to.
 */
static bool
ReadBarChanges(const char *symbol, ItemPointer tid, int64 *write_id, int64 *edit_id)
{
	Relation		rel;
	Relation		idx;
	Oid				pk;
	IndexScanDesc	scan;
	TupleTableSlot *slot;
	ScanKeyData		key;
	TupleDesc		desc;
	bool			found = false;

	rel = table_open(changes_relid, AccessShareLock);
	desc = RelationGetDescr(rel);
	if (desc->natts < 3 || TupleDescAttr(desc, 0)->atttypid != TEXTOID ||
		TupleDescAttr(desc, 1)->atttypid != INT8OID || TupleDescAttr(desc, 2)->atttypid != INT8OID)
	{
		table_close(rel, AccessShareLock);
		return false;
	}
	/* a heap's page, under a lock that keeps VACUUM from truncating it */
	if (ItemPointerIsValid(tid) && !IsolationIsSerializable() &&
		rel->rd_rel->relam == HEAP_TABLE_AM_OID &&
		ItemPointerGetBlockNumber(tid) < RelationGetNumberOfBlocks(rel) &&
		FetchBarChanges(rel, symbol, tid, write_id, edit_id, &found))
	{
		table_close(rel, AccessShareLock);
		return found;
	}
	pk = RelationGetPrimaryKeyIndex(rel);
	if (!OidIsValid(pk))
	{
		table_close(rel, AccessShareLock);
		return false;
	}
	idx = index_open(pk, AccessShareLock);
	ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   idx->rd_indcollation[0], F_TEXTEQ, CStringGetTextDatum(symbol));
	scan = index_beginscan(rel, idx, GetActiveSnapshot(), 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	slot = table_slot_create(rel, NULL);
	ItemPointerSetInvalid(tid);
	if (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool  isnull;
		Datum xmin = slot_getsysattr(slot, MinTransactionIdAttributeNumber, &isnull);

		slot_getsomeattrs(slot, 3);
		found = !slot->tts_isnull[1] && !slot->tts_isnull[2] &&
				!TransactionIdIsCurrentTransactionId(DatumGetTransactionId(xmin));
		*write_id = DatumGetInt64(slot->tts_values[1]);
		*edit_id = DatumGetInt64(slot->tts_values[2]);
		/* the index entry's TID: the root of the row's chain */
		*tid = scan->xs_heaptid;
	}
	ExecDropSingleTupleTableSlot(slot);
	index_endscan(scan);
	index_close(idx, AccessShareLock);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * ReadBarChanges from the chain at *tid, as an index scan that found it
 * would: true when the tuple visible there is symbol's (*found as
 * ReadBarChanges' answer); false when none is visible there, or another
 * symbol's (the line pointer was reused): the caller scans the index.  The
 * primary key makes a visible row of symbol the only one.
 */
static bool
FetchBarChanges(Relation rel, const char *symbol, ItemPointer tid, int64 *write_id,
				int64 *edit_id, bool *found)
{
	Buffer			buf;
	HeapTupleData	tup;
	ItemPointerData at = *tid;
	bool			all_dead;
	bool			mine = false;

	buf = ReadBuffer(rel, ItemPointerGetBlockNumber(tid));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	if (heap_hot_search_buffer(&at, rel, buf, GetActiveSnapshot(), &tup, &all_dead, true))
	{
		TupleDesc desc = RelationGetDescr(rel);
		bool	  isnull;
		Datum	  d = heap_getattr(&tup, 1, desc, &isnull);
		size_t	  len = strlen(symbol);

		if (!isnull && VARSIZE_ANY_EXHDR(DatumGetPointer(d)) == len &&
			memcmp(VARDATA_ANY(DatumGetPointer(d)), symbol, len) == 0)
		{
			bool wnull,
				enull;

			mine = true;
			*write_id = DatumGetInt64(heap_getattr(&tup, 2, desc, &wnull));
			*edit_id = DatumGetInt64(heap_getattr(&tup, 3, desc, &enull));
			*found = !wnull && !enull &&
					 !TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(tup.t_data));
		}
	}
	LockBuffer(buf, BUFFER_LOCK_UNLOCK);
	ReleaseBuffer(buf);
	return mine;
}

static bool
RowIsFinite(const double *x, int n)
{
	for (int j = 0; j < n; j++)
		if (!isfinite(x[j]))
			return false;
	return true;
}

/* The state from all of the symbol's bars; false: not servable from here */
static bool
RebuildState(StateEntry *e, const FeatureSpec *spec, const IntervalScale *scale, const char *symbol)
{
	MemoryContext old;
	FeatureBar	 *bars;
	int			  nbars;
	bool		  defined = false;
	double		  sigma = NAN;

	e->valid = false;
	MemoryContextReset(e->cxt);
	bars = FeatureBarsLoadStored(symbol, NULL, &nbars);
	if (bars == NULL || nbars < Max(spec->warmup, 1))
		return false;
	FeatureBarsAdjust(symbol, bars, nbars);

	old = MemoryContextSwitchTo(e->cxt);
	e->stream = FeatureStreamCreate(spec);
	e->x = palloc(sizeof(double) * Max(spec->nfeatures, 1));
	MemoryContextSwitchTo(old);
	IntervalVolatilityInit(&e->vol);
	for (int t = 0; t < nbars; t++)
	{
		if ((t & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		defined = FeatureStreamPush(e->stream, spec, &bars[t], e->x);
		if (e->want_sigma)
			sigma = IntervalVolatilityPush(&e->vol, bars[t].close, scale);
	}
	if (!defined || !RowIsFinite(e->x, spec->nfeatures))
		return false;
	/* the last bar's factor is 1: as stored */
	e->last = bars[nbars - 1];
	e->sigma = sigma;
	e->nfeatures = spec->nfeatures;
	pfree(bars);
	e->valid = true;
	return true;
}

/*
 * Push the bars after the state's last one; false when they rescale the
 * earlier ones (the caller rebuilds) or cannot be read so.
 */
static bool
PushAppended(StateEntry *e, const FeatureSpec *spec, const IntervalScale *scale, const char *symbol)
{
	FeatureBar *tail;
	FeatureBar *bars;
	int			ntail;
	bool		defined = false;
	double		sigma = e->sigma;

	tail = FeatureBarsLoadStored(symbol, &e->last.day, &ntail);
	if (tail == NULL)
		return false;
	if (ntail == 0)
		return true;
	/* the state's last bar, then the new ones: do their factors stay 1? */
	bars = palloc(sizeof(FeatureBar) * (ntail + 1));
	bars[0] = e->last;
	memcpy(&bars[1], tail, sizeof(FeatureBar) * ntail);
	if (!FeatureBarsAdjust(symbol, bars, ntail + 1))
		return false;

	e->valid = false;
	for (int t = 1; t <= ntail; t++)
	{
		if ((t & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		defined = FeatureStreamPush(e->stream, spec, &bars[t], e->x);
		if (e->want_sigma)
			sigma = IntervalVolatilityPush(&e->vol, bars[t].close, scale);
	}
	if (!defined || !RowIsFinite(e->x, spec->nfeatures))
		return false;
	e->last = bars[ntail];
	e->sigma = sigma;
	pfree(bars);
	pfree(tail);
	e->valid = true;
	return true;
}

static void
EvictLeastRecentlyUsed(void)
{
	HASH_SEQ_STATUS seq;
	StateEntry	   *e;
	StateEntry	   *oldest = NULL;

	hash_seq_init(&seq, state_cache);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (oldest == NULL || e->last_used < oldest->last_used)
			oldest = e;
	if (oldest)
	{
		MemoryContextDelete(oldest->cxt);
		hash_search(state_cache, &oldest->key, HASH_REMOVE, NULL);
	}
}

bool
FeatureStateLastRow(int64 model_id, const FeatureSpec *spec, const IntervalScale *scale,
					bool want_sigma, const char *symbol, TradingCalendar *calendar,
					double *x, DateADT *as_of, double *close, double *sigma)
{
	StateKey		key;
	StateEntry	   *e;
	bool			found;
	int64			write_id;
	int64			edit_id;
	ItemPointerData tid;
	Oid				nsp;

	stats.bypassed++;
	if (stockml_feature_state_cache_size <= 0 || !FeatureStreamSupports(spec) ||
		strlen(symbol) >= NAMEDATALEN || !ActiveSnapshotSet())
		return false;
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(StateCallback, (Datum) 0);
		callback_registered = true;
	}
	if (state_stale && state_cxt)
	{
		MemoryContextReset(state_cxt);
		state_cache = NULL;
		changes_relid = models_relid = prices_relid = InvalidOid;
	}
	state_stale = false;
	if (!OidIsValid(changes_relid))
	{
		nsp = get_namespace_oid("stockml", false);
		changes_relid = get_relname_relid("bar_changes", nsp);
		models_relid = get_relname_relid("models", nsp);
		prices_relid = get_relname_relid("prices", nsp);
		/* a database still at 0.1.0 has no change table */
		if (!OidIsValid(changes_relid) || !OidIsValid(prices_relid))
		{
			changes_relid = InvalidOid;
			return false;
		}
	}
	/* a Citus table's writes happen on the workers, where no trigger moves bar_changes */
	if (RelationIsCitusTable(prices_relid))
		return false;

	if (state_cxt == NULL)
		state_cxt = AllocSetContextCreate(CacheMemoryContext, "stockml feature state",
										  ALLOCSET_DEFAULT_SIZES);
	if (state_cache == NULL)
	{
		HASHCTL ctl;

		ctl.keysize = sizeof(StateKey);
		ctl.entrysize = sizeof(StateEntry);
		ctl.hcxt = state_cxt;
		state_cache = hash_create("stockml feature state", 64, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&key, 0, sizeof(key));
	key.model_id = model_id;
	strlcpy(key.symbol, symbol, NAMEDATALEN);
	e = hash_search(state_cache, &key, HASH_FIND, NULL);
	if (e)
		tid = e->tid;
	else
		ItemPointerSetInvalid(&tid);
	found = ReadBarChanges(symbol, &tid, &write_id, &edit_id);
	if (e)
		e->tid = tid;
	if (!found)
		return false;
	if (e == NULL)
	{
		while (hash_get_num_entries(state_cache) >= stockml_feature_state_cache_size)
			EvictLeastRecentlyUsed();
		e = hash_search(state_cache, &key, HASH_ENTER, &found);
		e->cxt = AllocSetContextCreate(state_cxt, "stockml feature state entry",
									   ALLOCSET_SMALL_SIZES);
		e->valid = false;
		e->tid = tid;
	}
	e->last_used = ++use_clock;
	if (e->valid && (e->nfeatures != spec->nfeatures || e->want_sigma != want_sigma))
		e->valid = false;

	if (e->valid && e->write_id == write_id)
		stats.hits++;
	else
	{
		StockmlOwnerSwitch sw;
		TradingCalendar	   cal;
		bool			   kept = true;

		/*
		 * Bars and the calendar are read as the extension's owner (an ERROR
		 * is undone by the abort, and leaves the entry as it was or invalid)
		 */
		StockmlBecomeOwner(&sw);
		/* the calendar in the snapshot that read write_id */
		cal = SymbolCalendar(symbol);
		e->want_sigma = want_sigma;
		if (e->valid && e->edit_id == edit_id && PushAppended(e, spec, scale, symbol))
			stats.appends++;
		else if (RebuildState(e, spec, scale, symbol))
			stats.rebuilds++;
		else
			kept = false;
		StockmlRestoreUser(&sw);
		if (!kept)
			return false;
		e->write_id = write_id;
		e->edit_id = edit_id;
		e->calendar = cal;
	}
	stats.bypassed--;

	memcpy(x, e->x, sizeof(double) * spec->nfeatures);
	*calendar = e->calendar;
	if (spec->needs_inputs)
		FeatureCalendarRow(spec, (int) e->calendar, e->last.day, x);
	*as_of = e->last.day;
	*close = e->last.close;
	*sigma = want_sigma ? e->sigma : NAN;
	return true;
}

/* feature_state_stats(): this backend's counts since it started, and the states it keeps */
Datum
stockml_feature_state_stats(PG_FUNCTION_ARGS)
{
	TupleDesc desc;
	Datum	  values[5];
	bool	  nulls[5] = {false, false, false, false, false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = Int64GetDatum(stats.hits);
	values[1] = Int64GetDatum(stats.appends);
	values[2] = Int64GetDatum(stats.rebuilds);
	values[3] = Int64GetDatum(stats.bypassed);
	values[4] = Int64GetDatum(state_cache && !state_stale ? (int64) hash_get_num_entries(state_cache) : 0);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
