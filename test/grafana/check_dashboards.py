#!/usr/bin/python3
"""Run every query of the Grafana dashboards the way Grafana would, as the reader role.

    check_dashboards.py DASHBOARD.json ...     (libpq settings from the environment:
                                                PGHOST, PGPORT, PGDATABASE, PGUSER)

For each dashboard: the template variables are resolved in order (their query run,
the first value taken, as Grafana's default selection does), then every panel
target and annotation query is expanded and executed:

  $var, ${var}, [[var]]            the variable's value (raw: a single-value variable
                                   is not quoted by the PostgreSQL datasource)
  $__interval, $__interval_ms      (to - from) / max data points, rounded as Grafana's
                                   kbn.roundInterval does, written as secondsToHms does
  $__from, $__to                   epoch milliseconds
  $__timeFilter(c)                 c BETWEEN '<from>' AND '<to>' (RFC 3339, UTC)
  $__timeFrom(), $__timeTo()       '<from>', '<to>'
  $__timeGroup(c, i[, fill])       floor(extract(epoch from c)/s)*s
  $__timeGroupAlias(c, i[, fill])  the same AS "time"
  $__unixEpochFilter(c)            c >= <from s> AND c <= <to s>

(the expansions of Grafana's pkg/tsdb/grafana-postgresql-datasource/macros.go).

Checks: no error, also with any one query variable empty (Grafana substitutes ''); at
least one row; for time-series panels (format time_series, or
a timeseries/state-timeline panel) a column named "time" sorted ascending.  The time
range is [first point of stockml.price_history, now + 1 day], the range a user of the
demo data picks; --from/--to override it.
"""
import argparse
import datetime as dt
import json
import math
import re
import sys

import psycopg2

MAX_DATA_POINTS = 1000
TIME_SERIES_PANELS = {"timeseries", "graph", "state-timeline", "barchart"}


def round_interval(ms):
    """Grafana's kbn.roundInterval."""
    steps = [(15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000),
             (3500, 2000), (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000),
             (45000, 30000), (90000, 60000), (210000, 120000), (450000, 300000),
             (750000, 600000), (1050000, 900000), (1500000, 1200000), (2700000, 1800000),
             (5400000, 3600000), (9000000, 7200000), (16200000, 10800000),
             (32400000, 21600000), (86400000, 43200000), (604800000, 86400000),
             (1814400000, 604800000), (3628800000, 2592000000)]
    for limit, value in steps:
        if ms < limit:
            return value
    return 31536000000


def seconds_to_hms(seconds):
    """Grafana's kbn.secondsToHms."""
    years = math.floor(seconds / 31536000)
    if years:
        return f"{years}y"
    rest = seconds % 31536000
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n = math.floor(rest / size)
        if n:
            return f"{n}{unit}"
        rest %= size
    return f"{round(rest * 1000)}ms"


def parse_interval(text):
    m = re.fullmatch(r"\s*'?(\d+)(ms|s|m|h|d|w|M|y)'?\s*", text)
    if not m:
        raise ValueError(f"cannot parse interval {text!r}")
    n, unit = int(m.group(1)), m.group(2)
    return n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800,
                "M": 2592000, "y": 31536000}[unit]


