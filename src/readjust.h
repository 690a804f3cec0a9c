/*
 * readjust.h — keeping a refreshed symbol's history on one price scale
 * (src/readjust.c, doc/adjustment.md "Re-adjusted history"): what was stored
 * before a fetch, whether the fetch shows that the provider re-adjusted its
 * history (a new split or dividend, an overlap day that disagrees beyond
 * rounding), and storing the provider's full history in its place.
 */
#ifndef STOCKML_READJUST_H
#define STOCKML_READJUST_H

#include "postgres.h"

#include "utils/date.h"

#include "ingest_http.h"
#include "price_store.h"

typedef struct ReadjustBar
{
	DateADT day;
	double	close;
	double	adj_close; /* NaN when NULL */
} ReadjustBar;

typedef struct ReadjustAction
{
	DateADT day;
	bool	split;
	double	amount;	   /* dividend */
	double	numerator; /* split */
	double	denominator;
} ReadjustAction;

/* A symbol's stored bars and corporate actions from a day on, before a fetch */
typedef struct ReadjustSnapshot
{
	DateADT			from;
	int				nbars;
	ReadjustBar	   *bars;
	int				nactions;
	ReadjustAction *actions;
} ReadjustSnapshot;

/* stockml.refresh_rescale_tolerance: relative difference that is not rounding */
extern double readjust_tolerance;

extern ReadjustSnapshot *ReadjustTake(const char *symbol, DateADT from);

/*
 * After the fetch's bars and events are stored: why the stored history must be
 * re-adjusted ("split 2:1 on 2020-08-31"), or NULL when it is consistent.
 */
extern char *ReadjustReason(const char *symbol, const ReadjustSnapshot *before);

/*
 * Store a full-history body of source in place of the stored history: every
 * bar it holds rewritten, stored bars it lacks re-scaled, the forecast
 * ledger's rows of the symbol put on the new scale.  Returns the ingest_log
 * message ("re-adjusted: <reason>; ...").
 */
extern char *ReadjustStoreFullHistory(const PriceSource *source, const char *symbol,
									  const char *body, size_t len, DateADT end,
									  const char *reason, IngestCounts *counts);

#endif /* STOCKML_READJUST_H */
