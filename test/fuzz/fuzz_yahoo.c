/*
 * fuzz_yahoo.c — libFuzzer target: a body from Yahoo's chart API, handled as
 * stockml.ingest_yahoo() handles an HTTP 200 response (src/ingest_yahoo.c:
 * the JSON walk, bars dated in the exchange's time zone, rejected bars,
 * duplicate days, dividends and splits, the watchlist's meta data, stored
 * through the fake SPI of pg_stubs.c), and as its reader of error bodies
 * does for any other status.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/datetime.h"

#include "ingest_http.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8 *data, size_t size);

/* pg_parse_json's recursion: the server's check_stack_depth() stops it about here */
#define SERVER_JSON_DEPTH 10000

typedef struct YahooInput
{
	const char *body;
	size_t		len;
} YahooInput;

static void
StoreChart(void *arg)
{
	YahooInput	*in = arg;
	IngestCounts counts;

	IngestCountsInit(&counts);
	/* as a re-adjustment stores the full history (readjust.c): collect the days */
	counts.keep_days = true;
	YahooSource.store("FUZZ", in->body, in->len, DATEVAL_NOBEGIN,
					  date2j(2099, 12, 31) - POSTGRES_EPOCH_JDATE, &counts);
	ReportRejections("FUZZ", &counts, false);
	if (counts.rejected < 0 || counts.accepted != counts.ndays)
		FuzzFail("%lld bars accepted, %d days kept", (long long) counts.accepted, counts.ndays);
}

static void
RemoteMessage(void *arg)
{
	YahooInput *in = arg;
	char	   *message = YahooSource.remote_message(in->body, in->len);

	if (message && pg_encoding_verifymbstr(PG_UTF8, message, strlen(message)) != (int) strlen(message))
		FuzzFail("the remote message is not valid UTF-8");
}

int
LLVMFuzzerTestOneInput(const uint8 *data, size_t size)
{
	YahooInput in;

	in.body = FuzzCString(data, size);
	in.len = size;
	if (!FuzzJsonTooDeep(in.body, in.len, SERVER_JSON_DEPTH))
	{
		FuzzCall(StoreChart, &in);
		FuzzCall(RemoteMessage, &in);
	}
	FuzzReset();
	return 0;
}
