"""Benchmark: a filtered, ordered, paged Machine collection query with 100 and with 10,000 machines.

In one run, on loopback only:

1. start the CIMI server (waitress, threads=8, as bench/api.py does) in a
   subprocess on a free 127.0.0.1 port, with its store at DATABASE (by default
   a fresh SQLite file in a temporary directory; `--database URL` for another,
   e.g. PostgreSQL: its Machine rows are deleted first);
2. insert 100 Machine rows straight into the store's Machine table (owner
   "admin", realistic `data`, varied states; see `machines`), then GET

       /cimi/machines?$filter=cpu>=2 and state='STARTED'&$orderby=memory:desc,name&$first=1&$last=50

   WARMUP times unmeasured and REQUESTS times measured, one after the other
   from one client over one keep-alive connection (http.client);
3. insert 9,900 more rows (10,000 in all) and measure the same way;
4. print a table (median, p90, ...), the ratio of the medians 10,000/100
   against the target 2.0, and with --explain the SQL the server runs for this
   query and its plan (EXPLAIN QUERY PLAN on SQLite, EXPLAIN ANALYZE on
   PostgreSQL), built in this process with the server's own code.

Every answer is checked: 200, `count` equal to the number of matching rows
computed here from the inserted data, 50 items in the expected order.

    .venv/bin/python bench/query.py [--requests 200] [--warmup 20] [--explain]
    .venv/bin/python bench/query.py --database postgresql://postgres@127.0.0.1:5432/cimi

Exits 1 when something fails (or, with --fail-above, when the ratio is above it).
"""
import argparse
import base64
import datetime
import http.client
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path

import peewee

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import api  # noqa: E402  (bench/api.py: the waitress set-up, the server subprocess)

USER, PASSWORD = api.USER, api.PASSWORD
SIZES = (100, 10_000)
TARGET = 2.0
PAGE = 50
FILTER = "cpu>=2 and state='STARTED'"
ORDERBY = "memory:desc,name"
PARAMS = {"$filter": FILTER, "$orderby": ORDERBY, "$first": "1", "$last": str(PAGE)}
PATH = "/cimi/machines?" + urllib.parse.urlencode(PARAMS, quote_via=urllib.parse.quote)
REQUEST_TIMEOUT = 30                # seconds for one answer
DEFAULT_TIME_LIMIT = 600            # seconds for the whole run

# A cloud's machines are mostly running; cycles rather than random draws, so that
# every run (and both databases) hold exactly the same rows: 6 in 10 STARTED,
# 6 in 7 with cpu >= 2; 50 of the first 100 match, so the 100 case fills its page too.
STATES = ("STARTED", "STARTED", "STOPPED", "STARTED", "STARTED", "PAUSED", "STARTED", "STOPPED", "STARTED", "ERROR")
CPUS = (1, 2, 4, 2, 8, 4, 16)
MIB_PER_CPU = (512, 1024, 2048, 4096)
HOSTS = ("node-a", "node-b", "node-c")


# --- the server (a subprocess: `query.py --serve DATABASE_URL DATA_DIR`) -----------------------

def serve(database_url, data_dir):
    import logging
    logging.basicConfig(level=logging.WARNING, format="cimi-server: %(levelname)s %(name)s: %(message)s")
    from cimi.http.app import create_app
    from cimi.cloud import Cloud, Config
    os.environ["CIMI_ADMIN_PASSWORD"] = PASSWORD
    import dataclasses
    # No reconciliation: it would find no libvirt domain behind the inserted rows and mark them ERROR
    # (and its pass over every Machine would land in the measurements).
    quiet = {"reconcile_every": 0} if "reconcile_every" in {f.name for f in dataclasses.fields(Config)} else {}
    cloud = Cloud(Config(database=database_url, data_dir=data_dir, workers=2, **quiet))
    try:
        api._listen_and_run(create_app(cloud))
    finally:
        cloud.close()


# --- the data -------------------------------------------------------------------------------------

