/*
 * ingest_csv.c — stockml.ingest_csv(): daily bars from CSV text in the shapes
 * Yahoo and Stooq download (Date,Open,High,Low,Close[,Adj Close],Volume).
 *
 * Columns are found by header name (case-insensitive, any order, unknown
 * columns ignored); Date, Open, High, Low and Close are required.  Cells
 * may be quoted; "null" or empty means missing.  Each data row becomes a
 * bar or a counted rejection with its line number; storing is price_store.c.
 */
#include "postgres.h"

#include <math.h>

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/datetime.h"

#include "ingest_csv.h"
#include "price_store.h"

PG_FUNCTION_INFO_V1(stockml_ingest_csv);

enum CsvColumn
{
	COL_DATE,
	COL_OPEN,
	COL_HIGH,
	COL_LOW,
	COL_CLOSE,
	COL_ADJ_CLOSE,
	COL_VOLUME,
	NUM_CSV_COLUMNS
};

static const char *const csv_column_names[NUM_CSV_COLUMNS] = {
	"date", "open", "high", "low", "close", "adj close", "volume"};

#define MAX_CSV_FIELDS 32

static char *NextLine(char **cursor);
static int	 SplitCsvLine(char *line, char **fields, int max_fields);
static bool	 IsMissing(const char *cell);
static bool	 ParseDate(const char *cell, const char *format, DateADT *day);
static bool	 ParseNumber(const char *cell, double *value);
static char *CellExcerpt(const char *cell);

/* cells quoted in a rejection reason: at most this many bytes */
#define CELL_EXCERPT_BYTES 20

/*
 * The first CELL_EXCERPT_BYTES bytes of a cell, cut on a character boundary
 * of the database encoding ("%.20s" could split a multibyte character, and
 * the reason is sent to the client and stored in ingest_log)
 */
static char *
CellExcerpt(const char *cell)
{
	int len = (int) strlen(cell);

	return pnstrdup(cell, pg_mbcliplen(cell, len, Min(len, CELL_EXCERPT_BYTES)));
}

/* Cut the next line out of *cursor (LF or CRLF), or NULL at the end */
static char *
NextLine(char **cursor)
{
	char *line = *cursor;
	char *end;

	if (line == NULL || *line == '\0')
		return NULL;
	end = strchr(line, '\n');
	if (end)
	{
		*end = '\0';
		*cursor = end + 1;
	}
	else
		*cursor = line + strlen(line);
	if (end != NULL && end > line && end[-1] == '\r')
		end[-1] = '\0';
	else if (!end && *line && line[strlen(line) - 1] == '\r')
		line[strlen(line) - 1] = '\0';
	return line;
}

/*
 * Split one line in place into trimmed fields; double-quoted fields may hold
 * commas and "" for a quote.  Returns the number of fields, or -1 if there
 * are more than max_fields.
 */
static int
SplitCsvLine(char *line, char **fields, int max_fields)
{
	int	  n = 0;
	char *p = line;

	for (;;)
	{
		char *out;
		char *start;

		if (n == max_fields)
			return -1;
		while (*p == ' ' || *p == '\t')
			p++;
		start = out = p;
		if (*p == '"')
		{
			p++;
			while (*p)
			{
				if (*p == '"' && p[1] == '"')
				{
					*out++ = '"';
					p += 2;
				}
				else if (*p == '"')
				{
					p++;
					break;
				}
				else
					*out++ = *p++;
			}
			while (*p && *p != ',')
				p++;
		}
		else
		{
			while (*p && *p != ',')
				*out++ = *p++;
			while (out > start && (out[-1] == ' ' || out[-1] == '\t'))
				out--;
		}
		fields[n++] = start;
		if (*p == ',')
		{
			*out = '\0';
			p++;
			continue;
		}
		*out = '\0';
		return n;
	}
}

static bool
IsMissing(const char *cell)
{
	return cell[0] == '\0' || pg_strcasecmp(cell, "null") == 0 ||
		   pg_strcasecmp(cell, "NA") == 0;
}

/*
 * ERROR unless format is one of the date layouts ParseDate reads: YYYY, MM
 * and DD once each, in any order, joined by one separator of - / . or none.
 */
