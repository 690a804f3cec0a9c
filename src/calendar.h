/*
 * calendar.h — trading calendars (src/calendar.c): which days a market
 * trades, the n-th trading day after a day, and the calendar of a symbol.
 */
#ifndef CALENDAR_H
#define CALENDAR_H

#include "postgres.h"

#include "utils/date.h"

typedef enum TradingCalendar
{
	CALENDAR_XNYS,	   /* NYSE / Nasdaq */
	CALENDAR_WEEKDAYS, /* Monday to Friday (currencies) */
	CALENDAR_24X7	   /* every day (crypto) */
} TradingCalendar;

extern TradingCalendar CalendarLookup(const char *name);
extern const char	  *CalendarName(TradingCalendar cal);
extern const char	  *CalendarForExchange(const char *exchange);
extern DateADT		   CalendarFirstDay(TradingCalendar cal);
extern bool			   CalendarIsTradingDay(TradingCalendar cal, DateADT day);
extern DateADT		   CalendarAddTradingDays(TradingCalendar cal, DateADT day, int n);
extern TradingCalendar SymbolCalendar(const char *symbol);

#endif
