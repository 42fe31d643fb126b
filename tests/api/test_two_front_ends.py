"""Two front ends on one PostgreSQL, as real processes on the real libvirtd.

Each reads what the other wrote; a burst of Jobs is queued through both and
one is killed (SIGKILL) while it runs some of them. The survivor must bring
every Job to an end exactly once (a trigger in the database records every
claim and every ending), leave no target in a transient state, and keep
serving; the killed one, started again, must agree and redo nothing.
"""
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import libvirt
import pytest

from tests.backends.test_crash import Server

pytestmark = [pytest.mark.postgres, pytest.mark.libvirtd]
psycopg2 = pytest.importorskip("psycopg2")

MACHINES, VOLUMES = 10, 4
FINAL = ("SUCCESS", "FAILED")
TRANSIENT = ("CREATING", "DELETING", "STARTING", "STOPPING")
CONVERGE = 90                 # seconds the survivor has to end every Job (lease 3 s)
# Every claim (QUEUED -> RUNNING) and every ending of a Job, in the order the database saw them.
AUDIT = """
CREATE TABLE job_audit (seq serial, job varchar(64), old varchar(32), new varchar(32), worker varchar(64));
CREATE FUNCTION job_audit() RETURNS trigger AS $$ BEGIN
  IF NEW.state IS DISTINCT FROM OLD.state THEN
    INSERT INTO job_audit (job, old, new, worker) VALUES (NEW.id, OLD.state, NEW.state, NEW.worker);
  END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
CREATE TRIGGER job_audit AFTER UPDATE ON job FOR EACH ROW EXECUTE FUNCTION job_audit();
"""


class FrontEnd(Server):
    """cimi-server on the shared PostgreSQL database."""

    def __init__(self, uri, pool, data_dir, database):
        super().__init__(uri, pool, data_dir)
        self.database = database
        self.env.update({"CIMI_DATABASE": database, "CIMI_JOB_LEASE": "3", "CIMI_RECONCILE_EVERY": "2",
                         "CIMI_WORKERS": "3"})

    def domain_prefix(self, conn=None):
        return f"cimi-{sql(self.database, 'SELECT value FROM setting WHERE key = %s', ('cloud_id',))[0][0]}-"


def sql(url, query, args=()):
    with psycopg2.connect(url) as db, db.cursor() as cursor:
        cursor.execute(query, args)
        return cursor.fetchall() if cursor.description else None


@pytest.fixture
def database(postgresql_url):
    """A fresh database on the session's PostgreSQL, dropped afterwards."""
    name = "frontends_" + uuid.uuid4().hex[:8]
    admin = psycopg2.connect(postgresql_url)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    yield postgresql_url.rsplit("/", 1)[0] + "/" + name
    admin.cursor().execute(f"DROP DATABASE {name} WITH (FORCE)")
    admin.close()


@pytest.fixture
def front_ends(libvirtd, libvirtd_pool, database):
    pool, _ = libvirtd_pool
    root = Path("/var/tmp") / f"dsc-frontends-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    root.mkdir()
    ends = [FrontEnd(libvirtd, pool, root / name, database) for name in ("a", "b")]
    for end in ends:
        Path(end.env["CIMI_DATA_DIR"]).mkdir()
    conn = libvirt.open(libvirtd)
    try:
        yield ends, conn, pool
        alive = [end for end in ends if end.proc is not None and end.proc.poll() is None]
        if alive:                  # what a failed test left, deleted through the API (its own test checks that)
            for collection in ("machines", "volumes", "machineImages"):
                for item in alive[0].items(collection):
                    alive[0].call("DELETE", item["id"])
            alive[0].settle()
    finally:
        for end in ends:
            if end.proc is not None and end.proc.poll() is None:
                end.stop()
        conn.close()
        subprocess.run(["rm", "-rf", str(root)], check=False)


