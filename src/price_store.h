/*
 * price_store.h — validating and storing daily bars, shared by every ingest
 * path (CSV, Yahoo, Stooq): one bar struct, the rules a bar must satisfy,
 * the upsert into stockml.prices and the stockml.ingest_log row.
 */
#ifndef PRICE_STORE_H
#define PRICE_STORE_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/date.h"
#include "utils/timestamp.h"

/* How many rejected rows are described, in the NOTICE and in ingest_log.error */
#define INGEST_REASONS_SHOWN 5

typedef struct PriceBar
{
	DateADT day;
	double	open;
	double	high;
	double	low;
	double	close;
	double	adj_close; /* NaN when the source has none */
	int64	volume;	   /* -1 when the source has none */
	int		line;	   /* input line or array index, for messages */
} PriceBar;

typedef struct IngestCounts
{
	int64		   inserted;
	int64		   updated;
	int64		   rejected;
	int64		   accepted;  /* valid bars handed to StorePriceBars, changed or not */
	StringInfoData reasons;	  /* the first INGEST_REASONS_SHOWN reasons */
	bool		   keep_days; /* set by the caller: collect the accepted days */
	DateADT		  *days;	  /* the accepted days, when keep_days */
	int			   ndays;
} IngestCounts;

extern bool		   SymbolIsValid(const char *symbol);
extern void		   ValidateSymbol(const char *symbol);
extern char		 **SymbolsFromArray(ArrayType *arr, int *n);
extern void		   IngestCountsInit(IngestCounts *counts);
extern void		   IngestReject(IngestCounts *counts, const char *fmt, ...) pg_attribute_printf(2, 3);
extern const char *PriceBarProblem(const PriceBar *bar);
extern void		   RejectDuplicateDays(PriceBar *bars, int *nbars, IngestCounts *counts);
extern void		   StorePriceBars(const char *symbol, const char *source,
								  const PriceBar *bars, int nbars, IngestCounts *counts);
extern const char *IngestStatus(const IngestCounts *counts);
extern void		   ReportRejections(const char *symbol, const IngestCounts *counts, bool strict);
extern Datum	   InsertIngestLog(const char *symbol, const char *source,
								   TimestampTz started_at, const char *status,
								   int http_status, const IngestCounts *counts,
								   const char *error);

#endif /* PRICE_STORE_H */
