"""Benchmark: GET one Machine on the CIMI server against a bare falcon app serving the same bytes.

In one run, on loopback only:

1. start the CIMI server (waitress, threads=8) in a subprocess, on a free
   127.0.0.1 port with a fresh temporary data dir; create one Machine, wait
   for its Job, and GET it once to capture the exact response body and headers;
2. start a bare falcon + waitress app (same waitress settings) in another
   subprocess that answers the same path with the same bytes and headers, no auth;
3. load both alternately with `wrk -t2 -cN -dDs` (the CIMI server with its
   Authorization header), ROUNDS rounds each, and print the median
   requests/second of each and the ratio CIMI/bare.

    .venv/bin/python bench/api.py [--duration 10] [--connections 16] [--rounds 3]

`make bench` runs it with the defaults. Exits 2 when wrk is not installed,
1 when something fails (or, with --fail-below, when the ratio is under it).
"""
import argparse
import base64
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
THREADS = 8                      # as cimi/server.py passes to waitress.serve
IDENT = "cimi"                   # waitress Server header, the same for both apps
USER, PASSWORD = "admin", "bench-admin-pw"
TARGET = 0.7
START_TIMEOUT = 60               # seconds for a server to listen
JOB_TIMEOUT = 60                 # seconds for the Machine's Job
# Headers of the captured answer the bare app repeats (waitress adds Server, Date, Content-Length).
COPIED_HEADERS = ("Content-Type", "ETag", "CIMI-Specification-Version")


# --- the two servers (run in subprocesses: `api.py --serve-cimi DIR` / `--serve-bare FILE`) --------