void
CheckDateFormat(const char *format)
{
	const char *p = format;
	char		sep = '\0';
	int			seen = 0;
	bool		ok = true;

	for (int part = 0; part < 3 && ok; part++)
	{
		int bit = strncmp(p, "YYYY", 4) == 0 ? 1 : strncmp(p, "MM", 2) == 0 ? 2 :
											   strncmp(p, "DD", 2) == 0		? 4 :
																			  0;

		if (bit == 0 || (seen & bit))
			ok = false;
		else
		{
			seen |= bit;
			p += bit == 1 ? 4 : 2;
			if (part == 0 && strchr("-/.", *p) && *p)
				sep = *p;
			if (part < 2 && sep)
				ok = *p++ == sep;
		}
	}
	if (!ok || *p != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid date_format \"%s\"", format),
				 errdetail("A date format names YYYY, MM and DD once each, joined by one separator (-, / or .) or none."),
				 errhint("For example 'YYYY-MM-DD' (the default), 'MM/DD/YYYY' (US), 'DD.MM.YYYY' or 'DD/MM/YYYY' (EU).")));
}

/*
 * A real calendar day within PostgreSQL's date range in the given layout
 * (checked by CheckDateFormat).  With a separator, month and day may have
 * one digit (US files write 9/27/2000); without one, every part is full width.
 */
static bool
ParseDate(const char *cell, const char *format, DateADT *day)
{
	const char *f = format;
	const char *c = cell;
	bool		separated = strlen(format) > 8;
	int			y = 0,
		m = 0,
		d = 0;

	while (*f)
	{
		int	 width = strncmp(f, "YYYY", 4) == 0 ? 4 : 2;
		int *target = width == 4 ? &y : f[0] == 'M' ? &m :
													  &d;
		int	 ndigits = 0;

		*target = 0;
		while (ndigits < width && *c >= '0' && *c <= '9')
			*target = *target * 10 + (*c++ - '0'), ndigits++;
		if (ndigits != width && !(separated && width == 2 && ndigits == 1))
			return false;
		f += width;
		if (*f)
		{
			if (separated && *c++ != *f)
				return false;
			if (separated)
				f++;
		}
	}
	if (*c != '\0')
		return false;
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > day_tab[isleap(y)][m - 1])
		return false;
	*day = date2j(y, m, d) - POSTGRES_EPOCH_JDATE;
	return true;
}

/* A finite decimal number, nothing else in the cell */
static bool
ParseNumber(const char *cell, double *value)
{
	char *end;

	errno = 0;
	*value = strtod(cell, &end);
	if (end == cell || *end != '\0' || errno == ERANGE)
		return false;
	return true;
}

