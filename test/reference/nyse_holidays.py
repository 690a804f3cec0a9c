#!/usr/bin/python3
"""NYSE full-day closures on weekdays, 2000-2030, written independently of src/calendar.c.

Writes test/reference/nyse_holidays.csv (day,holiday), which sql/calendars.sql compares with
stockml.is_trading_day('XNYS', day).  Sources, none shared with the C code:
  - the federal holidays NYSE keeps, with their weekend observance, from Debian's
    python3-holidays (holidays.US; its 0.10.1 has no NYSE calendar and no Juneteenth),
    dropping Columbus and Veterans Day, which NYSE trades;
  - NYSE Rule 7.2: a Saturday holiday closes the Friday before, except New Year's Day
    (the Friday ends the yearly accounting period), so holidays.US's "New Year's Day
    (Observed)" on December 31 is dropped;
  - Good Friday: two days before Easter from dateutil.easter;
  - Juneteenth (June 19) from 2022, observed like the other fixed-date holidays;
  - the unscheduled closures NYSE announced (9/11, presidents' funerals, hurricane Sandy).
It then checks itself against the holiday lists NYSE published for 2024-2027.
Run: apt-get install python3-holidays python3-dateutil; /usr/bin/python3 test/reference/nyse_holidays.py
"""
import csv
import datetime as dt
import os

import holidays
from dateutil.easter import easter

FIRST, LAST = 2000, 2030
KEPT = {"New Year's Day", "Martin Luther King, Jr. Day", "Washington's Birthday", "Memorial Day",
        "Independence Day", "Labor Day", "Thanksgiving", "Christmas Day"}
CLOSURES = {
    dt.date(2001, 9, 11): "September 11", dt.date(2001, 9, 12): "September 11",
    dt.date(2001, 9, 13): "September 11", dt.date(2001, 9, 14): "September 11",
    dt.date(2004, 6, 11): "Reagan day of mourning",
    dt.date(2007, 1, 2): "Ford day of mourning",
    dt.date(2012, 10, 29): "Hurricane Sandy", dt.date(2012, 10, 30): "Hurricane Sandy",
    dt.date(2018, 12, 5): "G. H. W. Bush day of mourning",
    dt.date(2025, 1, 9): "Carter day of mourning",
}


def nyse_closures():
    days = {}
    for day, name in holidays.US(years=range(FIRST - 1, LAST + 2)).items():
        base = name.replace(" (Observed)", "")
        if base not in KEPT or day.weekday() >= 5:
            continue
        if base == "New Year's Day" and day.month == 12:
            continue  # a Saturday New Year's Day is not kept on the Friday before
        days[day] = base
    for y in range(FIRST, LAST + 1):
        days[easter(y) - dt.timedelta(days=2)] = "Good Friday"
        if y >= 2022:
            j = dt.date(y, 6, 19)
            j += {5: dt.timedelta(days=-1), 6: dt.timedelta(days=1)}.get(j.weekday(), dt.timedelta())
            days[j] = "Juneteenth"
    days.update(CLOSURES)
    return {d: n for d, n in days.items() if FIRST <= d.year <= LAST}


# NYSE's published holiday lists (nyse.com, "Holidays & Trading Hours")
PUBLISHED = {
    2024: ["01-01", "01-15", "02-19", "03-29", "05-27", "06-19", "07-04", "09-02", "11-28", "12-25"],
    2025: ["01-01", "01-09", "01-20", "02-17", "04-18", "05-26", "06-19", "07-04", "09-01", "11-27", "12-25"],
    2026: ["01-01", "01-19", "02-16", "04-03", "05-25", "06-19", "07-03", "09-07", "11-26", "12-25"],
    2027: ["01-01", "01-18", "02-15", "03-26", "05-31", "06-18", "07-05", "09-06", "11-25", "12-24"],
}

if __name__ == "__main__":
    days = nyse_closures()
    for y, md in PUBLISHED.items():
        got = sorted(d.strftime("%m-%d") for d in days if d.year == y)
        assert got == md, (y, got, md)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nyse_holidays.csv")
    with open(out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["day", "holiday"])
        for d in sorted(days):
            w.writerow([d.isoformat(), days[d]])
    print(f"{len(days)} closures {FIRST}-{LAST} -> {out}")
