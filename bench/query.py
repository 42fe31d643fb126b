"""Benchmark: the typical filtered, ordered, paged listing of each collection, at 100 and at 100,000 rows.

For each database (a fresh SQLite file; a throwaway PostgreSQL cluster started
as tests/postgres.py does), on loopback only:

1. bulk-insert 100 rows of each collection (Machine, MachineConfiguration,
   Volume, Job, and MachineImage listed by a plain user: what sharing
   grants them, cimi/store/sharing.py) through the store's own row shape (`cimi.store.insert_many`:
   `data`, properties and the typed columns, as the API would have stored
   them; see the `*_row` functions);
2. start the CIMI server (waitress, threads=8, as bench/api.py does) in a
   subprocess on a free 127.0.0.1 port, and GET each collection's listing
   (`LISTINGS`, e.g.

       /cimi/machines?$filter=state='STARTED' and cpu>=2&$orderby=memory:desc&$first=1&$last=20

   ) once the server is idle (its start reads every STARTED Machine), WARMUP
   times unmeasured and REQUESTS times measured, one after the other from one
   client over one keep-alive connection (http.client); stop it;
   then insert 99,900 more rows of each (100,000 in all) and do it again;
3. print a table: median and p90 latency at each size, the ratio of the
   medians 100,000/100 against the target 2.0, and the load average
   (`/proc/loadavg`) when each size was measured. With --explain, the SQL the
   server runs for each listing and its plan at 100,000 rows.

Every answer is checked: 200, `count` equal to the number of matching rows
computed here from the inserted rows, and the expected 20 names in order.
The server is started anew for each size, on the store as it is then: on
SQLite its start refreshes the planner's statistics (as it would after
2,000 writes of its own, `cimi.store.db.refresh_statistics`; the bench's
bulk inserts are not the server's). On PostgreSQL every bulk insert is
followed by `VACUUM ANALYZE` of the table (what autovacuum does after that
many inserted rows).

    .venv/bin/python bench/query.py                          # both databases, every collection
    .venv/bin/python bench/query.py --database sqlite --kind Machine --explain
    .venv/bin/python bench/query.py --database postgresql://postgres@127.0.0.1:5432/cimi   # its rows are deleted

PostgreSQL needs root (the cluster runs as the `postgres` user) and the
postgresql-15 binaries. Exits 1 when something fails (or, with --fail-above,
when a ratio is above it).
"""
import argparse
import base64
import contextlib
import dataclasses
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import api  # noqa: E402  (bench/api.py: the waitress set-up, the server subprocess)

USER, PASSWORD = api.USER, api.PASSWORD
SIZES = (100, 100_000)
TARGET = 2.0
PAGE = 20
REQUEST_TIMEOUT = 30                # seconds for one answer
DEFAULT_TIME_LIMIT = 1800           # seconds for the whole run
EPOCH = datetime.datetime(2026, 1, 1)
ACTION = "http://schemas.dmtf.org/cimi/1/action/"


# --- the rows: cycles rather than random draws, so that every run and both databases hold the same ---

def _common(kind, n, rnd, owner=USER, state=None):
    created = EPOCH + datetime.timedelta(seconds=97 * n)
    return {"id": uuid.UUID(int=rnd.getrandbits(128)).hex, "owner": owner, "parent": None,
            "name": f"{kind}-{n:06d}", "description": f"bench {kind} {n}", "created": created,
            "updated": created + datetime.timedelta(seconds=rnd.randrange(3600)), "state": state,
            "version": 1 + n % 4, "properties": {"team": f"t{n % 13}", "env": ("prod", "dev")[n % 2]}}


# A cloud's machines are mostly running: 6 in 10 STARTED, 6 in 7 with cpu >= 2 (51 % match).
MACHINE_STATES = ("STARTED", "STARTED", "STOPPED", "STARTED", "STARTED", "PAUSED", "STARTED", "STOPPED",
                  "STARTED", "ERROR")
CPUS = (1, 2, 4, 2, 8, 4, 16)
MIB_PER_CPU = (512, 1024, 2048, 4096)


def machine_row(n, rnd):
    cpu = CPUS[n % len(CPUS)]
    return {**_common("vm", n, rnd, state=MACHINE_STATES[n % len(MACHINE_STATES)]),
            "data": {"cpu": cpu, "memory": cpu * rnd.choice(MIB_PER_CPU) * 1024, "cpuArch": "x86_64",
                     "host": ("node-a", "node-b", "node-c")[n % 3], "_image": uuid.UUID(int=1).hex,
                     "_key": f"cimi-bench-{n:06d}"}}


