#!/usr/bin/python3
"""Check Grafana provisioning files against the options Grafana 10 and 11 document.

    check_provisioning.py --datasources FILE --dashboards FILE [--readme doc/grafana.md] DASHBOARD.json ...

No Grafana and no database needed.  The options come from Grafana's documentation:
"Provision Grafana" (administration/provisioning: the data source and dashboard provider
fields) and "Configure the PostgreSQL data source" (its "Provision the data source" table
of jsonData / secureJsonData fields and the TLS/SSL modes).  Checked:

  - top-level keys, apiVersion 1;
  - every data source field a known one, of the documented type; for the PostgreSQL
    plugin (type postgres or grafana-postgresql-datasource) every jsonData and
    secureJsonData field a documented one, sslmode one of disable / require / verify-ca /
    verify-full, postgresVersion a version code the editor offers, tlsConfigurationMethod
    file-path / file-content, certificates given for verify-ca / verify-full, the
    database in jsonData.database (the top-level `database` is deprecated for it), the
    password in secureJsonData from the environment, never written in the file;
  - uids: at most 40 of A-Z a-z 0-9 - _, unique;
  - every provider field a known one, type file, options.path absolute;
  - every datasource reference of every dashboard (panels, targets, variables,
    annotations) names a provisioned data source by uid and type; dashboard uids unique;
    every /d/<uid> link of a dashboard names one of the dashboards;
  - with --readme: the page's (doc/grafana.md) `docker run` mounts the dashboards at the provider's path.
"""
import argparse
import json
import re
import sys

import yaml

PG_TYPES = {"postgres", "grafana-postgresql-datasource"}
DATASOURCE_TOP = {"apiVersion", "datasources", "deleteDatasources", "prune"}
DATASOURCE_FIELDS = {
    "name": str, "type": str, "access": str, "orgId": int, "uid": str, "url": str, "user": str,
    "database": str, "basicAuth": bool, "basicAuthUser": str, "withCredentials": bool,
    "isDefault": bool, "jsonData": dict, "secureJsonData": dict, "version": int, "editable": bool,
}
PG_JSONDATA = {
    "database": str, "sslmode": str, "maxOpenConns": int, "maxIdleConns": int,
    "maxIdleConnsAuto": bool, "connMaxLifetime": int, "postgresVersion": int, "timescaledb": bool,
    "tlsConfigurationMethod": str, "sslRootCertFile": str, "sslCertFile": str, "sslKeyFile": str,
    # common to the SQL data sources (provisioning's "JSON Data" table)
    "timeInterval": str, "tlsAuthWithCACert": bool, "tlsSkipVerify": bool,
}
PG_SECURE = {"password", "tlsCACert", "tlsClientCert", "tlsClientKey"}
SSLMODES = {"disable", "require", "verify-ca", "verify-full"}
# the version codes of the PostgreSQL data source's editor: 9.0-9.6, then 10-15
PG_VERSIONS = {900, 901, 902, 903, 904, 905, 906, 1000, 1100, 1200, 1300, 1400, 1500}
PROVIDER_TOP = {"apiVersion", "providers"}
PROVIDER_FIELDS = {
    "name": str, "orgId": int, "folder": str, "folderUid": str, "type": str,
    "disableDeletion": bool, "updateIntervalSeconds": int, "allowUiUpdates": bool, "options": dict,
}
PROVIDER_OPTIONS = {"path": str, "foldersFromFilesStructure": bool}
UID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
ENV = re.compile(r"^\$(\{[A-Za-z_]\w*\}|[A-Za-z_]\w*)$")

problems = []


def fail(where, what):
    problems.append(f"{where}: {what}")


def check_fields(where, obj, fields):
    for key, value in obj.items():
        if key not in fields:
            fail(where, f"unknown field {key!r} (Grafana knows {', '.join(sorted(fields))})")
        elif not isinstance(value, fields[key]) or (fields[key] is int and isinstance(value, bool)):
            # an environment reference stands for any value
            if not (isinstance(value, str) and ENV.match(value)):
                fail(where, f"{key} = {value!r} is not a {fields[key].__name__}")


def load(path, top_keys):
    """The provisioning file, its apiVersion and top-level keys checked."""
    doc = yaml.safe_load(open(path))
    if doc.get("apiVersion") != 1:
        fail(path, f"apiVersion {doc.get('apiVersion')!r}, not 1")
    for key in sorted(set(doc) - top_keys):
        fail(path, f"unknown top-level key {key!r}")
    return doc


def check_datasources(path):
    doc = load(path, DATASOURCE_TOP)
    out = {}
    for i, ds in enumerate(doc.get("datasources") or []):
        where = f"{path}: datasources[{i}] {ds.get('name')!r}"
        check_fields(where, ds, DATASOURCE_FIELDS)
        for req in ("name", "type"):
            if req not in ds:
                fail(where, f"{req} is required")
        if ds.get("access", "proxy") not in ("proxy", "direct"):
            fail(where, f"access {ds['access']!r} is neither proxy nor direct")
        uid = ds.get("uid")
        if uid is None or not UID.match(str(uid)):
            fail(where, f"uid {uid!r}: give a fixed uid of at most 40 of A-Z a-z 0-9 - _ (dashboards reference it)")
        elif uid in out:
            fail(where, f"uid {uid!r} given twice")
        out[uid] = ds.get("type")
        if ds.get("type") in PG_TYPES:
            check_postgres(where, ds)
    return out


