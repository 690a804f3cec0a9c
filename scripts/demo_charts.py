#!/usr/bin/python3
"""PNG charts of the demo, fed by the queries the Grafana panels run.

    demo_charts.py OUTDIR        (libpq settings from the environment, as psql's)

Writes into OUTDIR:
  forecast_band.png      "Price, forecasts and actuals" (grafana/dashboards/forecasts.json):
                         the close, the forecasts and their interval band, zoomed on the forecasts
  drift_per_feature.png  "Drifted features (last run)" (monitoring.json): each feature's drift
                         statistic and p-value in the latest monitor() run, the drifted in red
  skill_over_time.png    "MAE and skill" (monitoring.json): realized skill per monitor() run, and
                         "Versions over time: walk-forward skill" (lifecycle.json): each version's
                         out-of-sample skill when it was trained

The panels' SQL is read from the dashboard files and expanded as Grafana would (variables
at their default selection, macros over the demo's time range) by the code the dashboard
test uses (test/grafana/check_dashboards.py), so a chart shows what the panel shows.
"""
import datetime as dt
import json
import os
import sys

import matplotlib
import matplotlib.dates
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import psycopg2  # noqa: E402

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(root, "test", "grafana"))
from check_dashboards import expand, resolve_variables  # noqa: E402


class Dashboard:
    def __init__(self, cur, name, t_from, t_to, chosen=None):
        with open(os.path.join(root, "grafana", "dashboards", name)) as f:
            self.dash = json.load(f)
        self.cur, self.t_from, self.t_to = cur, t_from, t_to
        self.variables, problems = resolve_variables(cur, self.dash, t_from, t_to, chosen)
        if problems:
            raise SystemExit(f"{name}: {'; '.join(problems)}")

    def query(self, title, ref="A"):
        """(columns, rows) of the panel's target, as Grafana would run it."""
        for p in self.dash["panels"]:
            if p["title"] == title:
                for t in p["targets"]:
                    if t["refId"] == ref:
                        self.cur.execute(expand(t["rawSql"], self.variables, self.t_from, self.t_to))
                        return [d[0] for d in self.cur.description], self.cur.fetchall()
        raise KeyError(f"no panel {title!r} with target {ref}")


def column(cols, rows, name):
    i = cols.index(name)
    return [r[i] for r in rows]


def forecast_band(d, out):
    ca, ra = d.query("Price, forecasts and actuals", "A")
    cb, rb = d.query("Price, forecasts and actuals", "B")
    cu, ru = d.query("Price, forecasts and actuals", "U")
    unit = ru[0][0] if ru else "none"
    currency = unit[len("currency"):] if unit.startswith("currency") else unit.replace("suffix:", "").strip()
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.plot(column(ca, ra, "time"), column(ca, ra, "close"), color="tab:blue", lw=1.2, label="close")
    if rb:
        t = column(cb, rb, "time")
        ax.fill_between(t, column(cb, rb, "lower"), column(cb, rb, "upper"), color="tab:orange",
                        alpha=0.25, lw=0, label="interval (lower .. upper)")
        ax.plot(t, column(cb, rb, "forecast"), color="tab:orange", ls="--", lw=1.2, label="forecast")
        ax.set_xlim(min(t) - dt.timedelta(days=60), max(t) + dt.timedelta(days=2))
    ax.set_title(f"{d.variables['symbol']}: close, forecasts of {d.variables['model']} and their interval")
    ax.set_ylabel(f"close ({currency})" if currency != "none" else "close")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def drift_per_feature(d, out):
    cols, rows = d.query("Drifted features (last run)")
    rows = sorted(rows, key=lambda r: r[cols.index("statistic")])
    feats = column(cols, rows, "feature")
    stat = column(cols, rows, "statistic")
    drifted = column(cols, rows, "drifted")
    methods = sorted(set(column(cols, rows, "method")))
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.barh(feats, stat, color=["tab:red" if x else "tab:blue" for x in drifted])
    for y, (s, p, x) in enumerate(zip(stat, column(cols, rows, "p_value"), drifted)):
        if p is not None:
            ax.text(s, y, f" p={p:.3g}" + (" drifted" if x else ""), va="center", fontsize=7)
    ax.set_title(f"{d.variables['model']}: drift per feature, last monitor() run"
                 f" ({'/'.join(m.upper() for m in methods)} statistic; red = drifted)")
    ax.set_xlabel("statistic")
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def skill_over_time(mon, life, out):
    cm, rm = mon.query("MAE and skill")
    cv, rv = life.query("Versions over time: walk-forward skill")
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.plot(column(cm, rm, "time"), column(cm, rm, "skill"), marker="o", lw=1.2,
            label="realized skill (monitor() runs)")
    ax.scatter(column(cv, rv, "time"), column(cv, rv, "skill"), marker="D", color="tab:green", zorder=3,
               label="walk-forward skill of each version, when trained")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_title(f"{mon.variables['model']}: skill = 1 - MAE / naive MAE (above 0 beats tomorrow = today)")
    ax.set_ylabel("skill")
    ax.legend(loc="best")
    ax.grid(alpha=0.3)
    loc = matplotlib.dates.AutoDateLocator()
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(matplotlib.dates.ConciseDateFormatter(loc))
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SELECT min(time) FROM stockml.price_history")
    t_from = cur.fetchone()[0]
    t_to = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    # the demo's monitored model, when it is there; otherwise each dashboard's default
    chosen = {"model": "msft_monitored"}
    fc = Dashboard(cur, "forecasts.json", t_from, t_to, chosen)
    mon = Dashboard(cur, "monitoring.json", t_from, t_to, chosen)
    life = Dashboard(cur, "lifecycle.json", t_from, t_to, chosen)
    written = []
    for name, draw in (("forecast_band.png", lambda p: forecast_band(fc, p)),
                       ("drift_per_feature.png", lambda p: drift_per_feature(mon, p)),
                       ("skill_over_time.png", lambda p: skill_over_time(mon, life, p))):
        path = os.path.join(outdir, name)
        draw(path)
        written.append(path)
    for p in written:
        print(f"wrote {p}")


if __name__ == "__main__":
    main()
