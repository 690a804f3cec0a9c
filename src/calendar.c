/*
 * calendar.c — trading calendars: stockml.is_trading_day(),
 * stockml.next_trading_day(), stockml.exchange_calendar() and
 * stockml.symbol_calendar(), and the C interface predict() uses for a
 * forecast's target day (calendar.h).
 *
 * XNYS (NYSE and Nasdaq) is computed by rule for any year from 1900 on: the
 * ten holidays of NYSE Rule 7.2 with its weekend observance (a Sunday
 * holiday closes the Monday after; a Saturday holiday closes the Friday
 * before, except New Year's Day, whose Friday ends the yearly accounting
 * period and trades), Martin Luther King Jr. Day from 1998, Juneteenth from
 * 2022, Good Friday from Easter (the anonymous Gregorian algorithm), and the
 * full-day closures NYSE announced one at a time since 1972.  'weekdays'
 * (currencies) closes on Saturdays and Sundays, '24x7' (crypto) never.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/datetime.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"

#include "calendar.h"
#include "distributed.h"

PG_FUNCTION_INFO_V1(stockml_is_trading_day);
PG_FUNCTION_INFO_V1(stockml_next_trading_day);
PG_FUNCTION_INFO_V1(stockml_exchange_calendar);
PG_FUNCTION_INFO_V1(stockml_symbol_calendar);

/* The first year XNYS's rules are written for */
#define XNYS_FIRST_YEAR 1900

static DateADT		   MakeDay(int y, int m, int d);
static int			   DayOfWeek(DateADT day);
static DateADT		   NthWeekday(int y, int m, int dow, int n);
static DateADT		   LastWeekday(int y, int m, int dow);
static DateADT		   Easter(int y);
static bool			   ObservedOn(DateADT day, int y, int m, int d, bool saturday_to_friday);
static bool			   XnysHoliday(DateADT day);
static TradingCalendar CalendarArg(FunctionCallInfo fcinfo, int argno);

static const struct
{
	const char	   *name;
	TradingCalendar cal;
} calendars[] =
	{
		{"XNYS", CALENDAR_XNYS},
		{"weekdays", CALENDAR_WEEKDAYS},
		{"24x7", CALENDAR_24X7},
};

/*
 * NYSE's unscheduled full-day closures (weekdays only), in order: presidents'
 * funerals and days of mourning, the 1977 blackout, hurricanes Gloria and
 * Sandy, and the week of 9/11.
 */
static const struct
{
	int y,
		m,
		d;
} xnys_closures[] =
	{
		{1972, 12, 28}, /* Truman */
		{1973, 1, 25},	/* Johnson */
		{1977, 7, 14},	/* New York City blackout */
		{1985, 9, 27},	/* hurricane Gloria */
		{1994, 4, 27},	/* Nixon */
		{2001, 9, 11},
		{2001, 9, 12},
		{2001, 9, 13},
		{2001, 9, 14}, /* 9/11 */
		{2004, 6, 11}, /* Reagan */
		{2007, 1, 2},  /* Ford */
		{2012, 10, 29},
		{2012, 10, 30}, /* hurricane Sandy */
		{2018, 12, 5},	/* G. H. W. Bush */
		{2025, 1, 9},	/* Carter */
};

/*
 * Yahoo's exchangeName (stored in stockml.symbols.exchange) of the US
 * venues and indexes, which trade on NYSE's days, and of the calendars that
 * are not an exchange's.
 */
static const struct
{
	const char *exchange;
	const char *calendar;
} exchange_calendars[] =
	{
		{"NYQ", "XNYS"}, {"NYSE", "XNYS"}, /* NYSE */
		{"NMS", "XNYS"},
		{"NGM", "XNYS"},
		{"NCM", "XNYS"},
		{"NAS", "XNYS"}, /* Nasdaq */
		{"NASDAQ", "XNYS"},
		{"NasdaqGS", "XNYS"},
		{"NasdaqGM", "XNYS"},
		{"NasdaqCM", "XNYS"},
		{"NIM", "XNYS"}, /* Nasdaq indexes (^IXIC) */
		{"ASE", "XNYS"},
		{"AMEX", "XNYS"},
		{"NYSEArca", "XNYS"},
		{"PCX", "XNYS"}, /* American, Arca */
		{"BTS", "XNYS"},
		{"BATS", "XNYS"}, /* Cboe BZX */
		{"SNP", "XNYS"},
		{"DJI", "XNYS"}, /* S&P and Dow Jones indexes */
		{"PNK", "XNYS"},
		{"OQB", "XNYS"},
		{"OQX", "XNYS"},	 /* OTC markets */
		{"CCY", "weekdays"}, /* currencies (EURUSD=X) */
		{"CCC", "24x7"},	 /* crypto (BTC-USD) */
};

