"""Load: N concurrent clients mixing reads, creates and deletes against the CIMI server, on loopback.

In one run:

1. start the CIMI server (`Cloud(Config(data_dir=<fresh temp dir>, workers=4))`,
   waitress threads=8, as cimi/server.py runs it) in a subprocess on a free
   127.0.0.1 port, with the libvirt test driver (test:///default) and users
   `admin` and `user0`..`user3`;
2. run --clients client threads (spread over --processes processes, so the
   load generator's own GIL is not the bottleneck) for --duration seconds.
   Every client keeps one keep-alive connection and loops over a weighted mix:

   * reads (70 %): the entry point, a collection (Volumes, Machines, Jobs),
     a collection with $filter, and one of its own resources by id;
   * creates (15 %): a Volume (202 + Job), a Machine (202 + Job), or, for
     admin clients, a MachineConfiguration (201);
   * deletes (15 %): the oldest of its resources whose Job has finished
     (a Volume or Machine: 202 + Job; a MachineConfiguration: 200);
3. wait for every Job to finish, and print requests/second, p50/p99 latency
   (all requests and per kind), and the error count: any answer >= 400, any
   transport error, and any Job that ended FAILED. The target is 0.

    .venv/bin/python bench/load.py [--duration 60] [--clients 64] [--processes 4] [--json FILE]

Exit status: 0 when there were no errors, 1 otherwise.
"""
import argparse
import base64
import http.client
import json
import multiprocessing
import os
import platform
import random
import signal
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import api  # noqa: E402  (bench/api.py: the server subprocess, the machine line)

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
THREADS = 8                       # waitress threads, as cimi/server.py
WORKERS = 4                       # job workers, the server's default
ADMIN = ("admin", "load-admin-pw")
USERS = [(f"user{i}", f"user{i}-pw") for i in range(4)]
CIMI = "http://schemas.dmtf.org/cimi/1"
MIX = (("read", 70), ("create", 15), ("delete", 15))
MAX_HELD = 3                      # a client deletes instead of creating while it holds this many resources
# A Machine's disk: 1 GiB, so that the test driver's 100 GiB pool holds every Machine alive at once.
LOAD_CONFIG = {"name": "load", "cpu": 1, "memory": 262144,
               "disks": [{"capacity": 1024 * 1024, "format": "qcow2", "initialLocation": "vda"}]}


def query(path, **params):
    return path + "?" + "&".join(f"{k}={urllib.parse.quote(str(v), safe='')}" for k, v in params.items())


FILTERED = query("/cimi/volumes", **{"$filter": "state='AVAILABLE' and name!='x'", "$first": 1, "$last": 10})
UNFINISHED_JOBS = query("/cimi/jobs", **{"$filter": "state='QUEUED' or state='RUNNING'"})
FAILED_JOBS = query("/cimi/jobs", **{"$filter": "state='FAILED'"})


# --- the server (a subprocess of this script: `load.py --serve DATA_DIR`) -------------------------------