def machines(start, stop):
    """Rows n = start..stop-1 of the Machine table, as a Machine made through the API looks in the store."""
    rnd = random.Random(start)
    epoch = datetime.datetime(2026, 1, 1)
    image = uuid.UUID(int=1).hex
    rows = []
    for n in range(start, stop):
        cpu = CPUS[n % len(CPUS)]
        created = epoch + datetime.timedelta(seconds=97 * n)
        state = STATES[n % len(STATES)]
        rows.append({
            "id": uuid.UUID(int=rnd.getrandbits(128)).hex, "owner": USER, "parent": None,
            "name": f"vm-{n:05d}", "description": f"bench machine {n}", "created": created,
            "updated": created + datetime.timedelta(seconds=rnd.randrange(3600)), "state": state,
            "version": 1 + n % 4, "properties": json.dumps({"team": f"t{n % 13}", "env": ("prod", "dev")[n % 2]}),
            "data": json.dumps({"cpu": cpu, "memory": cpu * rnd.choice(MIB_PER_CPU) * 1024, "cpuArch": "x86_64",
                                "host": HOSTS[n % len(HOSTS)], "_image": image, "_key": f"cimi-bench-{n:05d}"}),
        })
    return rows


def insert(model, rows, batch=500):
    with model._meta.database.atomic():
        for k in range(0, len(rows), batch):
            model.insert_many(rows[k:k + batch]).execute()


def expected(rows):
    """(count, names of the first page) of the query, computed here from the rows."""
    matching = []
    for row in rows:
        data = json.loads(row["data"])
        if data["cpu"] >= 2 and row["state"] == "STARTED":
            matching.append((-data["memory"], row["name"], row["created"], row["id"]))
    matching.sort()
    return len(matching), [m[1] for m in matching[:PAGE]]


# --- what the server runs, built in this process with the server's own code -----------------------

def server_sql(database):
    """The statements `cimi.store.select` runs for the query, recorded as it runs them in this process."""
    from cimi import queries, store
    from cimi.query import parse_query

    class Admin:
        name, admin = USER, True

    recorded = []
    execute = database.execute_sql

    def record(sql, params=None, *rest, **kw):
        recorded.append((sql, list(params or ())))
        return execute(sql, params, *rest, **kw)

    database.execute_sql = record
    try:
        store.select("Machine", Admin, parse_query(PARAMS, queries.resolver("Machine")))
    finally:
        del database.execute_sql
    return recorded


def explain(database, statements):
    postgres = not isinstance(database, peewee.SqliteDatabase)
    prefix = "EXPLAIN ANALYZE " if postgres else "EXPLAIN QUERY PLAN "
    out = []
    for sql, params in statements:
        rows = database.execute_sql(prefix + sql, params).fetchall()
        plan = [r[0] for r in rows] if postgres else [f"{'  ' * _depth(rows, r)}{r[3]}" for r in rows]
        out.append((sql, params, plan))
    return out


def _depth(rows, row):
    parents = {r[0]: r[1] for r in rows}
    depth, parent = 0, row[1]
    while parent:
        depth, parent = depth + 1, parents.get(parent, 0)
    return depth


# --- the client -----------------------------------------------------------------------------------

