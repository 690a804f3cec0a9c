/*
 * ingest_http.h — a price source reached over HTTP (Yahoo's chart API,
 * Stooq's CSV): how to build its URL, how to store its body, how to read
 * its error bodies; and the steps every HTTP ingest shares (checking the
 * response, one symbol from URL to ingest_log row).
 */
#ifndef STOCKML_INGEST_HTTP_H
#define STOCKML_INGEST_HTTP_H

#include "http_client.h"
#include "price_store.h"

typedef struct PriceSource
{
	const char *name;  /* ingest_log.source and symbols.source: "yahoo" */
	const char *label; /* in messages: "Yahoo" */
	/* URL of the bars of [start, end]; start may be DATEVAL_NOBEGIN (all) */
	char *(*url)(const char *symbol, DateADT start, DateADT end);
	/* parse a 200 body and store its bars within [start, end]; ERROR if unusable */
	void (*store)(const char *symbol, const char *body, size_t len,
				  DateADT start, DateADT end, IngestCounts *counts);
	/* the remote's own message in an error body, or NULL */
	char *(*remote_message)(const char *body, size_t len);
} PriceSource;

extern const PriceSource YahooSource;
extern const PriceSource StooqSource;

extern char *yahoo_url;
extern char *stooq_url;

extern const PriceSource *NetworkSourceByName(const char *name);
extern void				  CheckHttpResponse(const PriceSource *source, const char *symbol,
											const HttpRequest *request);
extern char				 *BodyExcerpt(const char *body, size_t len, size_t max);
extern Datum			  IngestOverHttp(FunctionCallInfo fcinfo, const PriceSource *source);

#endif /* STOCKML_INGEST_HTTP_H */
