/*
 * ingest_stooq.c — Stooq's daily CSV (GET /q/d/l/?s=<symbol>&i=d), read by
 * the CSV path of stockml.ingest_csv() (ParsePriceCsv), and
 * stockml.ingest_stooq().  Stooq answers an unknown symbol with HTTP 200
 * and the body "No data".
 */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"

#include "http_client.h"
#include "ingest_csv.h"
#include "ingest_http.h"
#include "price_store.h"

PG_FUNCTION_INFO_V1(stockml_ingest_stooq);

static char *StooqUrl(const char *symbol, DateADT start, DateADT end);
static void	 StoreStooqCsv(const char *symbol, const char *body, size_t len,
						   DateADT start, DateADT end, IngestCounts *counts);
static char *StooqRemoteMessage(const char *body, size_t len);

const PriceSource StooqSource = {
	"stooq", "Stooq", StooqUrl, StoreStooqCsv, StooqRemoteMessage};

static char *
YyyyMmDd(DateADT day)
{
	int y,
		m,
		d;

	j2date(day + POSTGRES_EPOCH_JDATE, &y, &m, &d);
	return psprintf("%04d%02d%02d", y, m, d);
}

static char *
StooqUrl(const char *symbol, DateADT start, DateADT end)
{
	char *url = psprintf("%s/q/d/l/?s=%s&i=d", stooq_url, HttpEscape(symbol));

	if (!DATE_IS_NOBEGIN(start))
		url = psprintf("%s&d1=%s&d2=%s", url, YyyyMmDd(start), YyyyMmDd(end));
	return url;
}

static char *
StooqRemoteMessage(const char *body, size_t len)
{
	return body && len > 0 ? BodyExcerpt(body, len, 200) : NULL;
}

static void
StoreStooqCsv(const char *symbol, const char *body, size_t len,
			  DateADT start, DateADT end, IngestCounts *counts)
{
	PriceBar *bars;
	int		  nbars;
	int		  kept = 0;
	char	 *excerpt = BodyExcerpt(body, len, 40);

	if (strcmp(excerpt, "No data") == 0 || len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("Stooq has no data for symbol \"%s\" (HTTP 200)", symbol),
				 errdetail("Stooq says: %s", len == 0 ? "(empty body)" : excerpt),
				 errhint("Stooq spells symbols with a market suffix, e.g. 'msft.us'.")));
	if (strlen(body) != len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("body for symbol \"%s\" from Stooq contains a NUL byte (HTTP 200)", symbol)));
	if (!pg_verifymbstr(body, (int) len, true))
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("body for symbol \"%s\" from Stooq is not valid %s (HTTP 200)", symbol,
						GetDatabaseEncodingName()),
				 errdetail("Stooq sends CSV in ASCII; these bytes cannot be stored in this database."),
				 errhint("Check stockml.stooq_url, or load the file with stockml.ingest_csv.")));

	bars = ParsePriceCsv(symbol, "Stooq (HTTP 200)", body, NULL, &nbars, counts);
	for (int i = 0; i < nbars; i++)
		if ((DATE_IS_NOBEGIN(start) || bars[i].day >= start) && bars[i].day <= end)
			bars[kept++] = bars[i];
	RejectDuplicateDays(bars, &kept, counts);
	StorePriceBars(symbol, StooqSource.name, bars, kept, counts);
}

/*
 * stockml.ingest_stooq(symbol text, start_day date DEFAULT NULL,
 *                      end_day date DEFAULT current_date) RETURNS stockml.ingest_log
 */
Datum
stockml_ingest_stooq(PG_FUNCTION_ARGS)
{
	return IngestOverHttp(fcinfo, &StooqSource);
}