PriceBar *
ParsePriceCsv(const char *symbol, const char *source, const char *csv,
			  const char *date_format, int *nbars, IngestCounts *counts)
{
	char	 *text = pstrdup(csv);
	char	 *cursor = text;
	char	 *line;
	char	 *fields[MAX_CSV_FIELDS];
	int		  position[NUM_CSV_COLUMNS];
	int		  nheader;
	int		  lineno = 1;
	int		  capacity = 256;
	PriceBar *bars = palloc(sizeof(PriceBar) * capacity);

	*nbars = 0;
	if (date_format == NULL)
		date_format = "YYYY-MM-DD";

	/* skip a UTF-8 byte order mark and leading blank lines */
	if ((unsigned char) cursor[0] == 0xEF && (unsigned char) cursor[1] == 0xBB &&
		(unsigned char) cursor[2] == 0xBF)
		cursor += 3;
	while ((line = NextLine(&cursor)) != NULL && line[0] == '\0')
		lineno++;

	if (line == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("empty CSV body for symbol \"%s\" from %s", symbol, source),
				 errhint("Expected a header line Date,Open,High,Low,Close[,Adj Close],Volume followed by one line per day.")));

	for (int c = 0; c < NUM_CSV_COLUMNS; c++)
		position[c] = -1;
	nheader = SplitCsvLine(line, fields, MAX_CSV_FIELDS);
	for (int i = 0; i < nheader; i++)
		for (int c = 0; c < NUM_CSV_COLUMNS; c++)
			if (pg_strcasecmp(fields[i], csv_column_names[c]) == 0 && position[c] < 0)
				position[c] = i;
	if (nheader < 0 || position[COL_DATE] < 0 || position[COL_OPEN] < 0 ||
		position[COL_HIGH] < 0 || position[COL_LOW] < 0 || position[COL_CLOSE] < 0)
	{
		char *shown = pnstrdup(csv, Min(strcspn(csv, "\r\n"), 80));

		/* do not echo binary junk into the message */
		for (char *p = shown; *p; p++)
			if ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f)
				*p = '?';
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("body for symbol \"%s\" from %s is not daily price CSV", symbol, source),
				 errdetail("The first line is \"%s\".", shown),
				 errhint("The first line must be a header naming Date, Open, High, Low and Close "
						 "(Adj Close and Volume optional), as Yahoo and Stooq downloads have.")));
	}

	while ((line = NextLine(&cursor)) != NULL)
	{
		PriceBar	bar;
		int			nfields;
		double		volume;
		const char *problem = NULL;

		lineno++;
		if (line[0] == '\0')
			continue;
		nfields = SplitCsvLine(line, fields, MAX_CSV_FIELDS);
		if (nfields != nheader)
		{
			IngestReject(counts, "line %d: %d fields, header has %d", lineno, nfields, nheader);
			continue;
		}

		bar.line = lineno;
		bar.adj_close = NAN;
		bar.volume = -1;
		if (!ParseDate(fields[position[COL_DATE]], date_format, &bar.day))
		{
			IngestReject(counts, "line %d: date \"%s\" is not %s", lineno,
						 CellExcerpt(fields[position[COL_DATE]]), date_format);
			continue;
		}
		for (int c = COL_OPEN; c <= COL_CLOSE && !problem; c++)
		{
			const char *cell = fields[position[c]];
			double	   *target = c == COL_OPEN ? &bar.open : c == COL_HIGH ? &bar.high :
														 c == COL_LOW	   ? &bar.low :
																			 &bar.close;

			if (IsMissing(cell))
				problem = psprintf("%s is missing", csv_column_names[c]);
			else if (!ParseNumber(cell, target))
				problem = psprintf("%s \"%s\" is not a number", csv_column_names[c], CellExcerpt(cell));
		}
		if (!problem && position[COL_ADJ_CLOSE] >= 0 &&
			!IsMissing(fields[position[COL_ADJ_CLOSE]]) &&
			!ParseNumber(fields[position[COL_ADJ_CLOSE]], &bar.adj_close))
			problem = psprintf("adj close \"%s\" is not a number",
							   CellExcerpt(fields[position[COL_ADJ_CLOSE]]));
		if (!problem && position[COL_VOLUME] >= 0 && !IsMissing(fields[position[COL_VOLUME]]))
		{
			if (!ParseNumber(fields[position[COL_VOLUME]], &volume) ||
				volume != floor(volume) || fabs(volume) > 9e18)
				problem = psprintf("volume \"%s\" is not a whole number",
								   CellExcerpt(fields[position[COL_VOLUME]]));
			else if (volume < 0)
				problem = "volume is negative";
			else
				bar.volume = (int64) volume;
		}
		if (!problem)
			problem = PriceBarProblem(&bar);
		if (problem)
		{
			IngestReject(counts, "line %d: %s", lineno, problem);
			continue;
		}

		if (*nbars == capacity)
		{
			capacity *= 2;
			bars = repalloc_huge(bars, sizeof(PriceBar) * (Size) capacity);
		}
		bars[(*nbars)++] = bar;
	}
	pfree(text);
	return bars;
}

/*
 * stockml.ingest_csv(symbol, csv, source, strict, date_format) returns
 * stockml.ingest_log; 0.1.0's four-argument declaration calls it too.  Every
 * row rejected is a 'failed' ingest, whose error starts at the first row.
 */
Datum
stockml_ingest_csv(PG_FUNCTION_ARGS)
{
	TimestampTz	 started_at = GetCurrentTimestamp();
	char		*symbol;
	char		*csv;
	char		*source;
	char		*date_format = NULL;
	bool		 strict;
	IngestCounts counts;
	PriceBar	*bars;
	int			 nbars;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("symbol, csv and source must not be NULL")));
	symbol = text_to_cstring(PG_GETARG_TEXT_PP(0));
	csv = text_to_cstring(PG_GETARG_TEXT_PP(1));
	source = text_to_cstring(PG_GETARG_TEXT_PP(2));
	strict = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	if (PG_NARGS() > 4 && !PG_ARGISNULL(4))
	{
		date_format = text_to_cstring(PG_GETARG_TEXT_PP(4));
		CheckDateFormat(date_format);
	}

	ValidateSymbol(symbol);
	IngestCountsInit(&counts);
	bars = ParsePriceCsv(symbol, source, csv, date_format, &nbars, &counts);
	RejectDuplicateDays(bars, &nbars, &counts);
	ReportRejections(symbol, &counts, strict);
	StorePriceBars(symbol, source, bars, nbars, &counts);

	PG_RETURN_DATUM(InsertIngestLog(symbol, source, started_at, IngestStatus(&counts),
									0, &counts, NULL));
}