static DateADT
MakeDay(int y, int m, int d)
{
	return date2j(y, m, d) - POSTGRES_EPOCH_JDATE;
}

/* 0 = Sunday .. 6 = Saturday */
static int
DayOfWeek(DateADT day)
{
	return j2day(day + POSTGRES_EPOCH_JDATE);
}

/* The n-th (1-based) weekday dow of month m */
static DateADT
NthWeekday(int y, int m, int dow, int n)
{
	DateADT first = MakeDay(y, m, 1);

	return first + (dow - DayOfWeek(first) + 7) % 7 + 7 * (n - 1);
}

static DateADT
LastWeekday(int y, int m, int dow)
{
	DateADT last = (m == 12 ? MakeDay(y + 1, 1, 1) : MakeDay(y, m + 1, 1)) - 1;

	return last - (DayOfWeek(last) - dow + 7) % 7;
}

/* Easter Sunday of year y (Gregorian; Meeus's anonymous algorithm) */
static DateADT
Easter(int y)
{
	int a = y % 19,
		b = y / 100,
		c = y % 100,
		d = b / 4,
		e = b % 4,
		f = (b + 8) / 25,
		g = (b - f + 1) / 3,
		h = (19 * a + b - d - g + 15) % 30,
		i = c / 4,
		k = c % 4,
		l = (32 + 2 * e + 2 * i - h - k) % 7,
		m = (a + 11 * h + 22 * l) / 451;

	return MakeDay(y, (h + l - 7 * m + 114) / 31, (h + l - 7 * m + 114) % 31 + 1);
}

/* Whether weekday `day` is the day the holiday of y-m-d is kept on */
static bool
ObservedOn(DateADT day, int y, int m, int d, bool saturday_to_friday)
{
	DateADT h = MakeDay(y, m, d);

	switch (DayOfWeek(h))
	{
		case 0:
			return day == h + 1;
		case 6:
			return saturday_to_friday && day == h - 1;
		default:
			return day == h;
	}
}

/* Whether weekday `day` is an XNYS holiday or closure */
static bool
XnysHoliday(DateADT day)
{
	int y,
		m,
		d;

	j2date(day + POSTGRES_EPOCH_JDATE, &y, &m, &d);
	if (y < XNYS_FIRST_YEAR)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("calendar \"XNYS\" is defined from %d-01-01 on, not for %04d-%02d-%02d",
						XNYS_FIRST_YEAR, y, m, d),
				 errhint("Use calendar \"weekdays\" for earlier days.")));
	for (size_t i = 0; i < lengthof(xnys_closures); i++)
		if (xnys_closures[i].y == y && xnys_closures[i].m == m && xnys_closures[i].d == d)
			return true;

	switch (m)
	{
		case 1:
			return ObservedOn(day, y, 1, 1, false) ||
				   (y >= 1998 && day == NthWeekday(y, 1, 1, 3));
		case 2:
			return day == NthWeekday(y, 2, 1, 3);
		case 3:
		case 4:
			return day == Easter(y) - 2;
		case 5:
			return day == LastWeekday(y, 5, 1);
		case 6:
			return y >= 2022 && ObservedOn(day, y, 6, 19, true);
		case 7:
			return ObservedOn(day, y, 7, 4, true);
		case 9:
			return day == NthWeekday(y, 9, 1, 1);
		case 11:
			return day == NthWeekday(y, 11, 4, 4);
		case 12:
			return ObservedOn(day, y, 12, 25, true);
		default:
			return false;
	}
}

TradingCalendar
CalendarLookup(const char *name)
{
	for (size_t i = 0; i < lengthof(calendars); i++)
		if (strcmp(calendars[i].name, name) == 0)
			return calendars[i].cal;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown trading calendar \"%s\"", name),
			 errdetail("The calendars are XNYS (NYSE and Nasdaq), weekdays (currencies) and 24x7 (crypto)."),
			 errhint("SELECT * FROM stockml.trading_calendars lists them.")));
	pg_unreachable();
}