def _listen_and_run(app):
    """Serve app with waitress on a free loopback port; print the port for the parent; run."""
    import waitress
    server = waitress.create_server(app, host=HOST, port=0, threads=THREADS, ident=IDENT)
    print(f"PORT {server.effective_port}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.run()
    finally:
        server.close()


def serve_cimi(data_dir):
    import logging
    logging.basicConfig(level=logging.WARNING, format="cimi-server: %(levelname)s %(name)s: %(message)s")
    from cimi.http.app import create_app
    from cimi.cloud import Cloud, Config
    os.environ["CIMI_ADMIN_PASSWORD"] = PASSWORD
    cloud = Cloud(Config(data_dir=data_dir, workers=2))
    try:
        _listen_and_run(create_app(cloud))
    finally:
        cloud.close()


def serve_bare(capture_file):
    """A falcon app with one route answering the captured bytes and headers."""
    import falcon
    capture = json.loads(Path(capture_file).read_text())
    body = base64.b64decode(capture["body"])
    headers = capture["headers"]

    class Captured:
        def on_get(self, req, resp):
            resp.data = body
            resp.content_type = headers["Content-Type"]
            for name in COPIED_HEADERS[1:]:
                if name in headers:
                    resp.set_header(name, headers[name])

    app = falcon.App()
    app.add_route(capture["path"], Captured())
    _listen_and_run(app)


# --- the parent: start, seed, capture, load ---------------------------------------------------

class Server:
    """A server subprocess of this script; it prints `PORT n` once it listens."""

    def __init__(self, name, *args, script=__file__):
        self.name = name
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([sys.executable, script, *args], cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True, start_new_session=True)
        self.port = self._read_port()
        self.base = f"http://{HOST}:{self.port}"

    def _read_port(self):
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if sel.select(timeout=0.2):
                line = self.proc.stdout.readline()
                match = re.match(r"PORT (\d+)", line or "")
                if match:
                    return int(match.group(1))
        self.stop()
        raise RuntimeError(f"{self.name} server did not start:\n{self.errors()}")

    def errors(self):
        self.log.seek(0)
        return self.log.read()[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def request(method, url, auth, body=None, timeout=30):
    """Return (status, headers, body bytes)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": auth, "Accept": "application/json",
        **({"Content-Type": "application/json"} if data is not None else {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def get_json(base, href, auth):
    status, _, raw = request("GET", absolute(base, href), auth)
    if status != 200:
        raise RuntimeError(f"GET {href}: {status} {raw[:500]!r}")
    return json.loads(raw)


def absolute(base, href):
    return href if href.startswith("http") else base + href[href.index("/cimi"):]


def create_machine(base, auth):
    """Create one Machine from the first configuration and image; wait for its Job; return its URL."""
    cep = get_json(base, "/cimi/cloudEntryPoint", auth)
    config = get_json(base, cep["machineConfigs"]["href"], auth)["machineConfigurations"][0]["id"]
    image = get_json(base, cep["machineImages"]["href"], auth)["machineImages"][0]["id"]
    body = {"resourceURI": "http://schemas.dmtf.org/cimi/1/MachineCreate", "name": "m1",
            "machineTemplate": {"machineConfig": {"href": config}, "machineImage": {"href": image}}}
    status, headers, raw = request("POST", absolute(base, cep["machines"]["href"]), auth, body)
    if status not in (201, 202):
        raise RuntimeError(f"POST machines: {status} {raw[:500]!r}")
    if status == 202:
        deadline = time.monotonic() + JOB_TIMEOUT
        while True:
            job = get_json(base, headers["CIMI-Job-URI"], auth)
            if job["state"] == "SUCCESS":
                break
            if job["state"] in ("FAILED", "STOPPED"):
                raise RuntimeError(f"the Machine's Job ended {job['state']}: {job.get('statusMessage')}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Machine's Job is still {job['state']} after {JOB_TIMEOUT}s")
            time.sleep(0.1)
    return absolute(base, headers["Location"])


def capture(url, auth):
    status, headers, raw = request("GET", url, auth)
    if status != 200:
        raise RuntimeError(f"GET {url}: {status} {raw[:500]!r}")
    return {"path": urllib.parse.urlsplit(url).path, "body": base64.b64encode(raw).decode(),
            "headers": {name: headers[name] for name in COPIED_HEADERS if headers[name] is not None},
            "all_headers": sorted(headers.keys())}


def check_same(cimi_url, bare_url, auth):
    """The bare app must answer the same body and the same headers (Date aside)."""
    a_status, a_headers, a_body = request("GET", cimi_url, auth)
    b_status, b_headers, b_body = request("GET", bare_url, "")
    if (a_status, a_body) != (b_status, b_body):
        raise RuntimeError("the bare app does not answer the same bytes as the CIMI server")
    differ = [h for h in set(a_headers.keys()) | set(b_headers.keys())
              if h != "Date" and a_headers[h] != b_headers[h]]
    if differ:
        raise RuntimeError(f"the bare app's headers differ from the CIMI server's: {differ}")
    return len(a_body)


def wrk(url, args, headers=()):
    """Run wrk once; return requests/second, median latency (ms), requests done."""
    cmd = ["wrk", "-t2", f"-c{args.connections}", f"-d{args.duration}s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=args.duration + 60)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr or out.stdout}")
    text = out.stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if bad:
        raise RuntimeError(f"{bad.group(1)} non-2xx answers from {url}:\n{text}")
    errors = re.search(r"Socket errors: (.*)", text)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    done = int(re.search(r"(\d+) requests in", text).group(1))
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    scale = {"us": 0.001, "ms": 1, "s": 1000}
    latency = float(p50.group(1)) * scale[p50.group(2)] if p50 else float("nan")
    return {"rps": rps, "p50_ms": latency, "requests": done, "errors": errors.group(1) if errors else ""}


def cpu_model():
    """The CPU's model name, for the figures' machine line."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def machine_description():
    model = cpu_model()
    lines = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines() or ["wrk"]
    wrk_version = lines[0].split(" Copyright")[0].strip()
    return (f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}, {wrk_version}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of each wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--rounds", type=int, default=3, help="wrk runs of each server, alternated (default 3)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load on each first (default 2)")
    parser.add_argument("--fail-below", type=float, default=None, metavar="RATIO",
                        help="exit 1 when CIMI/bare is below RATIO (default: only report against 0.7)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    parser.add_argument("--serve-cimi", metavar="DATA_DIR", help=argparse.SUPPRESS)
    parser.add_argument("--serve-bare", metavar="CAPTURE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_cimi:
        return serve_cimi(args.serve_cimi)
    if args.serve_bare:
        return serve_bare(args.serve_bare)
    if args.duration < 1 or args.connections < 2 or args.rounds < 1:
        parser.error("--duration >= 1, --connections >= 2 (wrk -t2), --rounds >= 1")
    if shutil.which("wrk") is None:
        print("bench/api.py needs the HTTP load generator wrk; install it with:\n"
              "    apt-get install wrk", file=sys.stderr)
        return 2

    auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    servers = []
    with tempfile.TemporaryDirectory(prefix="cimi-bench-") as tmp:
        try:
            print(f"machine: {machine_description()}")
            cimi = Server("CIMI", "--serve-cimi", str(Path(tmp) / "var"))
            servers.append(cimi)
            url = create_machine(cimi.base, auth)
            captured = capture(url, auth)
            capture_file = Path(tmp) / "capture.json"
            capture_file.write_text(json.dumps(captured))
            bare = Server("bare", "--serve-bare", str(capture_file))
            servers.append(bare)
            bare_url = bare.base + captured["path"]
            size = check_same(url, bare_url, auth)
            print(f"GET {captured['path']}: {size} bytes of {captured['headers']['Content-Type']}, "
                  f"same body and headers from both servers")
            targets = {"CIMI": (url, [f"Authorization: {auth}"]), "bare": (bare_url, [])}
            if args.warmup:
                warm = argparse.Namespace(**{**vars(args), "duration": args.warmup})
                for name, (target, headers) in targets.items():
                    wrk(target, warm, headers)
            runs = {"CIMI": [], "bare": []}
            print(f"wrk -t2 -c{args.connections} -d{args.duration}s, {args.rounds} rounds, alternated")
            for n in range(args.rounds):
                order = ("CIMI", "bare") if n % 2 == 0 else ("bare", "CIMI")
                for name in order:
                    target, headers = targets[name]
                    result = wrk(target, args, headers)
                    runs[name].append(result)
                    print(f"  round {n + 1} {name:4}: {result['rps']:9.1f} req/s, p50 {result['p50_ms']:.2f} ms"
                          + (f", socket errors: {result['errors']}" if result["errors"] else ""), flush=True)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"error: {exc}", file=sys.stderr)
            for server in servers:
                if server.proc.poll() is not None:
                    print(f"{server.name} server log:\n{server.errors()}", file=sys.stderr)
            return 1
        finally:
            for server in reversed(servers):
                server.stop()

    median = {name: statistics.median(r["rps"] for r in results) for name, results in runs.items()}
    p50 = {name: statistics.median(r["p50_ms"] for r in results) for name, results in runs.items()}
    ratio = median["CIMI"] / median["bare"]
    print()
    print("| server | req/s (median) | runs (req/s) | p50 latency (ms, median) |")
    print("| --- | ---: | --- | ---: |")
    for name, label in (("CIMI", "CIMI (auth, store, render)"), ("bare", "bare falcon, same bytes")):
        each = ", ".join(f"{r['rps']:.0f}" for r in runs[name])
        print(f"| {label} | {median[name]:.0f} | {each} | {p50[name]:.2f} |")
    verdict = "meets" if ratio >= TARGET else "is below"
    print(f"\nratio CIMI/bare: {ratio:.2f} ({verdict} the target {TARGET})")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "machine": machine_description(), "duration": args.duration, "connections": args.connections,
            "rounds": args.rounds, "runs": runs, "median_rps": median, "median_p50_ms": p50,
            "ratio": ratio, "date": time.strftime("%Y-%m-%d")}, indent=2))
    if args.fail_below is not None and ratio < args.fail_below:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