def rfc3339(t):
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def expand(sql, variables, t_from, t_to):
    interval_ms = round_interval((t_to - t_from).total_seconds() * 1000 / MAX_DATA_POINTS)
    globals_ = {"__interval": seconds_to_hms(interval_ms / 1000), "__interval_ms": str(interval_ms),
                "__from": str(int(t_from.timestamp() * 1000)), "__to": str(int(t_to.timestamp() * 1000))}
    values = {**variables, **globals_}

    def var(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name not in values:
            raise KeyError(f"unknown variable ${name}")
        return values[name]
    # variables first (Grafana's frontend), then the macros (the datasource backend)
    sql = re.sub(r"\$\{(\w+)\}|\[\[(\w+)\]\]|\$(\w+)(?!\w*\()", var, sql)

    def macro(m):
        name, args = m.group(1), [a.strip() for a in m.group(2).split(",")] if m.group(2).strip() else []
        if name == "__timeFilter":
            return f"{args[0]} BETWEEN '{rfc3339(t_from)}' AND '{rfc3339(t_to)}'"
        if name == "__timeFrom":
            return f"'{rfc3339(t_from)}'"
        if name == "__timeTo":
            return f"'{rfc3339(t_to)}'"
        if name == "__unixEpochFilter":
            return f"{args[0]} >= {int(t_from.timestamp())} AND {args[0]} <= {int(t_to.timestamp())}"
        if name in ("__timeGroup", "__timeGroupAlias"):
            s = parse_interval(args[1])
            s = int(s) if s == int(s) else s
            out = f"floor(extract(epoch from {args[0]})/{s})*{s}"
            return out + ' AS "time"' if name == "__timeGroupAlias" else out
        raise KeyError(f"unknown macro ${name}")
    return re.sub(r"\$(__\w+)\(([^)]*)\)", macro, sql)


def targets(dashboard):
    """(where, target, time_series, panel) for every panel target, nested rows included."""
    def walk(panels):
        for p in panels:
            yield from walk(p.get("panels", []))
            for t in p.get("targets", []):
                ts = (t.get("format") == "time_series"
                      or (p.get("type") in TIME_SERIES_PANELS and t.get("format") != "table"))
                yield f"panel {p.get('title')!r} {t.get('refId')}", t, ts, p
    yield from walk(dashboard.get("panels", []))
    for a in dashboard.get("annotations", {}).get("list", []):
        if a.get("target", {}).get("rawSql") or a.get("rawQuery"):
            t = a.get("target") or {"rawSql": a["rawQuery"]}
            yield f"annotation {a.get('name')!r}", t, False, None


# What a dashboard variable may read: views of a few rows each, read by primary key
# (sql/install/67_grafana_lists.sql), never the price or forecast history.
SMALL_VIEWS = {"stockml.symbol_info", "stockml.model_names",
               "stockml.model_history"}  # one row per model version
# Panels whose query may return no row on the demo's data (it must still run, and return
# its columns), with the reason.
EMPTY_ON_DEMO = {
    ("lifecycle.json", "Champion vs challenger on the same days"):
        "the demo's versions never forecast the same target day: forecast() serves only the"
        " production alias, so a challenger is not shadow-tested yet (issue 12, item 2)",
}
# configFromData ("Config from query results") handler keys of Grafana 10/11
CONFIG_HANDLERS = {"unit", "min", "max", "decimals", "displayName", "color", "noValue", "links",
                   "threshold1", "mappings.value", "mappings.text", "mappings.color", "field.name"}


def variable_sources(sql):
    """The relations a variable's query reads (FROM / JOIN), schema-qualified."""
    return {m.lower() for m in re.findall(r"\b(?:FROM|JOIN)\s+([A-Za-z_][\w.]*)", sql, re.I)}


def panel_problems(dashboard, results):
    """What the panels' options ask of their query results.

    - a fillBelowTo override (the band between two series) sits on the upper series and
      names the lower one: both are columns the panel's queries return, and the upper is
      at or above the lower on every row where both have a value;
    - a configFromData transformation ("Config from query results") names a target of
      the panel that returns exactly one row with each mapped column, non-empty, and a
      handler key Grafana knows.
    """
    def walk(panels):
        for p in panels:
            yield from walk(p.get("panels", []))
            yield p
    for p in walk(dashboard.get("panels", [])):
        mine = {ref: r for (pid, ref), r in results.items() if pid == id(p)}
        title = f"panel {p.get('title')!r}"
        for o in p.get("fieldConfig", {}).get("overrides", []):
            for prop in o.get("properties", []):
                if prop.get("id") != "custom.fillBelowTo":
                    continue
                upper, lower = o.get("matcher", {}).get("options"), prop.get("value")
                where = [(ref, cols, rows) for ref, (cols, rows) in mine.items() if upper in cols and lower in cols]
                if not where:
                    yield (f"{title}: fillBelowTo from {upper!r} to {lower!r}, "
                           "but no query of the panel returns both columns")
                    continue
                for ref, cols, rows in where:
                    iu, il = cols.index(upper), cols.index(lower)
                    below = sum(1 for r in rows if r[iu] is not None and r[il] is not None and r[iu] < r[il])
                    if below:
                        yield (f"{title} {ref}: fillBelowTo is set on {upper!r}, which is below {lower!r} on {below} of"
                               f" {len(rows)} rows: set it on the upper series, naming the lower")
                    else:
                        print(f"ok   {title} {ref}: band from {upper!r} down to {lower!r} "
                              f"({len(rows)} rows, {upper} >= {lower})")
        for tr in p.get("transformations", []):
            if tr.get("id") != "configFromData":
                continue
            opts = tr.get("options", {})
            ref = opts.get("configRefId")
            if ref not in mine:
                yield f"{title}: configFromData reads refId {ref!r}, which the panel has not (or its query failed)"
                continue
            cols, rows = mine[ref]
            if len(rows) != 1:
                yield f"{title}: configFromData query {ref} returns {len(rows)} rows, not one"
            for m in opts.get("mappings", []):
                if m.get("handlerKey") not in CONFIG_HANDLERS:
                    yield f"{title}: configFromData handlerKey {m.get('handlerKey')!r} is not one Grafana knows"
                if m.get("fieldName") not in cols:
                    yield (f"{title}: configFromData maps column {m.get('fieldName')!r}; "
                           f"query {ref} returns {', '.join(cols)}")
                elif rows and rows[0][cols.index(m["fieldName"])] in (None, ""):
                    yield f"{title}: configFromData column {m['fieldName']!r} of query {ref} is empty"
                elif rows:
                    print(f"ok   {title}: {m['handlerKey']} = {rows[0][cols.index(m['fieldName'])]!r} from query {ref}")


def datasources(dashboard):
    """Every datasource reference of panels, targets, variables and annotations."""
    def walk(panels):
        for p in panels:
            yield from walk(p.get("panels", []))
            if isinstance(p.get("datasource"), dict):
                yield p["datasource"]
            for t in p.get("targets", []):
                if isinstance(t.get("datasource"), dict):
                    yield t["datasource"]
    yield from walk(dashboard.get("panels", []))
    for v in dashboard.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            yield v["datasource"]
    for a in dashboard.get("annotations", {}).get("list", []):
        if not a.get("builtIn"):
            yield a["datasource"]
            yield a.get("target", {}).get("datasource", a["datasource"])


def exporter_queries(path):
    """(name, sql) of a postgres_exporter queries file (its `query: |` blocks)."""
    name, sql, out = None, None, []
    for line in open(path):
        if re.match(r"^[A-Za-z_]\w*:\s*$", line):
            name = line.split(":")[0]
        elif re.match(r"^\s+query:\s*\|\s*$", line):
            sql = []
        elif sql is not None and (line.startswith("    ") or not line.strip()):
            sql.append(line)
        elif sql is not None:
            out.append((name, "".join(sql)))
            sql = None
    return out


def resolve_variables(cur, dash, t_from, t_to, chosen=None):
    """The dashboard's template variables, in order, as Grafana's default selection has them:
    a query variable takes its query's first value (or chosen[name] when that is one of its
    values).  Returns (variables, problems)."""
    variables, problems = {}, []
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v["query"]["rawSql"] if isinstance(v["query"], dict) else v["query"]
            try:
                cur.execute(expand(q, variables, t_from, t_to))
                rows = cur.fetchall()
            except Exception as e:  # noqa: BLE001 - report and go on
                problems.append(f"variable ${v['name']}: {e}".strip())
                rows = []
            if not rows:
                problems.append(f"variable ${v['name']} has no value")
                variables[v["name"]] = ""
                continue
            values = [str(r[0]) for r in rows]
            wanted = (chosen or {}).get(v["name"])
            variables[v["name"]] = wanted if wanted in values else values[0]
            big = variable_sources(q) - SMALL_VIEWS
            if big:
                problems.append(f"variable ${v['name']} reads {', '.join(sorted(big))}; a variable reads only the small"
                                f" views {', '.join(sorted(SMALL_VIEWS))} (it runs on every dashboard load)")
        elif v.get("type") in ("custom", "constant", "textbox"):
            variables[v["name"]] = str(v.get("current", {}).get("value") or v.get("query", "").split(",")[0])
    return variables, problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dashboards", nargs="+")
    ap.add_argument("--from", dest="t_from")
    ap.add_argument("--to", dest="t_to")
    ap.add_argument("--exporter", help="a postgres_exporter queries file whose queries to run too")
    ap.add_argument("--datasource", help="the datasource provisioning file every query must point at")
    args = ap.parse_args()

    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SELECT current_user, pg_has_role(current_user, 'stockml_reader', 'MEMBER'),"
                " (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)")
    who, member, superuser = cur.fetchone()
    if superuser or not member:
        sys.exit(f"connect as a non-superuser member of stockml_reader, not {who}")
    if args.t_from:
        t_from = dt.datetime.fromisoformat(args.t_from)
    else:
        cur.execute("SELECT min(time) FROM stockml.price_history")
        t_from = cur.fetchone()[0]
    if args.t_to:
        t_to = dt.datetime.fromisoformat(args.t_to)
    else:
        t_to = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)

    failures = checked = 0
    ds = None
    if args.datasource:
        text = open(args.datasource).read()
        ds = {"uid": re.search(r"^\s+uid:\s*(\S+)", text, re.M).group(1),
              "type": re.search(r"^\s+type:\s*(\S+)", text, re.M).group(1)}
    for path in args.dashboards:
        with open(path) as f:
            dash = json.load(f)
        if ds:
            wrong = sorted({f"{d.get('type')}/{d.get('uid')}" for d in datasources(dash)
                            if d.get("uid") != ds["uid"] or d.get("type") != ds["type"]})
            if wrong:
                failures += 1
                print(f"FAIL {path}: datasources {', '.join(wrong)} are not the provisioned {ds['type']}/{ds['uid']}")
        variables, problems = resolve_variables(cur, dash, t_from, t_to)
        for problem in problems:
            print(f"FAIL {path}: {problem}")
            failures += 1
        results = {}
        for where, t, time_series, panel in targets(dash):
            checked += 1
            sql = expand(t["rawSql"], variables, t_from, t_to)
            problem = None
            try:
                cur.execute(sql)
                cols = [d[0] for d in cur.description]
                rows = cur.fetchall()
                empty_ok = EMPTY_ON_DEMO.get((path.split("/")[-1], panel.get("title") if panel else None))
                if not rows and not empty_ok:
                    problem = "no rows"
                elif not rows and time_series and "time" not in cols:
                    problem = f"no time column (columns: {', '.join(cols)})"
                elif not rows:
                    print(f"note {path.split('/')[-1]}: {where}: no rows, expected on the demo's data: {empty_ok}"
                          f" (columns: {', '.join(cols)})")
                elif time_series:
                    if "time" not in cols:
                        problem = f"no time column (columns: {', '.join(cols)})"
                    else:
                        i = cols.index("time")
                        times = [r[i] for r in rows]
                        if any(a > b for a, b in zip(times, times[1:])):
                            problem = "time not sorted ascending"
            except Exception as e:  # noqa: BLE001
                problem = str(e).strip().splitlines()[0]
            name = f"{path.split('/')[-1]}: {where}"
            if problem:
                failures += 1
                print(f"FAIL {name}: {problem}\n     {sql}")
            else:
                print(f"ok   {name}: {len(rows)} rows" + (" (time ascending)" if time_series else ""))
                if panel is not None:
                    results[(id(panel), t.get("refId"))] = (cols, rows)
        for problem in panel_problems(dash, results):
            failures += 1
            print(f"FAIL {path.split('/')[-1]}: {problem}")
        # A variable without a value (a model of one version has no $challenger, an empty
        # database no $model): Grafana substitutes '' and every query must still run
        # (no rows is fine, an SQL error is not).
        names = [v["name"] for v in dash.get("templating", {}).get("list", []) if v.get("type") == "query"]
        for blank in names:
            blanked = {**variables, blank: ""}
            later = [(f"variable ${v['name']}", v["query"]["rawSql"] if isinstance(v["query"], dict) else v["query"])
                     for v in dash["templating"]["list"][names.index(blank) + 1:] if v.get("type") == "query"]
            for where, sql_text in later + [(w, t["rawSql"]) for w, t, _, _ in targets(dash)]:
                if "$" + blank not in sql_text:
                    continue
                checked += 1
                sql = expand(sql_text, blanked, t_from, t_to)
                try:
                    cur.execute(sql)
                    cur.fetchall()
                except Exception as e:  # noqa: BLE001
                    failures += 1
                    print(f"FAIL {path.split('/')[-1]}: {where} with ${blank} empty: "
                          f"{str(e).strip().splitlines()[0]}\n     {sql}")
    if args.exporter:
        for name, sql in exporter_queries(args.exporter):
            checked += 1
            try:
                cur.execute(sql)
                rows = cur.fetchall()
                problem = None if rows else "no rows"
            except Exception as e:  # noqa: BLE001
                problem = str(e).strip().splitlines()[0]
            if problem:
                failures += 1
                print(f"FAIL postgres_exporter {name}: {problem}")
            else:
                print(f"ok   postgres_exporter {name}: {len(rows)} rows")
    print(f"{checked} queries checked as {who}, {failures} failed; variables: "
          + ", ".join(f"${k}={v}" for k, v in variables.items()))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
