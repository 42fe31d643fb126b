"""Concurrency (issue 6): 64 clients at once on a real waitress server on 127.0.0.1.

Bounded in count (CYCLES per client) and in time (DEADLINE for the whole
mixed phase; a client starts no new cycle after it). The checks: no 5xx
ever, no transport error, no id handed out twice, no lost update (version /
ETag with If-Match: of 64 PUTs carrying the same If-Match exactly one wins,
and 64 read-modify-write increments with retry on 412 all count), and the
collections end as they started with no Job left unfinished.
"""
import base64
import collections
import http.client
import json
import threading
import time

import pytest
import waitress

from cimi import auth
from cimi.http.app import create_app

CLIENTS = 64
CYCLES = 2                     # create / edit / delete cycles per client
DEADLINE = 120                 # seconds for the mixed phase
JOB_TIMEOUT = 60
CIMI = "http://schemas.dmtf.org/cimi/1"
USERS = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw", "dave": "dave-pw"}
ADMIN = ("admin", "admin-pw")
VOLUME = {"resourceURI": f"{CIMI}/VolumeCreate", "volumeTemplate": {"volumeConfig": {"capacity": 1024}}}


@pytest.fixture
def server(cloud):
    for name, password in USERS.items():
        if name not in ("alice", "bob"):
            auth.add_user(name, password)
    srv = waitress.create_server(create_app(cloud), host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=srv.run, name="waitress", daemon=True)
    thread.start()
    yield srv.effective_port
    srv.close()
    for channel in list(srv._map.values()):
        channel.close()
    thread.join(timeout=10)
    srv.task_dispatcher.shutdown()


class Http:
    """One client: a keep-alive connection, Basic auth, every answer recorded."""

    def __init__(self, port, user, password, log):
        self.port, self.log = port, log
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.conn = None

    def __call__(self, method, path, body=None, headers=None):
        path = path[path.index("/cimi"):] if "/cimi" in path else path
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Authorization": self.auth, "Accept": "application/json", **(headers or {})}
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.conn.request(method, path, data, hdrs)
                resp = self.conn.getresponse()
                raw = resp.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError) as exc:
                self.conn.close()
                self.conn = None
                if attempt == 2 or method != "GET":
                    self.log.append((method, path, f"transport error {exc!r}", b""))
                    raise
        self.log.append((method, path, resp.status, raw[:300]))
        doc = json.loads(raw) if raw and resp.getheader("Content-Type", "").startswith("application/json") else {}
        return resp.status, resp, doc

    def wait(self, job_href):
        deadline = time.monotonic() + JOB_TIMEOUT
        while True:
            status, _, job = self("GET", job_href)
            assert status == 200, (job_href, status, job)
            if job["state"] in ("SUCCESS", "FAILED", "STOPPED"):
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_href} still {job['state']} after {JOB_TIMEOUT}s")
            time.sleep(0.05)

    def close(self):
        if self.conn is not None:
            self.conn.close()


def run_threads(target, count):
    """Run target(i) in `count` threads; return the exceptions they raised."""
    errors = []

    def wrapped(i):
        try:
            target(i)
        except BaseException as exc:            # noqa: BLE001 - reported below
            errors.append((i, repr(exc)))

    threads = [threading.Thread(target=wrapped, args=(i,), name=f"client-{i}") for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=DEADLINE + JOB_TIMEOUT * 3)
    assert not any(t.is_alive() for t in threads), "a client thread is still running"
    return errors


def five_hundreds(log):
    return [entry for entry in log if not isinstance(entry[2], int) or entry[2] >= 500]


def counts(admin):
    _, _, cep = admin("GET", "/cimi/cloudEntryPoint")
    out = {}
    for key in ("machineConfigs", "volumes", "machines", "machineImages"):
        _, _, doc = admin("GET", cep[key]["href"])
        out[key] = doc["count"]
    return out


def unfinished_jobs(admin):
    _, _, jobs = admin("GET", "/cimi/jobs?$filter=state='QUEUED'%20or%20state='RUNNING'")
    return jobs["count"]