def check_postgres(where, ds):
    jd, sec = ds.get("jsonData") or {}, ds.get("secureJsonData") or {}
    check_fields(where + " jsonData", jd, PG_JSONDATA)
    for key in sec:
        if key not in PG_SECURE:
            fail(where, f"unknown secureJsonData field {key!r} (Grafana knows {', '.join(sorted(PG_SECURE))})")
    if "database" in ds:
        fail(where, "the top-level database is deprecated for PostgreSQL: set jsonData.database")
    if not jd.get("database"):
        fail(where, "jsonData.database is required")
    if not ds.get("url"):
        fail(where, "url (host:port) is required")
    mode = jd.get("sslmode")
    if mode not in SSLMODES:
        fail(where, f"jsonData.sslmode {mode!r}: Grafana accepts only {', '.join(sorted(SSLMODES))}")
    method = jd.get("tlsConfigurationMethod", "file-path")
    if method not in ("file-path", "file-content"):
        fail(where, f"jsonData.tlsConfigurationMethod {method!r}: file-path or file-content")
    if mode in ("verify-ca", "verify-full"):
        need = "sslRootCertFile" if method == "file-path" else "tlsCACert"
        if not (jd.get(need) or sec.get(need)):
            fail(where, f"sslmode {mode} checks the server's certificate: give {need}")
    if "postgresVersion" in jd and jd["postgresVersion"] not in PG_VERSIONS:
        fail(where, f"jsonData.postgresVersion {jd['postgresVersion']!r} is not a version code"
                    f" ({', '.join(map(str, sorted(PG_VERSIONS)))})")
    if ds.get("user") and "password" not in sec:
        fail(where, "secureJsonData.password missing")
    if "password" in sec and not ENV.match(str(sec["password"])):
        fail(where, "secureJsonData.password is written in the file: take it from the environment ($NAME)")
    if "password" in ds:
        fail(where, "the top-level password is stored in clear: use secureJsonData.password")


def check_providers(path):
    doc = load(path, PROVIDER_TOP)
    paths = []
    for i, p in enumerate(doc.get("providers") or []):
        where = f"{path}: providers[{i}] {p.get('name')!r}"
        check_fields(where, p, PROVIDER_FIELDS)
        if "name" not in p:
            fail(where, "name is required")
        if p.get("type", "file") != "file":
            fail(where, f"type {p['type']!r}: only file providers exist")
        opts = p.get("options") or {}
        check_fields(where + " options", opts, PROVIDER_OPTIONS)
        if not str(opts.get("path", "")).startswith("/"):
            fail(where, f"options.path {opts.get('path')!r} is not an absolute path")
        if "folderUid" in p and not UID.match(str(p["folderUid"])):
            fail(where, f"folderUid {p['folderUid']!r} is not a uid")
        paths.append(opts.get("path"))
    return paths


def refs(dashboard):
    """(where, datasource reference) of panels, targets, variables and annotations."""
    def walk(panels):
        for p in panels:
            yield from walk(p.get("panels", []))
            yield f"panel {p.get('title')!r}", p.get("datasource")
            for t in p.get("targets", []):
                yield f"panel {p.get('title')!r} target {t.get('refId')}", t.get("datasource")
    yield from walk(dashboard.get("panels", []))
    for v in dashboard.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            yield f"variable ${v.get('name')}", v.get("datasource")
    for a in dashboard.get("annotations", {}).get("list", []):
        if not a.get("builtIn"):
            yield f"annotation {a.get('name')!r}", a.get("datasource")


def check_dashboards(paths, datasources):
    uids, links = {}, []
    for path in paths:
        dash = json.load(open(path))
        uid = dash.get("uid")
        if not uid or not UID.match(uid):
            fail(path, f"dashboard uid {uid!r} is not a fixed uid of at most 40 of A-Z a-z 0-9 - _")
        elif uid in uids:
            fail(path, f"dashboard uid {uid!r} also in {uids[uid]}")
        uids[uid] = path
        for where, ref in refs(dash):
            if ref is None:
                continue  # a target without one uses its panel's
            if not isinstance(ref, dict):
                fail(path, f"{where}: datasource {ref!r} by name; reference it as {{type, uid}}")
            elif ref.get("uid") == "-- Dashboard --" or ref.get("type") == "datasource":
                continue
            elif ref.get("uid") not in datasources:
                fail(path, f"{where}: datasource uid {ref.get('uid')!r} is not provisioned ({', '.join(datasources)})")
            elif datasources[ref["uid"]] != ref.get("type"):
                fail(path, f"{where}: datasource {ref['uid']!r} has type {datasources[ref['uid']]!r}, "
                           f"not {ref.get('type')!r}")
        links += [(path, m) for m in re.findall(r"/d/([A-Za-z0-9_-]+)", json.dumps(dash))]
    for path, target in links:
        if target not in uids:
            fail(path, f"link to /d/{target}: no dashboard has that uid ({', '.join(uids)})")
    return uids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasources", required=True)
    ap.add_argument("--dashboards", required=True, help="the dashboard provider file")
    ap.add_argument("--readme")
    ap.add_argument("dashboard_files", nargs="+")
    args = ap.parse_args()
    datasources = check_datasources(args.datasources)
    provider_paths = check_providers(args.dashboards)
    uids = check_dashboards(args.dashboard_files, datasources)
    if args.readme:
        mounts = re.findall(r"-v \S*grafana/dashboards:(\S+?)(?::ro)?\s", open(args.readme).read())
        if not mounts:
            fail(args.readme, "no `-v .../grafana/dashboards:<path>` mount found")
        for m in mounts:
            if m not in provider_paths:
                fail(args.readme, f"mounts the dashboards at {m}, "
                                  f"the provider reads {', '.join(map(str, provider_paths))}")
    for p in problems:
        print(f"FAIL {p}")
    print(f"provisioning: {len(datasources)} data source(s), {len(provider_paths)} provider(s), "
          f"{len(uids)} dashboard(s) checked, {len(problems)} problem(s)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
