/*
 * ingest_http.c — what every HTTP price source shares: the base-URL
 * settings, turning a failed or non-200 response into an ERROR that names
 * the symbol, the HTTP status and the remote's own message, and the body
 * of stockml.ingest_yahoo() / ingest_stooq(): privilege check, fetch, parse,
 * store, ingest_log row.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "http_client.h"
#include "ingest_http.h"
#include "price_store.h"
#include "roles.h"
#include "stockml.h"

char *yahoo_url = NULL;
char *stooq_url = NULL;

void
StockmlIngestHttpInit(void)
{
	DefineCustomStringVariable("stockml.yahoo_url",
							   "Base URL of Yahoo Finance's chart API.",
							   "Requests go to <base>/v8/finance/chart/<symbol>; its host must be "
							   "in stockml.allowed_hosts.",
							   &yahoo_url, "https://query1.finance.yahoo.com",
							   PGC_SUSET, 0, HttpCheckHeaderSetting, NULL, NULL);
	DefineCustomStringVariable("stockml.stooq_url",
							   "Base URL of Stooq's daily CSV download.",
							   "Requests go to <base>/q/d/l/?s=<symbol>&i=d; its host must be "
							   "in stockml.allowed_hosts.",
							   &stooq_url, "https://stooq.com",
							   PGC_SUSET, 0, HttpCheckHeaderSetting, NULL, NULL);
}

/* The network source of that name (yahoo, stooq), or NULL for any other */
const PriceSource *
NetworkSourceByName(const char *name)
{
	if (strcmp(name, StooqSource.name) == 0)
		return &StooqSource;
	if (strcmp(name, YahooSource.name) == 0)
		return &YahooSource;
	return NULL;
}

/* At most max printable characters of a body, for messages */
char *
BodyExcerpt(const char *body, size_t len, size_t max)
{
	char  *shown;
	size_t n = 0;

	while (len > 0 && (*body == ' ' || *body == '\n' || *body == '\r' || *body == '\t'))
		body++, len--;
	shown = palloc(Min(len, max) + 4);
	for (size_t i = 0; i < len && n < max; i++)
	{
		unsigned char c = body[i];

		shown[n++] = (c == '\n' || c == '\r' || c == '\t') ? ' ' :
					 (c < 0x20 || c >= 0x7f)			   ? '?' :
															 c;
	}
	if (len > max)
		memcpy(shown + n, "...", 3), n += 3;
	shown[n] = '\0';
	return shown;
}

/*
 * ERROR unless the request got a 200: the message names the symbol, the
 * source and the HTTP status, the detail quotes the remote's own message.
 */
void
CheckHttpResponse(const PriceSource *source, const char *symbol, const HttpRequest *request)
{
	char *remote;

	if (request->error)
	{
		bool too_large = request->failure == HTTP_FAILURE_TOO_LARGE;
		bool refused = request->failure == HTTP_FAILURE_REFUSED;
		bool timeout = request->failure == HTTP_FAILURE_TIMEOUT;

		ereport(ERROR,
				(errcode(too_large ? ERRCODE_PROGRAM_LIMIT_EXCEEDED :
						 refused   ? ERRCODE_INSUFFICIENT_PRIVILEGE :
									 ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not fetch prices for symbol \"%s\" from %s: %s",
						symbol, source->label, request->error),
				 request->status > 0 ? errdetail("Last HTTP status %ld, after %d attempt%s.",
												 request->status, request->attempts,
												 request->attempts == 1 ? "" : "s") :
									   errdetail("No HTTP response, after %d attempt%s.", request->attempts,
												 request->attempts == 1 ? "" : "s"),
				 too_large ? errhint("A superuser can raise stockml.max_response_bytes, or fetch a shorter date range.") :
				 refused   ? errhint("A superuser can add the host to stockml.allowed_hosts if it is trusted.") :
				 timeout   ? errhint("Raise stockml.http_timeout_ms or stockml.http_retries, or try again later.") :
							 errhint("Check that the server is reachable; stockml.http_retries sets how often to retry.")));
	}
	if (request->status == 200)
		return;

	remote = source->remote_message(request->body, request->body_len);
	ereport(ERROR,
			(errcode(request->status == 404 ? ERRCODE_NO_DATA_FOUND : ERRCODE_CONNECTION_EXCEPTION),
			 request->status == 404 ?
				 errmsg("%s has no data for symbol \"%s\" (HTTP 404)", source->label, symbol) :
				 errmsg("could not fetch prices for symbol \"%s\" from %s: HTTP %ld",
						symbol, source->label, request->status),
			 errdetail("%s says: %s", source->label, remote ? remote : "(empty body)"),
			 request->status == 404 ? errhint("Check the symbol as %s spells it.", source->label) :
			 request->status == 429 ? errhint("%s is rate limiting; try again later or lower stockml.http_concurrency.", source->label) :
			 request->status >= 500 ? errhint("%s failed after %d attempts; try again later.", source->label, request->attempts) :
									  0));
}

/*
 * stockml.ingest_<source>(symbol text, start_day date, end_day date)
 * RETURNS stockml.ingest_log.  A failure is an ERROR: nothing is written.
 */
Datum
IngestOverHttp(FunctionCallInfo fcinfo, const PriceSource *source)
{
	TimestampTz	 started_at = GetCurrentTimestamp();
	char		*symbol;
	DateADT		 start = PG_ARGISNULL(1) ? DATEVAL_NOBEGIN : PG_GETARG_DATEADT(1);
	DateADT		 end = PG_ARGISNULL(2) ? GetSQLCurrentDate() : PG_GETARG_DATEADT(2);
	HttpRequest	 request;
	IngestCounts counts;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("symbol must not be NULL")));
	symbol = text_to_cstring(PG_GETARG_TEXT_PP(0));
	StockmlRequireAdmin("fetch prices");
	ValidateSymbol(symbol);
	if (DATE_NOT_FINITE(end) || (!DATE_IS_NOBEGIN(start) && (DATE_NOT_FINITE(start) || start > end)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid date range for symbol \"%s\"", symbol),
				 errdetail("start_day must be a finite day not after end_day (or NULL for all history); end_day must be finite."),
				 errhint("For example: stockml.ingest_%s('%s', '2024-01-01', '2024-06-30').",
						 source->name, symbol)));

	memset(&request, 0, sizeof(request));
	request.url = source->url(symbol, start, end);
	HttpGet(&request);
	CheckHttpResponse(source, symbol, &request);

	IngestCountsInit(&counts);
	source->store(symbol, request.body, request.body_len, start, end, &counts);
	ReportRejections(symbol, &counts, false);

	PG_RETURN_DATUM(InsertIngestLog(symbol, source->name, started_at,
									IngestStatus(&counts),
									(int) request.status, &counts, NULL));
}