class Client:
    """One keep-alive HTTP/1.1 connection; GET returns (seconds, status, body)."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection(api.HOST, port, timeout=REQUEST_TIMEOUT)
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}

    def get(self, path):
        start = time.perf_counter()
        self.conn.request("GET", path, headers=self.headers)
        resp = self.conn.getresponse()
        body = resp.read()
        return time.perf_counter() - start, resp.status, body

    def close(self):
        self.conn.close()


def check(status, body, want_count, want_names):
    if status != 200:
        raise RuntimeError(f"GET {PATH}: {status} {body[:500]!r}")
    doc = json.loads(body)
    names = [m["name"] for m in doc.get("machines", [])]
    if doc["count"] != want_count or names != want_names:
        raise RuntimeError(f"GET {PATH}: count {doc['count']} (expected {want_count}), "
                           f"items {names[:5]}... (expected {want_names[:5]}...)")
    return len(body)


def measure(client, n_requests, warmup, want, deadline):
    size = 0
    for _ in range(warmup):
        _, status, body = client.get(PATH)
        size = check(status, body, *want)
    times = []
    for _ in range(n_requests):
        if time.monotonic() > deadline:
            raise RuntimeError(f"time limit reached after {len(times)} of {n_requests} requests")
        seconds, status, body = client.get(PATH)
        size = check(status, body, *want)
        times.append(seconds * 1000)
    times.sort()
    return {"median_ms": statistics.median(times), "p90_ms": times[int(0.9 * (len(times) - 1))],
            "min_ms": times[0], "max_ms": times[-1], "requests": len(times), "bytes": size,
            "matching": want[0], "items": len(want[1])}


def machine_description():
    model = api.cpu_model()
    import sqlite3
    return (f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}, SQLite {sqlite3.sqlite_version}, peewee {peewee.__version__}")


def database_version(database):
    if isinstance(database, peewee.SqliteDatabase):
        return "SQLite " + database.execute_sql("select sqlite_version()").fetchone()[0]
    return database.execute_sql("select version()").fetchone()[0].split(" on ")[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", metavar="URL",
                        help="store URL (default: a fresh SQLite file); its Machine rows are deleted")
    parser.add_argument("--requests", type=int, default=200, help="measured requests per size (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests per size first (default 20)")
    parser.add_argument("--explain", action="store_true", help="print the SQL and its plan for each size")
    parser.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT, metavar="SECONDS",
                        help=f"give up after this long (default {DEFAULT_TIME_LIMIT})")
    parser.add_argument("--fail-above", type=float, default=None, metavar="RATIO",
                        help=f"exit 1 when the ratio 10,000/100 is above RATIO (default: only report against {TARGET})")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    parser.add_argument("--serve", nargs=2, metavar=("URL", "DATA_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(*args.serve)
    if args.requests < 1 or args.warmup < 0:
        parser.error("--requests >= 1, --warmup >= 0")
    deadline = time.monotonic() + args.time_limit

    from cimi import kinds
    from cimi.store import db
    kinds.load_all()
    results, plans, server = {}, {}, None
    with tempfile.TemporaryDirectory(prefix="cimi-bench-query-") as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'cimi.sqlite3'}"
        try:
            print(f"machine: {machine_description()}")
            server = api.Server("CIMI", "--serve", url, str(Path(tmp) / "var"), script=__file__)  # migrates
            database = db.open_database(url)
            model = db.model_for("Machine")
            model.delete().execute()
            print(f"store: {database_version(database)} ({url.split('://')[0]}), server on {server.base}")
            print(f"GET {urllib.parse.unquote(PATH)}")
            rows, client = [], Client(server.port)
            for size in SIZES:
                new = machines(len(rows), size)
                started = time.monotonic()
                insert(model, new)
                if not isinstance(database, peewee.SqliteDatabase):
                    database.execute_sql(f'VACUUM ANALYZE "{model._meta.table_name}"')   # what autovacuum does
                rows += new
                want = expected(rows)
                print(f"  {size:6,} machines ({len(new):,} rows inserted in {time.monotonic() - started:.1f} s), "
                      f"{want[0]:,} match: {args.warmup} + {args.requests} requests ...", flush=True)
                results[size] = measure(client, args.requests, args.warmup, want, deadline)
                if args.explain:
                    plans[size] = explain(database, server_sql(database))
            client.close()
            database.close()
        except (RuntimeError, OSError, http.client.HTTPException) as exc:
            print(f"error: {exc}", file=sys.stderr)
            if server is not None and server.proc.poll() is not None:
                print(f"server log:\n{server.errors()}", file=sys.stderr)
            return 1
        finally:
            if server is not None:
                server.stop()

    small, large = (results[s] for s in SIZES)
    ratio = large["median_ms"] / small["median_ms"]
    print()
    print("| machines | matching | items | bytes | median (ms) | p90 (ms) | min (ms) | max (ms) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size, r in results.items():
        print(f"| {size:,} | {r['matching']:,} | {r['items']} | {r['bytes']:,} | {r['median_ms']:.2f} "
              f"| {r['p90_ms']:.2f} | {r['min_ms']:.2f} | {r['max_ms']:.2f} |")
    verdict = "meets" if ratio <= TARGET else "misses"
    print(f"\nratio of the medians 10,000/100: {ratio:.2f} ({verdict} the target <= {TARGET})")
    for size, statements in plans.items():
        print(f"\n--- {size:,} machines: the SQL the server runs, and its plan")
        for sql, params, plan in statements:
            print(f"{sql}\n  params: {params}")
            print("\n".join("    " + line for line in plan))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "machine": machine_description(), "database": url.split("://")[0], "path": PATH,
            "requests": args.requests, "warmup": args.warmup, "results": results, "ratio": ratio,
            "date": time.strftime("%Y-%m-%d")}, indent=2))
    if args.fail_above is not None and ratio > args.fail_above:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