def serve(data_dir):
    import logging
    logging.basicConfig(level=logging.WARNING, format="cimi-server: %(levelname)s %(name)s: %(message)s")
    import waitress

    from cimi import auth
    from cimi.http.app import create_app
    from cimi.cloud import Cloud, Config
    os.environ["CIMI_ADMIN_PASSWORD"] = ADMIN[1]
    cloud = Cloud(Config(data_dir=data_dir, workers=WORKERS))
    for name, password in USERS:
        auth.add_user(name, password)
    server = waitress.create_server(create_app(cloud), host=HOST, port=0, threads=THREADS, ident="cimi")
    print(f"PORT {server.effective_port}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.run()
    finally:
        server.close()
        cloud.close()


# --- a client --------------------------------------------------------------------------------------------

class Client:
    def __init__(self, port, user, password):
        self.port = port
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.conn = None

    def request(self, method, path, body=None):
        """Return (status or None on a transport error, headers, document, seconds)."""
        path = path[path.index("/cimi"):] if "/cimi" in path else path
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": self.auth, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        start = time.perf_counter()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
            self.conn.request(method, path, data, headers)
            resp = self.conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return None, {}, {"error": repr(exc)}, time.perf_counter() - start
        elapsed = time.perf_counter() - start
        doc = json.loads(raw) if raw and (resp.getheader("Content-Type") or "").startswith("application/json") \
            else {}
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, doc, elapsed


def client_loop(index, port, stop_at, seed, refs):
    """One client's loop; return its samples [(kind, op, status, seconds)] and what it left behind."""
    rng = random.Random(seed)
    admin = index % 8 == 0
    user, password = ADMIN if admin else USERS[index % len(USERS)]
    client = Client(port, user, password)
    mine = []                     # [(kind, href, job href or None)], oldest first
    samples = []
    errors = []

    def call(op, method, path, body=None, ok=(200,)):
        status, headers, doc, elapsed = client.request(method, path, body)
        samples.append((op, status, elapsed))
        if status is None or status not in ok:
            errors.append((op, method, path, status, (doc.get("statusMessage") or doc.get("error") or "")[:200]))
        return status, headers, doc

    def finished(job_href):
        if job_href is None:
            return True
        status, _, job = call("read job", "GET", job_href)
        return status == 200 and job.get("state") in ("SUCCESS", "FAILED", "STOPPED")

    while time.perf_counter() < stop_at:
        kind = rng.choices([m[0] for m in MIX], [m[1] for m in MIX])[0]
        if kind == "create" and len(mine) >= MAX_HELD:
            kind = "delete"
        if kind == "read":
            target = rng.random()
            if target < 0.15:
                call("read entry point", "GET", "/cimi/cloudEntryPoint")
            elif target < 0.45:
                call("read collection", "GET", rng.choice(["/cimi/volumes", "/cimi/machines", "/cimi/jobs?$last=20",
                                                           "/cimi/machineConfigs"]))
            elif target < 0.60:
                call("read filtered", "GET", FILTERED)
            elif mine:
                call("read one", "GET", rng.choice(mine)[1])
            else:
                call("read one", "GET", refs["config"])
        elif kind == "create":
            if admin:
                status, headers, _ = call("create config", "POST", "/cimi/machineConfigs",
                                          {"name": f"load-{index}", "cpu": 1, "memory": 262144}, ok=(201,))
                if status == 201:
                    mine.append(("config", headers["location"], None))
            elif rng.random() < 0.8:
                status, headers, _ = call("create volume", "POST", "/cimi/volumes",
                                          {"resourceURI": f"{CIMI}/VolumeCreate", "name": f"load-{index}",
                                           "volumeTemplate": {"volumeConfig": {"capacity": 1024}}}, ok=(201, 202))
                if status in (201, 202):
                    mine.append(("volume", headers["location"], headers.get("cimi-job-uri")))
            else:
                status, headers, _ = call("create machine", "POST", "/cimi/machines", {
                    "resourceURI": f"{CIMI}/MachineCreate", "name": f"load-{index}",
                    "machineTemplate": {"machineConfig": {"href": refs["config"]},
                                        "machineImage": {"href": refs["image"]}}}, ok=(201, 202))
                if status in (201, 202):
                    mine.append(("machine", headers["location"], headers.get("cimi-job-uri")))
        elif mine:
            what, href, job = mine[0]
            if finished(job):
                mine.pop(0)
                status, _, _ = call(f"delete {what}", "DELETE", href, ok=(200, 202))
        else:
            call("read entry point", "GET", "/cimi/cloudEntryPoint")
    return samples, errors


def process_main(args):
    """Run some clients in threads of this process; return their samples and errors."""
    import threading
    indexes, port, stop_at_wall, refs = args
    stop_at = time.perf_counter() + (stop_at_wall - time.time())
    results = {}

    def run(i):
        results[i] = client_loop(i, port, stop_at, seed=i, refs=refs)

    threads = [threading.Thread(target=run, args=(i,)) for i in indexes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    samples, errors = [], []
    for s, e in results.values():
        samples += s
        errors += e
    return samples, errors


# --- the parent -------------------------------------------------------------------------------------------

def percentile(sorted_values, fraction):
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def wait_for_jobs(client, timeout=120):
    """Wait until no Job is QUEUED or RUNNING; return the count of FAILED Jobs and some of their messages."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _, doc, _ = client.request("GET", UNFINISHED_JOBS)
        if status == 200 and doc["count"] == 0:
            break
        time.sleep(0.5)
    status, _, doc, _ = client.request("GET", FAILED_JOBS)
    if status != 200:
        raise RuntimeError(f"GET {FAILED_JOBS}: {status} {doc}")
    kinds = {}                    # (action, target collection, message up to the first ':') -> count
    for job in doc.get("jobs", []):
        target = (job.get("targetResource") or {}).get("href", "?").split("/cimi/")[-1].split("/")[0]
        key = (job.get("action", "?"), target, job.get("statusMessage", "").split(":")[0][:80])
        kinds[key] = kinds.get(key, 0) + 1
    return doc.get("count", 0), [f"{n} x {a} {t}: {m}" for (a, t, m), n in sorted(kinds.items())]


def machine_description():
    model = api.cpu_model()
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {platform.system()} {platform.release()}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60, help="seconds of load (default 60)")
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients (default 64)")
    parser.add_argument("--processes", type=int, default=4, help="client processes (default 4)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    parser.add_argument("--serve", metavar="DATA_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.serve)
    if args.duration <= 0 or args.clients < 1 or args.processes < 1:
        parser.error("--duration > 0, --clients >= 1, --processes >= 1")

    with tempfile.TemporaryDirectory(prefix="cimi-load-") as tmp:
        server = api.Server("CIMI", "--serve", str(Path(tmp) / "var"), script=__file__)
        try:
            admin = Client(server.port, *ADMIN)
            status, headers, doc, _ = admin.request("POST", "/cimi/machineConfigs", LOAD_CONFIG)
            if status != 201:
                raise RuntimeError(f"POST machineConfigs: {status} {doc}")
            _, _, images, _ = admin.request("GET", "/cimi/machineImages")
            refs = {"config": headers["location"], "image": images["machineImages"][0]["id"]}
            print(f"machine: {machine_description()}")
            print(f"{args.clients} clients in {args.processes} processes for {args.duration:g} s against "
                  f"http://{HOST}:{server.port}/cimi/ (waitress threads={THREADS}, job workers={WORKERS})",
                  flush=True)
            processes = min(args.processes, args.clients)
            groups = [list(range(p, args.clients, processes)) for p in range(processes)]
            start = time.time()
            stop_at = start + args.duration
            with multiprocessing.get_context("fork").Pool(processes) as pool:
                results = pool.map(process_main, [(g, server.port, stop_at, refs) for g in groups])
            elapsed = time.time() - start
            failed_jobs, job_messages = wait_for_jobs(admin)
            alive = admin.request("GET", "/cimi/cloudEntryPoint")[0] == 200
        finally:
            server.stop()
        server_log = server.errors()

    samples = [s for r in results for s in r[0]]
    errors = [e for r in results for e in r[1]]
    latencies = sorted(s[2] for s in samples)
    by_op = {}
    for op, status, seconds in samples:
        by_op.setdefault(op, []).append(seconds)
    figures = {
        "command": "bench/load.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine_description(), "date": time.strftime("%Y-%m-%d"),
        "clients": args.clients, "processes": processes, "duration_s": round(elapsed, 1),
        "requests": len(samples), "rps": len(samples) / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000, "p99_ms": percentile(latencies, 0.99) * 1000,
        "http_errors": len(errors), "failed_jobs": failed_jobs,
        "by_op": {op: {"requests": len(v), "p50_ms": percentile(sorted(v), 0.5) * 1000,
                       "p99_ms": percentile(sorted(v), 0.99) * 1000} for op, v in sorted(by_op.items())},
        "server_answering_after": alive,
    }
    print()
    print(f"requests: {figures['requests']} in {elapsed:.1f} s = {figures['rps']:.0f} req/s")
    print(f"latency: p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms")
    print(f"errors: {len(errors)} HTTP/transport, {failed_jobs} failed Jobs (target 0)")
    print()
    print("| request | count | p50 (ms) | p99 (ms) |")
    print("| --- | ---: | ---: | ---: |")
    for op, f in figures["by_op"].items():
        print(f"| {op} | {f['requests']} | {f['p50_ms']:.1f} | {f['p99_ms']:.1f} |")
    if errors:
        print("\nfirst errors:")
        for e in errors[:10]:
            print("  ", e)
    if job_messages:
        print("\nfailed Jobs, by action, target and message:")
        for m in job_messages:
            print("  ", m)
    if "Traceback" in server_log:
        print("\nserver log (tail):\n" + server_log[-2000:])
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0 if not errors and not failed_jobs and alive else 1


if __name__ == "__main__":
    sys.exit(main())
