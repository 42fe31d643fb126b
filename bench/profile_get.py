"""Profile the CIMI GET-one-Machine path in process (cProfile over falcon's TestClient).

    .venv/bin/python bench/profile_get.py [--requests 5000] [--top 30]

Starts a Cloud on a fresh temp data dir, creates one Machine, then times
`--requests` authenticated GETs of it: first without the profiler (the mean
cost of one request in the app, no HTTP server), then the same through a bare
falcon app answering the same bytes, then under cProfile, printing the
functions by cumulative and by own time. A profiler inflates small calls; read
shares, not absolute times.
"""
import argparse
import base64
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PASSWORD = "bench-admin-pw"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--dump", metavar="FILE", help="also save the raw profile (pstats) to FILE")
    args = parser.parse_args(argv)

    import falcon
    from falcon import testing
    os.environ["CIMI_ADMIN_PASSWORD"] = PASSWORD
    from cimi.http.app import create_app
    from cimi.cloud import Cloud, Config

    with tempfile.TemporaryDirectory(prefix="cimi-profile-") as tmp:
        cloud = Cloud(Config(data_dir=str(Path(tmp) / "var"), workers=2))
        try:
            tc = testing.TestClient(create_app(cloud))
            auth = {"Authorization": "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()}
            path = create_machine(tc, auth)
            get = lambda: tc.simulate_get(path, headers=auth)  # noqa: E731
            first = get()
            assert first.status_code == 200, first.text

            class Captured:
                def on_get(self, req, resp):
                    resp.data, resp.content_type = first.content, first.headers["content-type"]
                    resp.set_header("ETag", first.headers["etag"])
                    resp.set_header("CIMI-Specification-Version", first.headers["cimi-specification-version"])
            bare_app = falcon.App()
            bare_app.add_route(path, Captured())
            bare = testing.TestClient(bare_app)

            for _ in range(200):
                get()
            cimi_us = timed(get, args.requests)
            bare_us = timed(lambda: bare.simulate_get(path), args.requests)
            print(f"{args.requests} GET {path} over TestClient (no HTTP server):")
            print(f"  CIMI app  {cimi_us:7.1f} us/request")
            print(f"  bare app  {bare_us:7.1f} us/request  (difference {cimi_us - bare_us:.1f} us)")

            print_components(cloud, tc, path, auth, first.content, args.requests)

            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.requests):
                get()
            profiler.disable()
        finally:
            cloud.close()
    if args.dump:
        profiler.dump_stats(args.dump)
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order)
        stats.print_stats(args.top)
        print(f"\n=== by {order} ===")
        print(out.getvalue()[out.getvalue().index("   ncalls"):].rstrip())


def timed(fn, n):
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def print_components(cloud, tc, path, auth, body, n):
    """Time each step of the GET path on its own (no profiler), in microseconds per call."""
    import sqlite3
    import falcon
    from cimi import crud, registry, represent, store
    from cimi.store import db
    from cimi.http import media
    from cimi.context import Context
    row_id = path.rsplit("/", 1)[-1]
    kind = registry.by_collection("machines")
    header = auth["Authorization"]
    user = cloud.authenticator.user(header, "127.0.0.1")
    ctx = Context(user=user, base="http://127.0.0.1:8080/cimi/", cloud=cloud)
    row = store.get("Machine", row_id)
    doc = represent.document(ctx, kind, row)
    model = db.model_for("Machine")
    sql, params = model.select().where(model.id == row_id).sql()
    record = model.select().where(model.id == row_id).first()
    conn = sqlite3.connect(cloud.config.database_url[len("sqlite:///"):], check_same_thread=False)

    from falcon import testing
    environ = testing.create_environ(path=path, headers=auth, remote_addr="127.0.0.1")

    def wsgi(app):
        b"".join(app(dict(environ), lambda status, headers, exc_info=None: None))

    def bare_app():
        class Captured:
            def on_get(self, req, resp):
                resp.data, resp.content_type = body, "application/json"
        app = falcon.App()
        app.add_route(path, Captured())
        return app
    cimi_app, bare = tc.app, bare_app()
    steps = [
        ("whole app, WSGI call (no server, no lint)", lambda: wsgi(cimi_app)),
        ("bare falcon app, WSGI call", lambda: wsgi(bare)),
        ("store.get (peewee: build SQL, run, to_row)", lambda: store.get("Machine", row_id)),
        ("  peewee: build the SELECT's SQL only", lambda: model.select().where(model.id == row_id).sql()),
        ("  sqlite3: run the prepared SQL, fetch the row", lambda: conn.execute(sql, params).fetchone()),
        ("  store.to_row of a fetched record (2 json.loads)", lambda: store.to_row(record)),
        ("Authenticator.user (cached credentials)", lambda: cloud.authenticator.user(header, "127.0.0.1")),
        ("database.connect(reuse_if_open=True)", lambda: cloud.database.connect(reuse_if_open=True)),
        ("represent.document (Machine)", lambda: represent.document(ctx, kind, row)),
        ("media.render json", lambda: media.render("json", "Machine", doc)),
        ("crud.etag", lambda: crud.etag(row)),
    ]
    print("\nsteps of the GET path, each timed alone (us per call, no profiler):")
    for label, fn in steps:
        for _ in range(100):
            fn()
        print(f"  {timed(fn, n):7.1f}  {label}")
    conn.close()


def create_machine(tc, auth):
    def get(href):
        resp = tc.simulate_get(href[href.index("/cimi"):], headers=auth)
        assert resp.status_code == 200, resp.text
        return resp.json
    cep = get("/cimi/cloudEntryPoint")
    config = get(cep["machineConfigs"]["href"])["machineConfigurations"][0]["id"]
    image = get(cep["machineImages"]["href"])["machineImages"][0]["id"]
    body = {"resourceURI": "http://schemas.dmtf.org/cimi/1/MachineCreate", "name": "m1",
            "machineTemplate": {"machineConfig": {"href": config}, "machineImage": {"href": image}}}
    resp = tc.simulate_post("/cimi/machines", json=body, headers=auth)
    assert resp.status_code in (201, 202), resp.text
    if resp.status_code == 202:
        deadline = time.monotonic() + 60
        while get(resp.headers["CIMI-Job-URI"])["state"] not in ("SUCCESS", "FAILED", "STOPPED"):
            assert time.monotonic() < deadline, "the Machine's Job did not finish"
            time.sleep(0.05)
    location = resp.headers["Location"]
    return location[location.index("/cimi"):]


if __name__ == "__main__":
    sys.exit(main())
