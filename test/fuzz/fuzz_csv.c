/*
 * fuzz_csv.c — libFuzzer target: daily-bar CSV (src/ingest_csv.c), as
 * stockml.ingest_csv() reads it (date_format check, parse, duplicate days,
 * rejections in a NOTICE or, strict, an ERROR, storing through the fake SPI
 * of pg_stubs.c), and as Stooq's HTTP 200 body (src/ingest_stooq.c: its own
 * checks, then the same parser).
 *
 * Input: "DATE_FORMAT\0CSV" gives ingest_csv a date_format; without a NUL the
 * whole input is the CSV and the format is the default.  ingest_csv's
 * arguments are text, so valid UTF-8 without NUL; Stooq's body is the raw
 * input.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/datetime.h"

#include "ingest_csv.h"
#include "ingest_http.h"
#include "price_store.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8 *data, size_t size);

typedef struct CsvInput
{
	const char *csv;
	const char *date_format; /* NULL: the default */
	bool		strict;
	int64		rejected; /* out */
	const char *body;	  /* Stooq's */
	size_t		len;
} CsvInput;

/* What ParsePriceCsv and RejectDuplicateDays promise StorePriceBars */
static void
CheckBars(const PriceBar *bars, int nbars, bool unique)
{
	for (int i = 0; i < nbars; i++)
	{
		const char *problem = PriceBarProblem(&bars[i]);

		if (problem)
			FuzzFail("bar %d (line %d) was accepted although %s", i, bars[i].line, problem);
		if (!IS_VALID_DATE(bars[i].day))
			FuzzFail("bar %d (line %d) has day %d outside the date range", i, bars[i].line, bars[i].day);
		if (unique && i > 0 && bars[i - 1].day >= bars[i].day)
			FuzzFail("bars %d and %d are not in strictly increasing day order", i - 1, i);
	}
}

static void
IngestCsv(void *arg)
{
	CsvInput	*in = arg;
	IngestCounts counts;
	PriceBar	*bars;
	int			 nbars;

	/* stockml_ingest_csv, between reading its arguments and the ingest_log row */
	if (in->date_format)
		CheckDateFormat(in->date_format);
	ValidateSymbol("FUZZ");
	IngestCountsInit(&counts);
	bars = ParsePriceCsv("FUZZ", "csv", in->csv, in->date_format, &nbars, &counts);
	CheckBars(bars, nbars, false);
	RejectDuplicateDays(bars, &nbars, &counts);
	CheckBars(bars, nbars, true);
	in->rejected = counts.rejected;
	ReportRejections("FUZZ", &counts, in->strict);
	StorePriceBars("FUZZ", "csv", bars, nbars, &counts);
	if (counts.accepted != nbars)
		FuzzFail("%d bars handed over, %lld accepted", nbars, (long long) counts.accepted);
}

static void
StooqBody(void *arg)
{
	CsvInput	*in = arg;
	IngestCounts counts;

	IngestCountsInit(&counts);
	counts.keep_days = true; /* as a re-adjustment stores it (readjust.c) */
	StooqSource.store("FUZZ", in->body, in->len, DATEVAL_NOBEGIN,
					  date2j(2099, 12, 31) - POSTGRES_EPOCH_JDATE, &counts);
	ReportRejections("FUZZ", &counts, false);
}

static bool
IsText(const char *s)
{
	return pg_encoding_verifymbstr(PG_UTF8, s, strlen(s)) == (int) strlen(s);
}

int
LLVMFuzzerTestOneInput(const uint8 *data, size_t size)
{
	CsvInput	 in;
	char		*input = FuzzCString(data, size);
	const uint8 *nul = memchr(data, '\0', size);

	memset(&in, 0, sizeof(in));
	if (nul)
	{
		in.date_format = input;
		in.csv = input + (nul - data) + 1;
	}
	else
		in.csv = input;
	if (IsText(in.csv) && (in.date_format == NULL || IsText(in.date_format)))
	{
		if (FuzzCall(IngestCsv, &in) && in.rejected > 0)
		{
			in.strict = true;
			FuzzCall(IngestCsv, &in);
		}
	}
	in.body = input;
	in.len = size;
	FuzzCall(StooqBody, &in);
	FuzzReset();
	return 0;
}
