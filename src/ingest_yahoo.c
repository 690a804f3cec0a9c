/*
 * ingest_yahoo.c — Yahoo Finance's chart API (v8/finance/chart): the URL,
 * the JSON body read with PostgreSQL's own JSON parser (pg_parse_json and a
 * JsonSemAction that keeps only the paths below), and
 * stockml.ingest_yahoo().
 *
 *   chart.result[0].meta.{exchangeTimezoneName, gmtoffset, currency, exchangeName}
 *   chart.result[0].timestamp[i]                      UNIX seconds
 *   chart.result[0].indicators.quote[0].{open,high,low,close,volume}[i]
 *   chart.result[0].indicators.adjclose[0].adjclose[i]   (may be missing)
 *   chart.result[0].events.dividends.<ts>.{amount,date}   (may be missing)
 *   chart.result[0].events.splits.<ts>.{date,numerator,denominator}
 *   chart.error.{code,description}
 *
 * A bar's trading day is the date of its timestamp in the exchange's time
 * zone (meta.exchangeTimezoneName, with its daylight saving rules), not in
 * UTC.  A bar with a null element is rejected and counted, never stored as 0.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "mb/pg_wchar.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"

#include "http_client.h"
#include "ingest_http.h"
#include "price_store.h"

PG_FUNCTION_INFO_V1(stockml_ingest_yahoo);

#define CHART_MAX_DEPTH 12
/* far more than any daily history; a damaged body cannot make us allocate more */
#define CHART_MAX_BARS 1000000
#define CHART_MAX_ACTIONS 100000

/* the aligned per-bar arrays */
enum ChartSeries
{
	S_TIMESTAMP,
	S_OPEN,
	S_HIGH,
	S_LOW,
	S_CLOSE,
	S_VOLUME,
	S_ADJCLOSE,
	NUM_SERIES
};
static const char *const series_names[NUM_SERIES] = {
	"timestamp", "open", "high", "low", "close", "volume", "adjclose"};

typedef struct Series
{
	double *values; /* NaN where the element is null or not a number */
	int		len;	/* highest index seen + 1 */
	int		cap;
	bool	present;
} Series;

typedef struct CorporateAction
{
	char  *key; /* the event's key in the object (a timestamp) */
	bool   split;
	double date;
	double amount;
	double numerator;
	double denominator;
} CorporateAction;

typedef struct ChartParse
{
	int depth;
	struct
	{
		bool  is_array;
		char *key;	 /* object: current field */
		int	  index; /* array: current element */
	} frames[CHART_MAX_DEPTH];
	bool			 saw_chart;
	bool			 too_large; /* over CHART_MAX_BARS or CHART_MAX_ACTIONS */
	bool			 result_null;
	bool			 saw_result;
	char			*error_code;
	char			*error_description;
	char			*timezone;
	double			 gmtoffset;
	bool			 has_gmtoffset;
	char			*currency;
	bool			 lossy; /* a character of a string had no equivalent in the database's encoding: '?' */
	char			*exchange;
	Series			 series[NUM_SERIES];
	CorporateAction *actions;
	int				 nactions;
	int				 actions_cap;
} ChartParse;

static char			   *YahooUrl(const char *symbol, DateADT start, DateADT end);
static void				StoreYahooChart(const char *symbol, const char *body, size_t len,
										DateADT start, DateADT end, IngestCounts *counts);
static char			   *YahooRemoteMessage(const char *body, size_t len);
static bool				ParseChart(const char *body, size_t len, ChartParse *state, char **problem);
static void				ChartObjectStart(void *state);
static void				ChartArrayStart(void *state);
static void				ChartEnd(void *state);
static void				ChartField(void *state, char *fname, bool isnull);
static void				ChartElement(void *state, bool isnull);
static void				ChartScalar(void *state, char *token, JsonTokenType tokentype);
static void				SeriesSet(ChartParse *p, Series *s, int index, double value);
static CorporateAction *FindAction(ChartParse *p, const char *key, bool split);
static bool				TradingDay(double ts, pg_tz *tz, const ChartParse *p, DateADT *day);
static void				StoreCorporateActions(const char *symbol, ChartParse *p, pg_tz *tz,
											  DateADT start, DateADT end);