def first_ids(admin):
    _, _, cep = admin("GET", "/cimi/cloudEntryPoint")
    _, _, configs = admin("GET", cep["machineConfigs"]["href"])
    _, _, images = admin("GET", cep["machineImages"]["href"])
    # The smallest seed: the test driver's pool holds 100 GiB, and 64 clients create machines at once.
    small = min(configs["machineConfigurations"], key=lambda c: c["disks"][0]["capacity"])
    return cep, small["id"], images["machineImages"][0]["id"]


def test_64_clients_create_edit_delete(server):
    log = []
    admin = Http(server, *ADMIN, log)
    cep, config, image = first_ids(admin)
    before = counts(admin)
    created = collections.Counter()
    created_lock = threading.Lock()
    stop_at = time.monotonic() + DEADLINE
    cycles_done = collections.Counter()

    def remember(href):
        with created_lock:
            created[href] += 1

    def edit(client, href, name):
        """Rename ($select=name: a partial update, DSP0263 4.2.1.3.1) with If-Match of a fresh read.

        A Job finishing in between bumps the version, which costs one more try.
        """
        for _ in range(20):
            status, resp, _ = client("GET", href)
            assert status == 200, (href, status)
            status, _, doc = client("PUT", href + "?$select=name", {"name": name},
                                    {"If-Match": resp.getheader("ETag")})
            if status == 200:
                assert doc["name"] == name
                return
            assert status == 412, (href, status, doc)
        raise AssertionError(f"{href}: 20 edits in a row lost to 412")

    def admin_cycle(client, i, n):
        status, resp, doc = client("POST", cep["machineConfigs"]["href"],
                                   {"name": f"cfg-{i}-{n}", "cpu": 1 + n, "memory": 1024 * (i + 1)})
        assert status == 201, (status, doc)
        href = resp.getheader("Location")
        remember(href)
        edit(client, href, f"cfg-{i}-{n}-renamed")
        status, _, doc = client("DELETE", href)
        assert status == 200, (status, doc)
        status, _, _ = client("GET", href)
        assert status == 404

    def cycle(client, collection, body):
        """Create, wait, rename, delete, wait, and check it is gone."""
        status, resp, doc = client("POST", cep[collection]["href"], body)
        assert status in (201, 202), (status, doc)
        href = resp.getheader("Location")
        remember(href)
        if status == 202:
            job = client.wait(resp.getheader("CIMI-Job-URI"))
            assert job["state"] == "SUCCESS", ("create", href, job.get("statusMessage"))
        edit(client, href, body["name"] + "-renamed")
        status, resp, doc = client("DELETE", href)
        assert status in (200, 202), (status, doc)
        if status == 202:
            job = client.wait(resp.getheader("CIMI-Job-URI"))
            assert job["state"] == "SUCCESS", ("delete", href, job.get("statusMessage"))
        assert client("GET", href)[0] == 404

    def volume_cycle(client, i, n):
        cycle(client, "volumes", {**VOLUME, "name": f"vol-{i}-{n}"})

    def machine_cycle(client, i, n):
        cycle(client, "machines", {"resourceURI": f"{CIMI}/MachineCreate", "name": f"m-{i}-{n}",
                                   "machineTemplate": {"machineConfig": {"href": config},
                                                       "machineImage": {"href": image}}})

    def client_main(i):
        if i % 8 == 0:
            client, cycle = Http(server, *ADMIN, log), admin_cycle
        else:
            user = list(USERS)[i % len(USERS)]
            client = Http(server, user, USERS[user], log)
            cycle = machine_cycle if i % 4 == 1 else volume_cycle
        try:
            for n in range(CYCLES):
                if time.monotonic() > stop_at:
                    break
                cycle(client, i, n)
                cycles_done[cycle.__name__] += 1
        finally:
            client.close()

    errors = run_threads(client_main, CLIENTS)
    assert not five_hundreds(log), five_hundreds(log)[:10]
    assert not errors, errors[:10]
    assert sum(cycles_done.values()) >= CLIENTS, f"too few cycles ran before the deadline: {cycles_done}"
    duplicates = [href for href, n in created.items() if n > 1]
    assert not duplicates, f"ids handed out twice: {duplicates}"
    deadline = time.monotonic() + JOB_TIMEOUT
    while unfinished_jobs(admin) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert unfinished_jobs(admin) == 0
    assert counts(admin) == before
    admin.close()