def add_user(database, name):
    done = subprocess.run([str(Path(sys.executable).parent / "cimi-server"), "--database", database,
                           "users", "add", name, "--password", "pw2"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def create(end, n, config, image):
    """POST the n-th create of the burst (a Machine, then Volumes); return (its path, its Job's id)."""
    if n < MACHINES:
        status, headers, doc = end.call("POST", "machines", {"name": f"fe-{n}", "machineTemplate": {
            "machineConfig": {"href": end.base + config}, "machineImage": {"href": end.base + image},
            "initialState": "STOPPED"}})
    else:
        status, headers, doc = end.call("POST", "volumes", {"name": f"fe-{n}", "volumeTemplate": {
            "volumeConfig": {"capacity": 1024}}})
    assert status == 202, doc
    return headers["Location"].split("/cimi/")[1], headers["CIMI-Job-URI"].rsplit("/", 1)[-1]


def ended(database, jobs, within):
    """Wait until every Job is SUCCESS or FAILED; return their states."""
    deadline = time.monotonic() + within
    while True:
        states = dict(sql(database, "SELECT id, state FROM job WHERE id = ANY(%s)", (jobs,)))
        if all(s in FINAL for s in states.values()):
            return states
        assert time.monotonic() < deadline, f"Jobs not ended: {states}"
        time.sleep(0.1)


def tail(href):
    """A resource's id without the base URI, which differs from one front end to the other."""
    return href.rsplit("/", 1)[-1]


def check_agreement(end, conn, pool, machines, volumes):
    """No Machine or Volume left transient; libvirt holds one domain per Machine, one file per Volume."""
    prefix = end.domain_prefix()
    deadline = time.monotonic() + 30
    while True:
        listed = {tail(m["id"]): m for m in end.items("machines") if tail(m["id"]) in map(tail, machines)}
        held = {tail(v["id"]): v for v in end.items("volumes") if tail(v["id"]) in map(tail, volumes)}
        if not any(r["state"] in TRANSIENT for r in (*listed.values(), *held.values())):
            break
        assert time.monotonic() < deadline, f"left transient: {listed} {held}"
        time.sleep(0.3)
    assert len(listed) == len(machines) and len(held) == len(volumes), "an accepted create's resource was lost"
    domains = {d.name()[len(prefix):] for d in conn.listAllDomains() if d.name().startswith(prefix)}
    for machine_id, machine in listed.items():
        assert machine["state"] in ("STOPPED", "ERROR"), machine
        assert machine_id in domains or machine["state"] == "ERROR", f"{machine['name']} has no domain"
    files = [v.name() for v in conn.storagePoolLookupByName(pool).listAllVolumes(0)]
    for volume_id, volume in held.items():
        assert volume["state"] in ("AVAILABLE", "ERROR"), volume
        copies = [f for f in files if volume_id in f]
        assert len(copies) == (volume["state"] == "AVAILABLE"), (volume, copies)
    return {k: v["state"] for k, v in {**listed, **held}.items()}


def test_each_front_end_reads_what_the_other_wrote_and_ends_the_jobs_of_a_dead_one(front_ends):
    (a, b), conn, pool = front_ends
    a.start()
    sql(a.database, AUDIT)
    image = a.items("machineImages")[0]["id"].split("/cimi/")[1]
    # Before b starts, a Job a runs names a's workers: any other worker is b's.
    warm, job = create(a, MACHINES, None, None)
    ended(a.database, [job], 30)
    (a_worker,), = sql(a.database, "SELECT worker FROM job WHERE id = %s", (job,))
    b.start()

    # --- each reads what the other wrote ---------------------------------------------------
    status, _, config = a.call("POST", "machineConfigs", {
        "name": "tiny", "cpu": 1, "memory": 32 * 1024, "cpuArch": "x86_64",
        "disks": [{"capacity": 64 * 1024, "format": "qcow2", "initialLocation": "vda"}]})
    assert status == 201, config
    config_path = config["id"].split("/cimi/")[1]
    status, seen_by_b, doc = b.call("GET", config_path)
    assert status == 200 and doc["memory"] == 32 * 1024
    assert seen_by_b["ETag"] == a.call("GET", config_path)[1]["ETag"]
    status, edited, doc = b.call("PUT", config_path, {**doc, "description": "edited through b"})
    assert status == 200, doc
    status, seen_by_a, doc = a.call("GET", config_path)
    assert doc["description"] == "edited through b" and seen_by_a["ETag"] == edited["ETag"] != seen_by_b["ETag"]
    assert a.call("GET", "machineConfigs")[2]["count"] == b.call("GET", "machineConfigs")[2]["count"] == 4
    # A user added while both run can use both; what it makes through one is listed by the other.
    user = "fe" + uuid.uuid4().hex[:6]
    add_user(a.database, user)
    status, _, credential = b.call("POST", "credentials", {"name": "key", "credentialTemplate": {"userName": "u"}},
                                   auth=(user, "pw2"))
    assert status == 201, credential
    listed = a.call("GET", "credentials", auth=(user, "pw2"))[2]
    assert [tail(c["id"]) for c in listed["credentials"]] == [tail(credential["id"])] and listed["count"] == 1

    # --- a burst of Jobs through both; b is killed while it runs some ------------------------
    made = [create((a, b)[n % 2], n, config_path, image) for n in range(MACHINES + VOLUMES)]
    machines, volumes = [h for h, _ in made[:MACHINES]], [warm] + [h for h, _ in made[MACHINES:]]
    jobs = [j for _, j in made]
    deadline = time.monotonic() + 60
    # b has claimed a Job of the burst (running now, or already run: a Job can start and end between two looks)
    while not sql(a.database, "SELECT 1 FROM job WHERE id = ANY(%s) AND worker <> %s", (jobs, a_worker)):
        assert time.monotonic() < deadline, "b never ran a Job of the burst"
        time.sleep(0.005)
    b.kill()
    killed_at = time.monotonic()
    at_kill = sql(a.database, "SELECT id, state, worker FROM job WHERE id = ANY(%s)", (jobs,))
    states = ended(a.database, jobs, CONVERGE)
    converged = time.monotonic() - killed_at
    audit = sql(a.database, "SELECT job, old, new FROM job_audit WHERE job = ANY(%s) ORDER BY seq", (jobs,))
    for job in jobs:
        transitions = [(old, new) for j, old, new in audit if j == job]
        claims = [t for t in transitions if t == ("QUEUED", "RUNNING")]
        endings = [t for t in transitions if t[1] in FINAL]
        assert len(claims) == 1 and len(endings) == 1, f"Job {job} ran or ended more than once: {transitions}"
    interrupted = [j for j, s, w in at_kill if s == "RUNNING" and w != a_worker]
    outcomes = {s: list(states.values()).count(s) for s in FINAL}
    print(f"\n{len(jobs)} jobs ({MACHINES} Machine creates, {VOLUMES} Volume creates); at the kill "
          f"{sum(s == 'RUNNING' for _, s, _ in at_kill)} RUNNING ({len(interrupted)} on the killed front end), "
          f"{sum(s == 'QUEUED' for _, s, _ in at_kill)} QUEUED; outcomes {outcomes}; "
          f"all ended {converged:.1f} s after the kill")
    for job in jobs:                  # b's Jobs fail as interrupted; every other one succeeds
        message = a.call("GET", f"jobs/{job}")[2].get("statusMessage", "")
        assert (states[job], "interrupted" in message) == (("FAILED", True) if job in interrupted else
                                                            ("SUCCESS", False)), (job, message)
    survived = check_agreement(a, conn, pool, machines, volumes)

    # --- the survivor keeps serving; the restarted front end agrees and redoes nothing --------
    after, job = create(a, MACHINES + VOLUMES, None, None)
    volumes.append(after)
    assert ended(a.database, [job], 30)[job] == "SUCCESS"
    seen = len(audit)
    b.start()
    b.settle(CONVERGE)
    assert check_agreement(b, conn, pool, machines, volumes) == check_agreement(a, conn, pool, machines, volumes)
    assert {k: v for k, v in check_agreement(a, conn, pool, machines, volumes).items() if k != tail(after)} == survived
    audit = sql(a.database, "SELECT job FROM job_audit WHERE job = ANY(%s)", (jobs,))
    assert len(audit) == seen, "a Job of the burst changed state after it ended"

    # --- clean up through the API, then nothing of the test remains in libvirt ---------------
    for n, href in enumerate(machines + volumes + [image]):
        assert (a, b)[n % 2].call("DELETE", href)[0] in (200, 202, 204)
    a.settle(CONVERGE)
    prefix = a.domain_prefix()
    names = [tail(h) for h in machines + volumes]
    left = [d.name() for d in conn.listAllDomains() if d.name().startswith(prefix)]
    files = [v.name() for v in conn.storagePoolLookupByName(pool).listAllVolumes(0)
             if v.name().startswith(prefix) or any(n in v.name() for n in names)]
    assert not left and not files, (left, files)


def test_two_front_ends_started_at_once_on_an_empty_database_make_one_cloud(front_ends):
    """Both migrate and seed the same empty database at the same moment: one identity, one seed each."""
    (a, b), conn, pool = front_ends
    starting = [threading.Thread(target=end.start) for end in (a, b)]
    for thread in starting:
        thread.start()
    for thread in starting:
        thread.join()
    for end in (a, b):
        assert end.proc.poll() is None, end.log_path.read_text()[-3000:]
    assert sql(a.database, "SELECT count(*) FROM setting WHERE key = 'cloud_id'") == [(1,)]
    for end in (a, b):
        assert sorted(c["name"] for c in end.items("machineConfigs")) == ["large", "medium", "small"]
        assert [i["name"] for i in end.items("machineImages")] == ["blank"]
    seeds = [v.name() for v in conn.storagePoolLookupByName(pool).listAllVolumes(0)
             if v.name().startswith(a.domain_prefix())]
    assert len(seeds) == 1, seeds