const char *
CalendarName(TradingCalendar cal)
{
	for (size_t i = 0; i < lengthof(calendars); i++)
		if (calendars[i].cal == cal)
			return calendars[i].name;
	elog(ERROR, "unknown trading calendar %d", (int) cal);
	pg_unreachable();
}

/*
 * The calendar of an exchange: XNYS for a US venue and when the exchange is
 * not known (CSV symbols), 'weekdays' for currencies and for an exchange
 * whose holidays stockml does not know, '24x7' for crypto.
 */
const char *
CalendarForExchange(const char *exchange)
{
	if (exchange == NULL)
		return "XNYS";
	for (size_t i = 0; i < lengthof(exchange_calendars); i++)
		if (strcmp(exchange_calendars[i].exchange, exchange) == 0)
			return exchange_calendars[i].calendar;
	return "weekdays";
}

bool
CalendarIsTradingDay(TradingCalendar cal, DateADT day)
{
	int dow;

	if (DATE_NOT_FINITE(day))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("a trading day must be a finite date"),
				 errhint("Pass a date such as current_date, not infinity.")));
	if (cal == CALENDAR_24X7)
		return true;
	dow = DayOfWeek(day);
	if (dow == 0 || dow == 6)
		return false;
	return cal == CALENDAR_WEEKDAYS || !XnysHoliday(day);
}

/*
 * The n-th trading day after day (n > 0), before it (n < 0), or day itself
 * when it trades and else the next trading day (n = 0).
 */
/* The first day the calendar knows (DATEVAL_NOBEGIN: every day) */
DateADT
CalendarFirstDay(TradingCalendar cal)
{
	return cal == CALENDAR_XNYS ? date2j(XNYS_FIRST_YEAR, 1, 1) - POSTGRES_EPOCH_JDATE :
								  DATEVAL_NOBEGIN;
}

DateADT
CalendarAddTradingDays(TradingCalendar cal, DateADT day, int n)
{
	int	  step = n < 0 ? -1 : 1;
	int64 left = n < 0 ? -(int64) n : n;

	if (n == 0)
	{
		while (!CalendarIsTradingDay(cal, day))
			day++;
		return day;
	}
	(void) CalendarIsTradingDay(cal, day); /* checks day is finite */
	while (left > 0)
	{
		day += step;
		if (!IS_VALID_DATE(day))
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("date out of range"),
					 errdetail("%d trading day%s from the given day is past the dates PostgreSQL can store.",
							   n, (n == 1 || n == -1) ? "" : "s")));
		if (CalendarIsTradingDay(cal, day))
			left--;
		if ((left & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	return day;
}

/*
 * The symbol's calendar and exchange columns by a scan of the primary key of
 * stockml.symbols (predict() asks on every call: a query was most of its
 * cost); false when only a query may read them (no table-wide SELECT for the
 * current user, row-level security, a Citus table, another layout).  *found:
 * the symbol has a row; the strings are palloc'd, NULL when NULL.
 */
static bool
SymbolRowDirect(Oid relid, const char *symbol, bool *found, char **own, char **exchange)
{
	AttrNumber		att[3];
	Relation		rel;
	Relation		idx;
	Oid				pk;
	IndexScanDesc	scan;
	TupleTableSlot *slot;
	ScanKeyData		key;

	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK ||
		check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED || RelationIsCitusTable(relid) ||
		!ActiveSnapshotSet())
		return false;
	att[0] = get_attnum(relid, "symbol");
	att[1] = get_attnum(relid, "calendar");
	att[2] = get_attnum(relid, "exchange");
	for (int i = 0; i < 3; i++)
		if (att[i] == InvalidAttrNumber || get_atttype(relid, att[i]) != TEXTOID)
			return false;
	rel = table_open(relid, AccessShareLock);
	pk = RelationGetPrimaryKeyIndex(rel);
	if (!OidIsValid(pk))
	{
		table_close(rel, AccessShareLock);
		return false;
	}
	idx = index_open(pk, AccessShareLock);
	if (IndexRelationGetNumberOfKeyAttributes(idx) != 1 || idx->rd_index->indkey.values[0] != att[0])
	{
		index_close(idx, AccessShareLock);
		table_close(rel, AccessShareLock);
		return false;
	}
	ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   idx->rd_indcollation[0], F_TEXTEQ, CStringGetTextDatum(symbol));
	scan = index_beginscan(rel, idx, GetActiveSnapshot(), 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	slot = table_slot_create(rel, NULL);
	*found = index_getnext_slot(scan, ForwardScanDirection, slot);
	*own = *exchange = NULL;
	if (*found)
	{
		slot_getsomeattrs(slot, Max(att[1], att[2]));
		if (!slot->tts_isnull[att[1] - 1])
			*own = TextDatumGetCString(slot->tts_values[att[1] - 1]);
		if (!slot->tts_isnull[att[2] - 1])
			*exchange = TextDatumGetCString(slot->tts_values[att[2] - 1]);
	}
	ExecDropSingleTupleTableSlot(slot);
	index_endscan(scan);
	index_close(idx, AccessShareLock);
	table_close(rel, AccessShareLock);
	return true;
}