def test_64_puts_with_the_same_if_match_one_wins(server, alice):
    """No lost update: the same precondition cannot be met twice."""
    log = []
    _, volume = alice.create("volumes", VOLUME)
    owner = Http(server, "alice", USERS["alice"], log)
    admin = Http(server, *ADMIN, log)
    _, _, cep = admin("GET", "/cimi/cloudEntryPoint")
    status, resp, _ = admin("POST", cep["machineConfigs"]["href"], {"name": "shared", "cpu": 1, "memory": 1024})
    assert status == 201
    targets = [(volume["id"], "alice"), (volume["id"], "alice"), (resp.getheader("Location"), "admin")]
    for href, who in targets:
        status, resp, doc = owner("GET", href) if who == "alice" else admin("GET", href)
        tag = resp.getheader("ETag")
        version = int(tag.removeprefix("W/").strip('"'))
        barrier = threading.Barrier(CLIENTS)
        outcomes = [None] * CLIENTS

        def racer(i, href=href, who=who, tag=tag, barrier=barrier, outcomes=outcomes):
            client = Http(server, *((who, USERS[who]) if who == "alice" else ADMIN), log)
            try:
                client("GET", "/cimi/cloudEntryPoint")          # connect and authenticate first
                barrier.wait(timeout=30)
                status, resp, _ = client("PUT", href + "?$select=name", {"name": f"writer-{i}"},
                                          {"If-Match": tag})
                outcomes[i] = (status, resp.getheader("ETag"))
            finally:
                client.close()

        errors = run_threads(racer, CLIENTS)
        assert not errors, errors[:10]
        assert not five_hundreds(log), five_hundreds(log)[:10]
        statuses = collections.Counter(status for status, _ in outcomes)
        assert statuses == {200: 1, 412: CLIENTS - 1}, statuses
        winner = next(i for i, (status, _) in enumerate(outcomes) if status == 200)
        status, resp, doc = admin("GET", href)
        assert doc["name"] == f"writer-{winner}"
        assert resp.getheader("ETag") == outcomes[winner][1] == f'W/"{version + 1}"'
    owner.close()
    admin.close()


def test_64_read_modify_write_increments_are_all_kept(server, alice):
    """Each client adds one to a counter in `properties` with GET + PUT If-Match, retrying on 412."""
    log = []
    _, volume = alice.create("volumes", {**VOLUME, "properties": {"counter": "0"}})
    href = volume["id"]
    start_version = volume_version(alice, href)
    stop_at = time.monotonic() + DEADLINE
    wins = collections.Counter()

    def incrementer(i):
        client = Http(server, "alice", USERS["alice"], log)
        try:
            while time.monotonic() < stop_at:
                status, resp, doc = client("GET", href)
                assert status == 200, status
                value = int(doc["properties"]["counter"])
                status, _, _ = client("PUT", href + "?$select=properties", {"properties": {"counter": str(value + 1)}},
                                      {"If-Match": resp.getheader("ETag")})
                if status == 200:
                    wins[i] += 1
                    return
                assert status == 412, status
            raise AssertionError(f"client {i} never got its increment in before the deadline")
        finally:
            client.close()

    errors = run_threads(incrementer, CLIENTS)
    assert not five_hundreds(log), five_hundreds(log)[:10]
    assert not errors, errors[:10]
    assert sum(wins.values()) == CLIENTS
    final = alice.get(href).json
    assert final["properties"]["counter"] == str(CLIENTS), "an increment was lost"
    assert volume_version(alice, href) == start_version + CLIENTS, "one version per accepted PUT"


def volume_version(client, href):
    return int(client.get(href).headers["ETag"].removeprefix("W/").strip('"'))
