/*
 * ingest_csv.h — parsing Yahoo/Stooq-style daily CSV into PriceBars, shared
 * by stockml.ingest_csv() and the Stooq HTTP source.
 */
#ifndef INGEST_CSV_H
#define INGEST_CSV_H

#include "price_store.h"

/*
 * Parse CSV text into bars, dates in date_format (NULL: YYYY-MM-DD).  Rows that break a rule are counted in *counts;
 * a body that is not daily-bar CSV at all (no recognisable header, binary
 * data) is an ERROR naming symbol and source.
 */
extern PriceBar *ParsePriceCsv(const char *symbol, const char *source,
							   const char *csv, const char *date_format,
							   int *nbars, IngestCounts *counts);

/* ERROR unless date_format is a layout ParsePriceCsv reads ('MM/DD/YYYY', ...) */
extern void CheckDateFormat(const char *date_format);

#endif /* INGEST_CSV_H */
