/*
 * stockml.c — the module's entry point: _PG_init defines the settings under
 * the reserved "stockml." prefix and runs each concept's start-up hook.
 * Works both preloaded (shared_preload_libraries) and loaded on demand.
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "utils/guc.h"

#include "feature_state.h"
#include "model_gbt.h"
#include "stockml.h"

PG_MODULE_MAGIC;

/* OpenBLAS's own entry point; backends stay single-threaded by default */
extern void openblas_set_num_threads(int num_threads);

int stockml_blas_threads = 1;

static const struct config_enum_entry gbt_evaluator_options[] = {
	{"auto", GBT_EVALUATOR_AUTO, false},
	{"portable", GBT_EVALUATOR_PORTABLE, false},
	{"walk", GBT_EVALUATOR_WALK, false},
	{NULL, 0, false}};

void _PG_init(void);

static void
AssignBlasThreads(int newval, void *extra)
{
	openblas_set_num_threads(newval);
}

void
_PG_init(void)
{
	DefineCustomIntVariable("stockml.blas_threads",
							"Threads OpenBLAS may use inside one backend.",
							"Backends are single-threaded processes; keep 1 unless training "
							"very large models on an otherwise idle server.",
							&stockml_blas_threads,
							1, 1, 64,
							PGC_SUSET, 0,
							NULL, AssignBlasThreads, NULL);
	DefineCustomEnumVariable("stockml.gbt_evaluator",
							 "How gbt models predict: auto, portable or walk.",
							 "auto and portable evaluate the trees as bitvectors (auto with AVX-512 "
							 "when the CPU has it), walk node by node; all three give the same "
							 "predictions to the bit, the walk several times slower.  For tests.",
							 &gbt_evaluator,
							 GBT_EVALUATOR_AUTO, gbt_evaluator_options,
							 PGC_USERSET, GUC_NOT_IN_SAMPLE,
							 NULL, NULL, NULL);

	StockmlHttpInit();
	StockmlIngestHttpInit();
	StockmlRefreshInit();
	StockmlReadjustInit();
	StockmlJobsInit();
	StockmlPredictInit();
	StockmlFeatureStateInit();

	MarkGUCPrefixReserved("stockml");
}

ErrorData *
StockmlAbortSubTransaction(MemoryContext caller, ResourceOwner owner)
{
	ErrorData *edata;

	MemoryContextSwitchTo(caller);
	edata = CopyErrorData();
	FlushErrorState();
	RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(caller);
	CurrentResourceOwner = owner;
	return edata;
}