static void				UpdateSymbolMeta(const char *symbol, const ChartParse *p);

const PriceSource YahooSource = {
	"yahoo", "Yahoo", YahooUrl, StoreYahooChart, YahooRemoteMessage};

/*
 * The request asks for a day more on each side: a session's timestamp may
 * fall on the previous UTC day (Asia, Oceania); bars outside [start, end]
 * in the exchange's time zone are dropped after parsing.
 */
static char *
YahooUrl(const char *symbol, DateADT start, DateADT end)
{
	int64 period1 = DATE_IS_NOBEGIN(start) ? INT64CONST(-2208988800) :
											 ((int64) start + (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) - 1) * SECS_PER_DAY;
	int64 period2 = ((int64) end + (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) + 2) * SECS_PER_DAY;

	return psprintf("%s/v8/finance/chart/%s?period1=%lld&period2=%lld&interval=1d"
					"&events=div%%7Csplit&includeAdjustedClose=true",
					yahoo_url, HttpEscape(symbol), (long long) period1, (long long) period2);
}

/* ---- the JSON walk ---- */

#define FRAME(p, i) ((p)->frames[i])
#define KEY_IS(p, i, name) (!FRAME(p, i).is_array && FRAME(p, i).key && strcmp(FRAME(p, i).key, name) == 0)
#define INDEX_IS(p, i, n) (FRAME(p, i).is_array && FRAME(p, i).index == (n))

static void
ChartObjectStart(void *state)
{
	ChartParse *p = state;

	if (p->depth < CHART_MAX_DEPTH)
	{
		FRAME(p, p->depth).is_array = false;
		FRAME(p, p->depth).key = NULL;
	}
	p->depth++;
}

static void
ChartArrayStart(void *state)
{
	ChartParse *p = state;

	if (p->depth < CHART_MAX_DEPTH)
	{
		FRAME(p, p->depth).is_array = true;
		FRAME(p, p->depth).index = -1;
	}
	p->depth++;
}

static void
ChartEnd(void *state)
{
	((ChartParse *) state)->depth--;
}

static void
ChartField(void *state, char *fname, bool isnull)
{
	ChartParse *p = state;

	if (p->depth <= CHART_MAX_DEPTH)
		FRAME(p, p->depth - 1).key = fname;
	if (p->depth == 1 && strcmp(fname, "chart") == 0)
		p->saw_chart = true;
	else if (p->depth == 4 && KEY_IS(p, 0, "chart") && KEY_IS(p, 1, "result") && INDEX_IS(p, 2, 0))
		p->saw_result = true;
}

static void
ChartElement(void *state, bool isnull)
{
	ChartParse *p = state;

	if (p->depth <= CHART_MAX_DEPTH)
		FRAME(p, p->depth - 1).index++;
}

static void
SeriesSet(ChartParse *p, Series *s, int index, double value)
{
	if (index >= CHART_MAX_BARS)
	{
		p->too_large = true;
		return;
	}
	if (index >= s->cap)
	{
		int cap = Max(index + 1, Max(s->cap * 2, 256));

		s->values = s->values ? repalloc_huge(s->values, sizeof(double) * (Size) cap) :
								palloc_extended(sizeof(double) * (Size) cap, MCXT_ALLOC_HUGE);
		for (int i = s->cap; i < cap; i++)
			s->values[i] = NAN;
		s->cap = cap;
	}
	s->values[index] = value;
	s->len = Max(s->len, index + 1);
}

/*
 * The action an event field belongs to: the fields of one event object come
 * one after another, so only the last action can match; NULL when there are
 * too many.
 */
