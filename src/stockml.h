/*
 * stockml.h — settings shared across stockml's C files and each concept's
 * start-up hook, called once from _PG_init (src/stockml.c).
 */
#ifndef STOCKML_H
#define STOCKML_H

#include "postgres.h"

#include "utils/resowner.h"

/* Settings defined in stockml.c */
extern int stockml_blas_threads;

/*
 * Per-concept start-up hooks: each defines its own settings (GUCs) and, when
 * the library is preloaded, its shared memory and workers.  Called from
 * _PG_init in this order.
 */
extern void StockmlHttpInit(void);		 /* http_client.c: timeouts, caps, hosts */
extern void StockmlIngestHttpInit(void); /* ingest_http.c: source URLs */
extern void StockmlRefreshInit(void);	 /* refresh.c: overlap */
extern void StockmlReadjustInit(void);	 /* readjust.c: rescale tolerance */
extern void StockmlJobsInit(void);		 /* jobs.c: queue, worker settings, shmem */
extern void StockmlPredictInit(void);	 /* predict.c: model cache, intervals */

/*
 * In the PG_CATCH of work begun with BeginInternalSubTransaction: copy the
 * error into the caller's context, roll the subtransaction back and restore
 * the caller's memory context and resource owner.  The caller decides
 * whether to rethrow.
 */
extern ErrorData *StockmlAbortSubTransaction(MemoryContext caller, ResourceOwner owner);

#endif /* STOCKML_H */
