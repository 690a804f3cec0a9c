#!/usr/bin/python3
"""Calendar features of every NYSE trading day 2000-2030, computed independently of src/.

Writes test/reference/calendar_features.csv (day,weekday,days_to_month_end,days_since_holiday),
which test/pgtap/42_exogenous.sql compares with features_spec() over bars on exactly those days.
The trading days are the weekdays not in test/reference/nyse_holidays.csv (the NYSE closures
written by nyse_holidays.py from python3-holidays and NYSE's own lists, not from stockml).
  weekday             ISO weekday, Monday 1 .. Sunday 7
  days_to_month_end   trading days after the day, up to the last day of its month
  days_since_holiday  trading days in (h, day], h the last holiday (a weekday NYSE closes) on or
                      before the day, at most 250
Run: /usr/bin/python3 test/reference/calendar_features.py
"""
import csv
import datetime as dt
import os

HERE = os.path.dirname(os.path.abspath(__file__))
CAP = 250
FIRST, LAST = dt.date(2000, 1, 3), dt.date(2030, 12, 31)

with open(os.path.join(HERE, "nyse_holidays.csv")) as f:
    holidays = {dt.date.fromisoformat(r["day"]) for r in csv.DictReader(f)}


def trades(d):
    return d.weekday() < 5 and d not in holidays


def month_end(d):
    first_next = dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return first_next - dt.timedelta(days=1)


def days_to_month_end(d):
    n, t = 0, d + dt.timedelta(days=1)
    while t <= month_end(d):
        n += trades(t)
        t += dt.timedelta(days=1)
    return n


def days_since_holiday(d):
    # holidays before 2000 are not in the list: the first rows of 2000 would be wrong, so the
    # list's first year is only used from its first holiday on (see the test's range)
    n, t = 0, d
    while n < CAP:
        if t.weekday() < 5 and not trades(t):
            return n
        n += trades(t)
        t -= dt.timedelta(days=1)
    return CAP


rows = []
d = FIRST
while d <= LAST:
    if trades(d):
        rows.append((d.isoformat(), d.isoweekday(), days_to_month_end(d), days_since_holiday(d)))
    d += dt.timedelta(days=1)

with open(os.path.join(HERE, "calendar_features.csv"), "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["day", "weekday", "days_to_month_end", "days_since_holiday"])
    w.writerows(rows)
print(len(rows), "trading days written")