static CorporateAction *
FindAction(ChartParse *p, const char *key, bool split)
{
	CorporateAction *last = p->nactions > 0 ? &p->actions[p->nactions - 1] : NULL;

	if (last && last->split == split && strcmp(last->key, key) == 0)
		return last;
	if (p->nactions >= CHART_MAX_ACTIONS)
	{
		p->too_large = true;
		return NULL;
	}
	if (p->actions == NULL || p->nactions == p->actions_cap)
	{
		p->actions_cap = Max(16, p->actions_cap * 2);
		p->actions = p->actions ? repalloc(p->actions, sizeof(CorporateAction) * p->actions_cap) :
								  palloc(sizeof(CorporateAction) * p->actions_cap);
	}
	p->actions[p->nactions] = (CorporateAction) {
		pstrdup(key), split, NAN, NAN, NAN, NAN};
	return &p->actions[p->nactions++];
}

static double
NumberOrNaN(char *token, JsonTokenType tokentype)
{
	double v;
	char  *end;

	if (tokentype != JSON_TOKEN_NUMBER)
		return NAN;
	errno = 0;
	v = strtod(token, &end);
	return (*end != '\0' || errno == ERANGE) ? NAN : v;
}

static void
ChartScalar(void *state, char *token, JsonTokenType tokentype)
{
	ChartParse *p = state;
	int			d = p->depth; /* frames 0 .. d-1 hold the path */

	if (d > CHART_MAX_DEPTH || d < 2 || !KEY_IS(p, 0, "chart"))
		return;
	if (d == 2)
	{
		if (KEY_IS(p, 1, "result") && tokentype == JSON_TOKEN_NULL)
			p->result_null = true;
		return;
	}
	if (d == 3 && KEY_IS(p, 1, "error") && !FRAME(p, 2).is_array && tokentype != JSON_TOKEN_NULL)
	{
		if (KEY_IS(p, 2, "code"))
			p->error_code = token;
		else if (KEY_IS(p, 2, "description"))
			p->error_description = token;
		return;
	}
	if (!KEY_IS(p, 1, "result") || !INDEX_IS(p, 2, 0) || FRAME(p, 3).is_array)
		return;

	if (d == 5 && KEY_IS(p, 3, "meta") && !FRAME(p, 4).is_array)
	{
		const char *k = FRAME(p, 4).key;

		if (tokentype == JSON_TOKEN_STRING && strcmp(k, "exchangeTimezoneName") == 0)
			p->timezone = token;
		else if (tokentype == JSON_TOKEN_STRING && strcmp(k, "currency") == 0)
			p->currency = token;
		else if (tokentype == JSON_TOKEN_STRING && strcmp(k, "exchangeName") == 0)
			p->exchange = token;
		else if (strcmp(k, "gmtoffset") == 0 && !isnan(NumberOrNaN(token, tokentype)))
		{
			p->gmtoffset = NumberOrNaN(token, tokentype);
			p->has_gmtoffset = true;
		}
	}
	else if (d == 5 && KEY_IS(p, 3, "timestamp") && FRAME(p, 4).is_array)
	{
		p->series[S_TIMESTAMP].present = true;
		SeriesSet(p, &p->series[S_TIMESTAMP], FRAME(p, 4).index, NumberOrNaN(token, tokentype));
	}
	else if (d == 8 && KEY_IS(p, 3, "indicators") && INDEX_IS(p, 5, 0) &&
			 !FRAME(p, 6).is_array && FRAME(p, 7).is_array)
	{
		bool quote = KEY_IS(p, 4, "quote");

		if (!quote && !KEY_IS(p, 4, "adjclose"))
			return;
		for (int s = quote ? S_OPEN : S_ADJCLOSE; s <= (quote ? S_VOLUME : S_ADJCLOSE); s++)
			if (strcmp(FRAME(p, 6).key, series_names[s]) == 0)
			{
				p->series[s].present = true;
				SeriesSet(p, &p->series[s], FRAME(p, 7).index, NumberOrNaN(token, tokentype));
			}
	}
	else if (d == 7 && KEY_IS(p, 3, "events") && !FRAME(p, 4).is_array &&
			 !FRAME(p, 5).is_array && !FRAME(p, 6).is_array)
	{
		bool			 split = KEY_IS(p, 4, "splits");
		const char		*k = FRAME(p, 6).key;
		CorporateAction *a;

		if (!split && !KEY_IS(p, 4, "dividends"))
			return;
		a = FindAction(p, FRAME(p, 5).key, split);
		if (a == NULL)
			return;
		if (strcmp(k, "date") == 0)
			a->date = NumberOrNaN(token, tokentype);
		else if (strcmp(k, "amount") == 0)
			a->amount = NumberOrNaN(token, tokentype);
		else if (strcmp(k, "numerator") == 0)
			a->numerator = NumberOrNaN(token, tokentype);
		else if (strcmp(k, "denominator") == 0)
			a->denominator = NumberOrNaN(token, tokentype);
	}
}