/*
 * The calendar of a stored symbol: its own (stockml.symbols.calendar), else
 * its exchange's.  The caller decides whose privileges read the table.
 */
TradingCalendar
SymbolCalendar(const char *symbol)
{
	static SPIPlanPtr plan = NULL;
	Oid				  argtypes[1] = {TEXTOID};
	Datum			  values[1] = {CStringGetTextDatum(symbol)};
	Oid				  relid = get_relname_relid("symbols", get_namespace_oid("stockml", false));
	bool			  found;
	char			 *own = NULL;
	char			 *exchange = NULL;

	/*
	 * An extension still at 0.1.0 (not yet ALTER EXTENSION ... UPDATE) has
	 * no calendar column: it keeps 0.1.0's target days, weekdays.
	 */
	if (!OidIsValid(relid) || get_attnum(relid, "calendar") == InvalidAttrNumber)
		return CALENDAR_WEEKDAYS;
	if (!SymbolRowDirect(relid, symbol, &found, &own, &exchange))
	{
		MemoryContext caller = CurrentMemoryContext;

		SPI_connect();
		/* kept: predict() and train() ask per symbol */
		if (plan == NULL)
		{
			SPIPlanPtr p = SPI_prepare("SELECT s.calendar, s.exchange FROM stockml.symbols s"
									   " WHERE s.symbol OPERATOR(pg_catalog.=) $1",
									   1, argtypes);

			if (p == NULL)
				elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
			SPI_keepplan(p);
			plan = p;
		}
		if (SPI_execute_plan(plan, values, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "reading stockml.symbols failed");
		found = SPI_processed > 0;
		if (found)
		{
			char *o = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
			char *e = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

			own = o ? MemoryContextStrdup(caller, o) : NULL;
			exchange = e ? MemoryContextStrdup(caller, e) : NULL;
		}
		SPI_finish();
	}
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("unknown symbol \"%s\"", symbol),
				 errhint("Load bars first, e.g. SELECT * FROM stockml.ingest_yahoo('%s');", symbol)));
	return CalendarLookup(own ? own : CalendarForExchange(exchange));
}

/* ------------------------------------------------------------ SQL-callable */

static TradingCalendar
CalendarArg(FunctionCallInfo fcinfo, int argno)
{
	return CalendarLookup(text_to_cstring(PG_GETARG_TEXT_PP(argno)));
}

/* is_trading_day(calendar, day) */
Datum
stockml_is_trading_day(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(CalendarIsTradingDay(CalendarArg(fcinfo, 0), PG_GETARG_DATEADT(1)));
}

/* next_trading_day(calendar, day, n) */
Datum
stockml_next_trading_day(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATEADT(CalendarAddTradingDays(CalendarArg(fcinfo, 0), PG_GETARG_DATEADT(1),
											 PG_GETARG_INT32(2)));
}

/* exchange_calendar(exchange): NULL (no exchange known, a CSV symbol) is XNYS */
Datum
stockml_exchange_calendar(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(CalendarForExchange(PG_ARGISNULL(0) ? NULL :
																		   text_to_cstring(PG_GETARG_TEXT_PP(0)))));
}

/* symbol_calendar(symbol) */
Datum
stockml_symbol_calendar(PG_FUNCTION_ARGS)
{
	TradingCalendar cal = SymbolCalendar(text_to_cstring(PG_GETARG_TEXT_PP(0)));

	PG_RETURN_TEXT_P(cstring_to_text(CalendarName(cal)));
}