def configuration_row(n, rnd):
    """The provider's configurations (owner None), cpu >= 2 in 6 of 7 (86 % match)."""
    cpu = CPUS[n % len(CPUS)]
    return {**_common("config", n, rnd, owner=None),
            "data": {"cpu": cpu, "memory": cpu * rnd.choice(MIB_PER_CPU) * 1024, "cpuArch": "x86_64",
                     "disks": [{"capacity": 10485760, "format": "ext4", "initialLocation": "vda"}]}}


VOLUME_STATES = ("AVAILABLE", "AVAILABLE", "AVAILABLE", "CREATING", "AVAILABLE", "AVAILABLE", "AVAILABLE",
                 "ERROR", "AVAILABLE", "AVAILABLE")
GIB = 1024 * 1024          # capacity is in KiB


def volume_row(n, rnd):
    """8 in 10 AVAILABLE, 3 in 4 of at least 1 GiB (60 % match)."""
    return {**_common("vol", n, rnd, state=VOLUME_STATES[n % len(VOLUME_STATES)]),
            "data": {"type": "http://schemas.dmtf.org/cimi/1/mapped",
                     "capacity": (GIB // 2, GIB, 10 * GIB, 40 * GIB)[n % 4] + GIB * rnd.randrange(8),
                     "bootable": n % 3 == 0, "_key": f"cimi-bench-vol-{n:06d}"}}


JOB_STATES = ("SUCCESS", "SUCCESS", "SUCCESS", "FAILED", "SUCCESS", "SUCCESS", "RUNNING", "SUCCESS", "SUCCESS",
              "SUCCESS")
JOB_ACTIONS = ("start", "stop", "create", "delete")


READER, READER_GROUP = "reader", "readers"      # a plain user, for the listing that sharing restricts
SHARES = ((), ("user:reader",), ("user:reader", "group:others"), ("group:readers",), ("everyone",), (), (),
          ("user:someone",), ("group:others",), ())


def image_row(n, rnd):
    """Images of 50 owners (1 in 10 the reader's), 5 in 10 shared with the reader by user, group or everyone,
    2 in 3 of type IMAGE: a plain user's listing (visibility through the grants) matches 40 %."""
    owner = READER if n % 10 == 0 else f"owner-{n % 50:02d}"
    rules = [{"principal": p, "right": "VIEW"} for p in SHARES[n % len(SHARES)]]
    return {**_common("img", n, rnd, owner=owner, state="AVAILABLE"),
            "data": {"type": ("IMAGE", "IMAGE", "SNAPSHOT")[n % 3], "imageLocation": f"bench-{n:06d}",
                     **({"acl": {"owner": f"user:{owner}", "rules": rules}} if rules else {})}}


def image_visible(row):
    rules = {r["principal"] for r in row["data"].get("acl", {}).get("rules", ())}
    return row["owner"] in (None, READER) or bool(rules & {f"user:{READER}", f"group:{READER_GROUP}", "everyone"})


def job_row(n, rnd):
    """8 in 10 SUCCESS, 1 in 4 a start (20 % match)."""
    state = JOB_STATES[n % len(JOB_STATES)]
    changed = EPOCH + datetime.timedelta(seconds=97 * n + rnd.randrange(600))
    target = f"http://127.0.0.1/cimi/machines/{uuid.UUID(int=n % 5000).hex}"
    row = _common("job", n, rnd, state=state)
    row.update(handler="bench", payload={}, data={
        "targetResource": {"href": target}, "affectedResources": [{"href": target}],
        "action": ACTION + JOB_ACTIONS[n % len(JOB_ACTIONS)], "progress": 50 if state == "RUNNING" else 100,
        "returnCode": {"SUCCESS": 200, "FAILED": 500}.get(state, 0),
        "timeOfStatusChange": changed.isoformat() + "Z", "_base": "http://127.0.0.1/cimi/"})
    return row


@dataclasses.dataclass(frozen=True)
class Listing:
    kind: str
    collection: str             # the collection's path segment (its CloudEntryPoint attribute)
    make: object                # make(n, rnd) -> a row as cimi.store.insert takes it
    filter: str
    orderby: str                # one key, "attribute:desc"
    matches: object             # matches(row) -> bool, what the filter (and the reader's visibility) means
    reader: str = USER          # who lists: the admin sees every row; a plain user what is theirs or shared

    @property
    def params(self):
        return {"$filter": self.filter, "$orderby": self.orderby, "$first": "1", "$last": str(PAGE)}

    @property
    def path(self):
        return f"/cimi/{self.collection}?" + urllib.parse.urlencode(self.params, quote_via=urllib.parse.quote)

    def expected(self, rows):
        """(count, names of the first page), computed here: the key descending and absent last, then created, id."""
        attribute = self.orderby.split(":")[0]
        matching = sorted((-_number(r["data"].get(attribute, r.get(attribute))), r["created"], r["id"], r["name"])
                          for r in rows if self.matches(r))
        return len(matching), [m[3] for m in matching[:PAGE]]


def _number(value):
    """A sort key's value as a number (a dateTime as its POSIX time)."""
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    return datetime.datetime.fromisoformat(value).timestamp() if isinstance(value, str) else value


LISTINGS = {listing.kind: listing for listing in (
    Listing("Machine", "machines", machine_row, "state='STARTED' and cpu>=2", "memory:desc",
            lambda r: r["state"] == "STARTED" and r["data"]["cpu"] >= 2),
    Listing("MachineConfiguration", "machineConfigs", configuration_row, "cpu>=2", "memory:desc",
            lambda r: r["data"]["cpu"] >= 2),
    Listing("Volume", "volumes", volume_row, f"state='AVAILABLE' and capacity>={GIB}", "capacity:desc",
            lambda r: r["state"] == "AVAILABLE" and r["data"]["capacity"] >= GIB),
    Listing("Job", "jobs", job_row, f"state='SUCCESS' and action='{ACTION}start'", "timeOfStatusChange:desc",
            lambda r: r["state"] == "SUCCESS" and r["data"]["action"] == ACTION + "start"),
    # (not the provider's image the server seeds, `blank`, which every user sees)
    Listing("MachineImage", "machineImages", image_row, "type='IMAGE' and name!='blank'", "created:desc",
            lambda r: r["data"]["type"] == "IMAGE" and image_visible(r), reader=READER),
)}


def rows_of(listing, start, stop):
    rnd = random.Random(f"{listing.kind}-{start}")
    return [listing.make(n, rnd) for n in range(start, stop)]


# --- the server (a subprocess: `query.py --serve DATABASE_URL DATA_DIR`) -----------------------

def serve(database_url, data_dir):
    import logging
    logging.basicConfig(level=logging.WARNING, format="cimi-server: %(levelname)s %(name)s: %(message)s")
    from cimi.http.app import create_app
    from cimi.cloud import Cloud, Config
    os.environ["CIMI_ADMIN_PASSWORD"] = PASSWORD
    # No reconciliation: it would find no libvirt domain behind the inserted rows and mark them
    # ERROR (and its pass over every Machine would land in the measurements). No workers: the
    # inserted Jobs are finished or someone else's.
    cloud = Cloud(Config(database=database_url, data_dir=data_dir, workers=0, reconcile_every=0))
    try:
        api._listen_and_run(create_app(cloud))
    finally:
        cloud.close()


# --- what the server runs, built in this process with the server's own code -----------------------

def server_sql(database, listing):
    """The statements `cimi.store.select` runs for a listing, recorded as it runs them in this process."""
    from cimi import queries, store
    from cimi.query import parse_query

    class Reader:
        name, admin = listing.reader, listing.reader == USER

    recorded = []
    execute = database.execute_sql

    def record(sql, params=None, *rest, **kw):
        recorded.append((sql, list(params or ())))
        return execute(sql, params, *rest, **kw)

    database.execute_sql = record
    try:
        store.select(listing.kind, Reader, parse_query(listing.params, queries.resolver(listing.kind)))
    finally:
        del database.execute_sql
    return recorded


def explain(database, statements, postgres):
    prefix = "EXPLAIN ANALYZE " if postgres else "EXPLAIN QUERY PLAN "
    out = []
    for sql, params in statements:
        rows = database.execute_sql(prefix + sql, params).fetchall()
        out.append((sql, params, [r[0] for r in rows] if postgres else [r[3] for r in rows]))
    return out


# --- the client -----------------------------------------------------------------------------------

class Client:
    """One keep-alive HTTP/1.1 connection; GET returns (seconds, status, body)."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection(api.HOST, port, timeout=REQUEST_TIMEOUT)

    def get(self, path, user=USER):
        token = base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()
        start = time.perf_counter()
        self.conn.request("GET", path, headers={"Authorization": f"Basic {token}", "Accept": "application/json"})
        resp = self.conn.getresponse()
        body = resp.read()
        return time.perf_counter() - start, resp.status, body

    def close(self):
        self.conn.close()


def check(listing, status, body, want_count, want_names):
    if status != 200:
        raise RuntimeError(f"GET {listing.path}: {status} {body[:500]!r}")
    from cimi.vocabulary import items_key
    doc = json.loads(body)
    names = [item["name"] for item in doc.get(items_key(listing.kind), [])]
    if doc["count"] != want_count or names != want_names:
        raise RuntimeError(f"GET {listing.path}: count {doc['count']} (expected {want_count}), "
                           f"items {names[:4]}... (expected {want_names[:4]}...)")


def measure(client, listing, n_requests, warmup, want, deadline):
    for _ in range(warmup):
        _, status, body = client.get(listing.path, listing.reader)
        check(listing, status, body, *want)
    times = []
    for _ in range(n_requests):
        if time.monotonic() > deadline:
            raise RuntimeError(f"time limit reached after {len(times)} of {n_requests} requests")
        seconds, status, body = client.get(listing.path, listing.reader)
        check(listing, status, body, *want)
        times.append(seconds * 1000)
    times.sort()
    return {"median_ms": statistics.median(times), "p90_ms": times[int(0.9 * (len(times) - 1))],
            "matching": want[0], "bytes": len(body), "load": os.getloadavg()[0]}


def machine_description():
    import sqlite3
    import peewee
    return (f"{os.cpu_count()} CPUs ({api.cpu_model()}), Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}, SQLite {sqlite3.sqlite_version}, peewee {peewee.__version__}")


def settle(pid, timeout=120):
    """Wait until the server is idle: its start reads every STARTED Machine (cimi/reconcile.py `resume`),
    which would otherwise run beside the first measurements."""
    ticks = os.sysconf("SC_CLK_TCK")

    def cpu():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks          # utime + stime, seconds

    deadline, before = time.monotonic() + timeout, cpu()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = cpu()
        if now - before < 0.02:
            return
        before = now


@contextlib.contextmanager
def database_url(name, tmp):
    """The URL of a database to measure on: a fresh SQLite file, a throwaway PostgreSQL, or the URL given."""
    if name == "sqlite":
        yield f"sqlite:///{Path(tmp) / 'cimi.sqlite3'}"
    elif name == "postgresql":
        from tests.postgres import cluster
        with cluster() as url:
            yield url
    else:
        yield name


def run_database(name, listings, args, deadline):
    """Measure every listing on one database; return {kind: {size: figures}}, {kind: plan}."""
    import peewee
    from cimi import store
    from cimi.store import db, migrations
    results, plans = {listing.kind: {} for listing in listings}, {}
    with tempfile.TemporaryDirectory(prefix="cimi-bench-query-") as tmp, database_url(name, tmp) as url:
        database = db.open_database(url)
        migrations.migrate(database)
        from cimi import auth
        auth.add_user(USER, PASSWORD, admin=True)         # (the server makes it only in a store without users)
        auth.add_user(READER, PASSWORD, groups=[READER_GROUP])
        postgres = isinstance(database, peewee.PostgresqlDatabase)
        version = database.execute_sql("select version()" if postgres else "select sqlite_version()").fetchone()[0]
        print(f"\nstore: {version.split(' on ')[0]} ({url.split('://')[0]})", flush=True)
        rows = {listing.kind: [] for listing in listings}
        for listing in listings:
            db.model_for(listing.kind).delete().execute()
        for size in SIZES:
            for listing in listings:
                new = rows_of(listing, len(rows[listing.kind]), size)
                started = time.monotonic()
                store.insert_many(listing.kind, new)
                if postgres:    # what autovacuum does after that many inserted rows
                    database.execute_sql(f'VACUUM ANALYZE "{db.model_for(listing.kind)._meta.table_name}"')
                    database.execute_sql('VACUUM ANALYZE "acl_grant"')
                rows[listing.kind] += new
                print(f"  {listing.kind}: {size:,} rows ({len(new):,} inserted in {time.monotonic() - started:.1f} s)",
                      flush=True)
            if not postgres:
                # NOTE: one bulk load leaves every page it wrote in the WAL, where readers then look them
                # up page by page until a writer restarts the log; a server that writes does so by itself.
                database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            # A server started on the store as it is now (on SQLite its start refreshes the planner's statistics).
            server = api.Server("CIMI", "--serve", url, str(Path(tmp) / "var"), script=__file__)
            try:
                settle(server.proc.pid)
                client = Client(server.port)
                for listing in listings:
                    want = listing.expected(rows[listing.kind])
                    print(f"  GET {urllib.parse.unquote(listing.path)} at {size:,} rows, {want[0]:,} match: "
                          f"{args.warmup} + {args.requests} requests ...", flush=True)
                    results[listing.kind][size] = measure(client, listing, args.requests, args.warmup, want, deadline)
                client.close()
            except (RuntimeError, OSError, http.client.HTTPException):
                if server.proc.poll() is not None:
                    print(f"server log:\n{server.errors()}", file=sys.stderr)
                raise
            finally:
                server.stop()
        if args.explain:
            if not postgres:
                database.execute_sql("ANALYZE sqlite_master")     # load the statistics the server computed
            plans = {listing.kind: explain(database, server_sql(database, listing), postgres) for listing in listings}
        database.close()
    return results, plans


def main(argv=None):
    global SIZES
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", action="append", metavar="sqlite|postgresql|URL",
                        help="where to measure (repeatable; default: sqlite and postgresql); a URL's rows are deleted")
    parser.add_argument("--kind", action="append", choices=sorted(LISTINGS),
                        help="the collections to measure (repeatable; default: all)")
    parser.add_argument("--requests", type=int, default=100, help="measured requests per size (default 100)")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured requests per size first (default 10)")
    parser.add_argument("--explain", action="store_true", help="print the SQL and its plan at 100,000 rows")
    parser.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT, metavar="SECONDS",
                        help=f"give up after this long (default {DEFAULT_TIME_LIMIT})")
    parser.add_argument("--fail-above", type=float, default=None, metavar="RATIO",
                        help=f"exit 1 when a ratio 100,000/100 is above RATIO (default: only report against {TARGET})")
    parser.add_argument("--largest", type=int, default=SIZES[-1], metavar="ROWS",
                        help=f"the larger size measured (default {SIZES[-1]:,})")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    parser.add_argument("--serve", nargs=2, metavar=("URL", "DATA_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(*args.serve)
    if args.requests < 1 or args.warmup < 0 or args.largest <= SIZES[0]:
        parser.error(f"--requests >= 1, --warmup >= 0, --largest > {SIZES[0]}")
    SIZES = (SIZES[0], args.largest)
    deadline = time.monotonic() + args.time_limit
    from cimi import kinds
    kinds.load_all()
    listings = [LISTINGS[k] for k in (args.kind or LISTINGS)]
    print(f"machine: {machine_description()}")
    figures, worst = [], 0.0
    for name in args.database or ("sqlite", "postgresql"):
        try:
            results, plans = run_database(name, listings, args, deadline)
        except (RuntimeError, OSError, http.client.HTTPException) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        label = name if "://" not in name else name.split("://")[0]
        for kind, by_size in results.items():
            small, large = (by_size[s] for s in SIZES)
            ratio = large["median_ms"] / small["median_ms"]
            worst = max(worst, ratio)
            figures.append({"database": label, "kind": kind, "path": LISTINGS[kind].path, "ratio": ratio,
                            "results": by_size})
        for kind, statements in plans.items():
            print(f"\n--- {label}, {kind} at {SIZES[-1]:,} rows: the SQL the server runs, and its plan")
            for sql, params, plan in statements:
                print(f"{sql}\n  params: {params}")
                print("\n".join("    " + line for line in plan))
    big = f"{SIZES[-1]:,}"
    print(f"\n| database | collection | matching at 100 / {big} | median at 100 (ms) | median at {big} (ms) "
          f"| p90 at {big} (ms) | ratio | load (1 min) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for f in figures:
        small, large = (f["results"][s] for s in SIZES)
        print(f"| {f['database']} | {f['kind']} | {small['matching']:,} / {large['matching']:,} "
              f"| {small['median_ms']:.2f} | {large['median_ms']:.2f} | {large['p90_ms']:.2f} "
              f"| **{f['ratio']:.2f}** | {small['load']:.2f} / {large['load']:.2f} |")
    verdict = "meets" if worst <= TARGET else "misses"
    print(f"\nworst ratio of the medians {big}/100: {worst:.2f} ({verdict} the target <= {TARGET})")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "machine": machine_description(), "requests": args.requests, "warmup": args.warmup,
            "figures": figures, "date": time.strftime("%Y-%m-%d")}, indent=2, default=str))
    if args.fail_above is not None and worst > args.fail_above:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