/* Four hex digits at p (a JSON \u escape's) */
static bool
HexQuad(const char *p, unsigned int *value)
{
	*value = 0;
	for (int k = 0; k < 4; k++)
	{
		if (!isxdigit((unsigned char) p[k]))
			return false;
		*value = *value * 16 + (unsigned int) (isdigit((unsigned char) p[k]) ? p[k] - '0' : (tolower((unsigned char) p[k]) - 'a' + 10));
	}
	return true;
}

/*
 * One character (UTF-8, n bytes) in the database's encoding, or '?' when it has
 * no equivalent there.
 */
static void
AppendServerChar(StringInfo out, Oid proc, int enc, const char *c, int n, bool *lossy)
{
	unsigned char buf[MAX_CONVERSION_GROWTH * 4 + 1];

	if (OidIsValid(proc) &&
		pg_do_encoding_conversion_buf(proc, PG_UTF8, enc, (unsigned char *) c, n, buf, sizeof(buf), true) == n)
		appendStringInfoString(out, (char *) buf);
	else
	{
		appendStringInfoChar(out, '?');
		*lossy = true;
	}
}

/*
 * A body (valid UTF-8) in a database whose encoding is not UTF8, as the same
 * JSON in the database's encoding: every character beyond ASCII in a string,
 * sent raw or as a \u escape, becomes that character in the database's encoding
 * (or '?', and *lossy is set).  PostgreSQL's JSON lexer turns a \u escape into the database's
 * encoding itself (and fails the whole body on one it cannot), but copies raw
 * bytes as they are: without this, one text would mix two encodings.  The
 * bytes outside strings and every escape of ASCII are copied: what was not JSON
 * stays not JSON.
 */
static char *
BodyToServer(const char *body, size_t len, bool *lossy)
{
	int			   enc = GetDatabaseEncoding();
	Oid			   proc;
	StringInfoData out;
	bool		   in_string = false;
	size_t		   i = 0;
	unsigned int   cp;
	uint32		   steps = 0;

	if (enc == PG_UTF8 || enc == PG_SQL_ASCII)
		return (char *) body;
	proc = FindDefaultConversionProc(PG_UTF8, enc);
	initStringInfo(&out);
	while (i < len)
	{
		unsigned char c = body[i];

		if ((++steps & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
		if (c == '"')
			in_string = !in_string;
		if (in_string && c == '\\' && i + 5 < len && body[i + 1] == 'u' && HexQuad(body + i + 2, &cp) && cp >= 0x80)
		{
			size_t		  used = 6;
			unsigned int  low;
			unsigned char utf8[4];

			if (cp >= 0xd800 && cp <= 0xdbff && i + 11 < len && body[i + 6] == '\\' && body[i + 7] == 'u' &&
				HexQuad(body + i + 8, &low) && low >= 0xdc00 && low <= 0xdfff)
				cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00), used = 12;
			if (cp < 0xd800 || cp > 0xdfff) /* a lone surrogate is the lexer's to refuse */
			{
				unicode_to_utf8((pg_wchar) cp, utf8);
				AppendServerChar(&out, proc, enc, (char *) utf8, pg_utf_mblen(utf8), lossy);
				i += used;
				continue;
			}
		}
		if (in_string && c == '\\' && i + 1 < len)
		{
			appendBinaryStringInfo(&out, body + i, 2); /* \" does not end the string */
			i += 2;
			continue;
		}
		if (in_string && IS_HIGHBIT_SET(c))
		{
			int n = pg_utf_mblen((const unsigned char *) body + i);

			AppendServerChar(&out, proc, enc, body + i, n, lossy);
			i += n;
			continue;
		}
		appendStringInfoChar(&out, (char) c);
		i++;
	}
	return out.data;
}

/* Walk the body; false with *problem set when it is not JSON at all */
static bool
ParseChart(const char *body, size_t len, ChartParse *state, char **problem)
{
	JsonLexContext	  *lex;
	JsonSemAction	   sem;
	JsonParseErrorType rc;

	memset(state, 0, sizeof(ChartParse));
	if (body == NULL || len == 0)
	{
		*problem = pstrdup("The body is empty.");
		return false;
	}
	if (strlen(body) != len)
	{
		*problem = pstrdup("The body contains a NUL byte.");
		return false;
	}
	if (pg_encoding_verifymbstr(PG_UTF8, body, len) != (int) len)
	{
		*problem = pstrdup("The body is not valid UTF-8.");
		return false;
	}
	memset(&sem, 0, sizeof(sem));
	sem.semstate = state;
	sem.object_start = ChartObjectStart;
	sem.object_end = ChartEnd;
	sem.array_start = ChartArrayStart;
	sem.array_end = ChartEnd;
	sem.object_field_start = ChartField;
	sem.array_element_start = ChartElement;
	sem.scalar = ChartScalar;

	body = BodyToServer(body, len, &state->lossy);
	len = strlen(body);
	lex = makeJsonLexContextCstringLen((char *) body, (int) len, GetDatabaseEncoding(), true);
	rc = pg_parse_json(lex, &sem);
	if (rc != JSON_SUCCESS)
	{
		*problem = json_errdetail(rc, lex);
		return false;
	}
	return true;
}

/* "Not Found: No data found, symbol may be delisted" from an error body */
static char *
YahooRemoteMessage(const char *body, size_t len)
{
	ChartParse p;
	char	  *problem;

	if (body == NULL || len == 0)
		return NULL;
	if (ParseChart(body, len, &p, &problem) && (p.error_code || p.error_description))
		return psprintf("%s%s%s", p.error_code ? p.error_code : "",
						p.error_code && p.error_description ? ": " : "",
						p.error_description ? p.error_description : "");
	return BodyExcerpt(body, len, 200);
}

/* The date of a timestamp in the exchange's time zone */
static bool
TradingDay(double ts, pg_tz *tz, const ChartParse *p, DateADT *day)
{
	pg_time_t	  t;
	struct pg_tm *tm;

	if (isnan(ts) || ts < -1e11 || ts > 1e11)
		return false;
	t = (pg_time_t) ts;
	if (tz)
		tm = pg_localtime(&t, tz);
	else
	{
		/* no real zone is more than a day from UTC: anything else is damage */
		if (p->has_gmtoffset && fabs(p->gmtoffset) > SECS_PER_DAY)
			return false;
		t += p->has_gmtoffset ? (pg_time_t) p->gmtoffset : 0;
		tm = pg_gmtime(&t);
	}
	if (tm == NULL)
		return false;
	*day = date2j(tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday) - POSTGRES_EPOCH_JDATE;
	return IS_VALID_DATE(*day);
}

static pg_tz *
ExchangeZone(const ChartParse *p)
{
	if (p->timezone == NULL || strlen(p->timezone) > 64)
		return NULL;
	for (const char *c = p->timezone; *c; c++)
		if (!isalnum((unsigned char) *c) && !strchr("/_+-", *c))
			return NULL;
	return pg_tzset(p->timezone);
}

static void
StoreYahooChart(const char *symbol, const char *body, size_t len,
				DateADT start, DateADT end, IngestCounts *counts)
{
	ChartParse p;
	char	  *problem;
	pg_tz	  *tz;
	PriceBar  *bars;
	int		   nbars = 0;
	int		   n;

	if (!ParseChart(body, len, &p, &problem))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_JSON_TEXT),
				 errmsg("response for symbol \"%s\" from Yahoo is not valid JSON (HTTP 200)", symbol),
				 errdetail("%s The body begins \"%s\".", problem, BodyExcerpt(body, len, 60)),
				 errhint("Check stockml.yahoo_url; a truncated body means the connection dropped.")));
	if (p.too_large)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("response for symbol \"%s\" from Yahoo has more than %d bars or %d events",
						symbol, CHART_MAX_BARS, CHART_MAX_ACTIONS),
				 errhint("Fetch a shorter date range.")));
	if (p.error_code || p.error_description || p.result_null || !p.saw_result)
		ereport(ERROR,
				(errcode(p.saw_chart ? ERRCODE_NO_DATA_FOUND : ERRCODE_INVALID_JSON_TEXT),
				 p.saw_chart ?
					 errmsg("Yahoo returned no chart for symbol \"%s\" (HTTP 200)", symbol) :
					 errmsg("response for symbol \"%s\" from Yahoo is not a chart (HTTP 200)", symbol),
				 errdetail("Yahoo says: %s", p.error_code || p.error_description ?
												 YahooRemoteMessage(body, len) :
												 BodyExcerpt(body, len, 120))));

	tz = ExchangeZone(&p);
	if (p.timezone && tz == NULL)
		ereport(NOTICE,
				(errmsg("unknown exchange time zone \"%s\" for symbol \"%s\"; using gmtoffset",
						p.timezone, symbol)));

	n = p.series[S_TIMESTAMP].len;
	bars = palloc_extended(sizeof(PriceBar) * (Size) Max(n, 1), MCXT_ALLOC_HUGE);
	for (int i = 0; i < n; i++)
	{
		PriceBar	bar;
		const char *missing = NULL;
		double		v[NUM_SERIES];
		const char *problem_text;

		for (int s = 0; s < NUM_SERIES; s++)
			v[s] = i < p.series[s].len ? p.series[s].values[i] : NAN;
		if (!TradingDay(v[S_TIMESTAMP], tz, &p, &bar.day))
		{
			IngestReject(counts, "bar %d: timestamp is null or invalid", i + 1);
			continue;
		}
		if (!DATE_IS_NOBEGIN(start) && bar.day < start)
			continue;
		if (bar.day > end)
			continue;
		for (int s = S_OPEN; s <= S_VOLUME && !missing; s++)
			if (isnan(v[s]))
				missing = series_names[s];
		if (missing)
		{
			int y,
				m,
				dd;

			j2date(bar.day + POSTGRES_EPOCH_JDATE, &y, &m, &dd);
			IngestReject(counts, "bar %d (%04d-%02d-%02d): %s is null", i + 1, y, m, dd, missing);
			continue;
		}
		bar.open = v[S_OPEN];
		bar.high = v[S_HIGH];
		bar.low = v[S_LOW];
		bar.close = v[S_CLOSE];
		bar.adj_close = v[S_ADJCLOSE];
		bar.line = i + 1;
		if (v[S_VOLUME] < 0 || v[S_VOLUME] != floor(v[S_VOLUME]) || v[S_VOLUME] > 9e18)
			problem_text = "volume is not a whole non-negative number";
		else
		{
			bar.volume = (int64) v[S_VOLUME];
			problem_text = PriceBarProblem(&bar);
		}
		if (problem_text)
		{
			IngestReject(counts, "bar %d: %s", i + 1, problem_text);
			continue;
		}
		bars[nbars++] = bar;
	}

	RejectDuplicateDays(bars, &nbars, counts);
	StorePriceBars(symbol, YahooSource.name, bars, nbars, counts);
	StoreCorporateActions(symbol, &p, tz, start, end);
	UpdateSymbolMeta(symbol, &p);
}

typedef struct ActionRow
{
	DateADT			 day;
	int				 order; /* position in the body: the later one wins */
	CorporateAction *action;
} ActionRow;

static int
CompareActionRows(const void *a, const void *b)
{
	const ActionRow *x = a;
	const ActionRow *y = b;

	if (x->action->split != y->action->split)
		return x->action->split ? 1 : -1;
	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	return x->order - y->order;
}

/*
 * Upsert dividends and splits of [start, end] into stockml.corporate_actions;
 * of two events of one kind on one day, the later in the body is kept.
 */
static void
StoreCorporateActions(const char *symbol, ChartParse *p, pg_tz *tz, DateADT start, DateADT end)
{
	ActionRow *rows;
	int		   nrows = 0;
	Datum	  *days;
	Datum	  *kinds;
	Datum	  *amounts;
	Datum	  *nums;
	Datum	  *dens;
	bool	  *amount_nulls;
	bool	  *ratio_nulls;
	int		   n = 0;
	int		   dims[1];
	int		   lbs[1] = {1};
	int		   rc;

	if (p->nactions == 0)
		return;
	rows = palloc(sizeof(ActionRow) * p->nactions);
	for (int i = 0; i < p->nactions; i++)
	{
		CorporateAction *a = &p->actions[i];
		DateADT			 day;
		double			 when = isnan(a->date) ? strtod(a->key, NULL) : a->date;

		if (!TradingDay(when, tz, p, &day) ||
			(!DATE_IS_NOBEGIN(start) && day < start) || day > end)
			continue;
		if (a->split ? !(a->numerator > 0 && a->denominator > 0 && isfinite(a->numerator) &&
						 isfinite(a->denominator)) :
					   !(a->amount >= 0 && isfinite(a->amount)))
			continue;
		rows[nrows++] = (ActionRow) {
			day, i, a};
	}
	qsort(rows, nrows, sizeof(ActionRow), CompareActionRows);

	days = palloc(sizeof(Datum) * Max(nrows, 1));
	kinds = palloc(sizeof(Datum) * Max(nrows, 1));
	amounts = palloc(sizeof(Datum) * Max(nrows, 1));
	nums = palloc(sizeof(Datum) * Max(nrows, 1));
	dens = palloc(sizeof(Datum) * Max(nrows, 1));
	amount_nulls = palloc(sizeof(bool) * Max(nrows, 1));
	ratio_nulls = palloc(sizeof(bool) * Max(nrows, 1));
	for (int i = 0; i < nrows; i++)
	{
		CorporateAction *a = rows[i].action;

		if (i + 1 < nrows && rows[i + 1].day == rows[i].day &&
			rows[i + 1].action->split == a->split)
			continue;
		days[n] = DateADTGetDatum(rows[i].day);
		kinds[n] = CStringGetTextDatum(a->split ? "split" : "dividend");
		amounts[n] = Float8GetDatum(a->amount);
		amount_nulls[n] = a->split;
		nums[n] = Float8GetDatum(a->numerator);
		dens[n] = Float8GetDatum(a->denominator);
		ratio_nulls[n] = !a->split;
		n++;
	}
	if (n == 0)
		return;
	dims[0] = n;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/*
	 * The upsert in a data-modifying CTE, as StorePriceBars does: a plain
	 * INSERT ... SELECT FROM unnest(...) ON CONFLICT with a parameter in DO
	 * UPDATE SET reaches a Citus worker without the parameters' types ("could
	 * not determine data type of parameter $1").
	 */
	rc = SPI_execute_with_args("WITH changed AS ("
							   " INSERT INTO stockml.corporate_actions AS c"
							   " (symbol, day, kind, amount, numerator, denominator, source)"
							   " SELECT $1, * , $7 FROM unnest($2::date[], $3::text[], $4::float8[],"
							   "                        $5::float8[], $6::float8[])"
							   " ON CONFLICT (symbol, day, kind) DO UPDATE"
							   "    SET amount = excluded.amount, numerator = excluded.numerator,"
							   "        denominator = excluded.denominator, source = excluded.source,"
							   "        ingested_at = $8"
							   "  WHERE (c.amount, c.numerator, c.denominator) IS DISTINCT FROM"
							   "        (excluded.amount, excluded.numerator, excluded.denominator)"
							   " RETURNING 1)"
							   " SELECT count(*) FROM changed",
							   8, (Oid[]) {TEXTOID, DATEARRAYOID, TEXTARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, TEXTOID, TIMESTAMPTZOID},
							   (Datum[]) {CStringGetTextDatum(symbol),
										  PointerGetDatum(construct_array(days, n, DATEOID, sizeof(DateADT), true, TYPALIGN_INT)),
										  PointerGetDatum(construct_array(kinds, n, TEXTOID, -1, false, TYPALIGN_INT)),
										  PointerGetDatum(construct_md_array(amounts, amount_nulls, 1, dims, lbs, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)),
										  PointerGetDatum(construct_md_array(nums, ratio_nulls, 1, dims, lbs, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)),
										  PointerGetDatum(construct_md_array(dens, ratio_nulls, 1, dims, lbs, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)),
										  CStringGetTextDatum(YahooSource.name),
										  /* now(): Citus refuses non-IMMUTABLE functions in DO UPDATE SET */
										  TimestampTzGetDatum(GetCurrentTransactionStartTimestamp())},
							   NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not store corporate actions: %s", SPI_result_code_string(rc));
	SPI_finish();
}

/* A meta field, or NULL when a character of it was lost to the database's encoding */
static char *
MetaText(const ChartParse *p, char *s)
{
	return (s && p->lossy && strchr(s, '?')) ? NULL : s;
}

/* Fill the watchlist's empty timezone/currency/exchange from meta */
static void
UpdateSymbolMeta(const char *symbol, const ChartParse *p)
{
	char *currency = MetaText(p, p->currency);
	char *exchange = MetaText(p, p->exchange);
	int	  rc;

	if (!p->timezone && !currency && !exchange)
		return;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args("UPDATE stockml.symbols"
							   "   SET timezone = coalesce(timezone, $2), currency = coalesce(currency, $3),"
							   "       exchange = coalesce(exchange, $4)"
							   " WHERE symbol = $1 AND (timezone IS NULL OR currency IS NULL OR exchange IS NULL)",
							   4, (Oid[]) {TEXTOID, TEXTOID, TEXTOID, TEXTOID},
							   (Datum[]) {CStringGetTextDatum(symbol),
										  p->timezone ? CStringGetTextDatum(p->timezone) : (Datum) 0,
										  currency ? CStringGetTextDatum(currency) : (Datum) 0,
										  exchange ? CStringGetTextDatum(exchange) : (Datum) 0},
							   (char[]) {' ', p->timezone ? ' ' : 'n', currency ? ' ' : 'n',
										 exchange ? ' ' : 'n'},
							   false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not update symbol: %s", SPI_result_code_string(rc));
	SPI_finish();
}

/*
 * stockml.ingest_yahoo(symbol text, start_day date DEFAULT NULL,
 *                      end_day date DEFAULT current_date) RETURNS stockml.ingest_log
 */
Datum
stockml_ingest_yahoo(PG_FUNCTION_ARGS)
{
	return IngestOverHttp(fcinfo, &YahooSource);
}
