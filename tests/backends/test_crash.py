"""Crash safety on a real libvirtd: the server is killed (SIGKILL) during a create and a delete.

After each kill the server is started again; once it settled, the store and
libvirt must agree: no job RUNNING, no domain of ours without its Machine,
no Machine short of a domain unless its state says so (ERROR).
"""
import base64
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import libvirt
import pytest

pytestmark = pytest.mark.libvirtd
SERVER = str(Path(sys.executable).parent / "cimi-server")
STABLE = {"STARTED", "STOPPED", "PAUSED", "SUSPENDED", "ERROR"}
# Kill points spread over a create's and a delete's steps (overlay, define, start, store).
DELAYS = (0.0, 0.05, 0.2, 0.5, 1.0)


class Server:
    """cimi-server on the real libvirtd, started and killed at will; its store survives."""

    def __init__(self, uri, pool, data_dir):
        self.port = _free_port()
        self.env = {**os.environ, "CIMI_BIND": f"127.0.0.1:{self.port}", "CIMI_DATA_DIR": str(data_dir),
                    "CIMI_LIBVIRT_URI": uri, "CIMI_IMAGE_POOL": pool, "CIMI_ADMIN_PASSWORD": "pw",
                    "CIMI_JOB_LEASE": "2", "CIMI_RECONCILE_EVERY": "1",
                    "CIMI_DETACH_TIMEOUT": "3", "CIMI_DEFAULT_NETWORK": ""}
        self.base = f"http://127.0.0.1:{self.port}/cimi/"
        self.proc = None
        self.log_path = Path(data_dir) / "server.log"

    def start(self):
        # The log goes to a file: an undrained pipe would block the server once full.
        self.log = open(self.log_path, "a+")
        start = self.log.seek(0, os.SEEK_END)
        self.proc = subprocess.Popen([SERVER], env=self.env, stderr=self.log)
        deadline = time.monotonic() + 60
        while "Serving on" not in Path(self.log_path).read_text()[start:]:
            assert time.monotonic() < deadline and self.proc.poll() is None, "server did not start"
            time.sleep(0.05)
        return self

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.log.close()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(20)
        self.log.close()

    def call(self, method, url, body=None, auth=("admin", "pw")):
        credentials = base64.b64encode(":".join(auth).encode()).decode()
        headers = {"Authorization": "Basic " + credentials, "Accept": "application/json"}
        data = json.dumps(body).encode() if body is not None else None
        if data:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url if url.startswith("http") else self.base + url, data, headers,
                                         method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                return resp.status, resp.headers, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, err.headers, json.loads(err.read() or b"null")

    def domain_prefix(self, conn):
        """This cloud's domain name prefix (cimi-<its identity>-), read from its store."""
        query = "SELECT value FROM setting WHERE key = 'cloud_id'"
        with sqlite3.connect(Path(self.env["CIMI_DATA_DIR"]) / "cimi.sqlite3") as db:
            return f"cimi-{db.execute(query).fetchone()[0]}-"

    def items(self, collection, query=""):
        key = {"machineConfigs": "machineConfigurations"}.get(collection, collection)
        return self.call("GET", collection + urllib.parse.quote(query, safe="?$=&"))[2].get(key, [])

    def settle(self, timeout=60):
        """Wait until no job is pending and every machine is in a stable state."""
        deadline = time.monotonic() + timeout
        while True:
            pending = self.items("jobs", "?$filter=state='RUNNING' or state='QUEUED'")
            machines = self.items("machines")
            if not pending and all(m["state"] in STABLE for m in machines):
                time.sleep(1.5)                  # one more reconciliation pass
                return self.items("machines")
            assert time.monotonic() < deadline, f"not settled: {pending} {machines}"
            time.sleep(0.3)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_agreement(server, conn, pool):
    """The invariants the issue names, checked against libvirt itself."""
    machines = server.settle()
    assert not server.items("jobs", "?$filter=state='RUNNING'")
    prefix = server.domain_prefix(conn)
    ours = {d.name()[len(prefix):] for d in conn.listAllDomains() if d.name().startswith(prefix)}
    ids = {m["id"].rsplit("/", 1)[-1]: m for m in machines}
    assert ours <= set(ids), "a domain of ours has no Machine (orphan)"
    for machine_id, machine in ids.items():
        if machine["state"] != "ERROR":
            assert machine_id in ours, f"Machine {machine_id} is {machine['state']} without a domain"
    volumes = [v.name() for v in conn.storagePoolLookupByName(pool).listAllVolumes(0)]
    for name in volumes:
        if name.startswith(prefix) and "-vd" in name:
            assert name.split("-vd")[0].removeprefix(prefix) in ids, f"orphan disk {name}"
    return machines


@pytest.fixture
def crashing(libvirtd, libvirtd_pool, tmp_path):
    pool, _ = libvirtd_pool
    root = Path("/var/tmp") / f"dsc-crash-{os.getpid()}-{time.monotonic_ns()}"
    root.mkdir()
    server = Server(libvirtd, pool, root).start()
    conn = libvirt.open(libvirtd)
    try:
        yield server, conn, pool
        for machine in server.items("machines"):
            server.call("DELETE", machine["id"])
        server.settle()
    finally:
        if server.proc.poll() is None:
            server.stop()
        conn.close()
        subprocess.run(["rm", "-rf", str(root)], check=False)


def test_kill_during_create_and_delete_leaves_store_and_libvirt_in_agreement(crashing):
    server, conn, pool = crashing
    cep = server.call("GET", "cloudEntryPoint")[2]
    config = server.items("machineConfigs", "?$filter=name='small'")[0]["id"]
    image = server.items("machineImages")[0]["id"]
    for delay in DELAYS:
        status, headers, _ = server.call("POST", cep["machines"]["href"], {
            "name": f"crash-{delay}", "machineTemplate": {"machineConfig": {"href": config},
                                                          "machineImage": {"href": image}}})
        assert status == 202
        time.sleep(delay)
        server.kill()
        server.start()
        machines = check_agreement(server, conn, pool)
        victim = [m for m in machines if m["id"] == headers["Location"]]
        assert victim, "the Machine row of an accepted create was lost"
        assert victim[0]["state"] in ("STARTED", "ERROR")
        status, _, _ = server.call("DELETE", victim[0]["id"])
        assert status == 202
        time.sleep(delay)
        server.kill()
        server.start()
        check_agreement(server, conn, pool)
        for machine in server.items("machines"):           # a delete cut short is finished by hand
            server.call("DELETE", machine["id"])
        server.settle()
        assert not [d for d in conn.listAllDomains() if d.name().startswith(server.domain_prefix(conn))]


def attachment_views(server, conn, machine, volume):
    """Is the Volume attached, says (the store, the Volume, the definition, the running domain or None)?"""
    rows = attachments(server, machine)
    in_store = any(r["volume"]["href"] == volume["id"] for r in rows)
    held = server.call("GET", volume["id"])[2].get("attachedTo") == {"href": machine["id"]}
    dom = conn.lookupByName(server.domain_prefix(conn) + machine["id"].rsplit("/", 1)[-1])
    path = volume_path(server, volume)

    def has(flags):
        return f"'{path}'" in dom.XMLDesc(flags)
    return in_store, held, has(libvirt.VIR_DOMAIN_XML_INACTIVE), has(0) if dom.isActive() else None


def attachments(server, machine):
    return server.call("GET", machine["volumes"]["href"])[2].get("machineVolumes", [])


def volume_path(server, volume):
    query = "SELECT data FROM volume WHERE id = ?"
    with sqlite3.connect(Path(server.env["CIMI_DATA_DIR"]) / "cimi.sqlite3") as db:
        return json.loads(db.execute(query, (volume["id"].rsplit("/", 1)[-1],)).fetchone()[0])["_key"]


def assert_attachment_agrees(server, conn, machine, volume):
    server.settle()
    views = attachment_views(server, conn, machine, volume)
    in_store, *others = views
    assert all(v in (in_store, None) for v in others), f"store, Volume, definition, live disagree: {views}"
    assert not [r for r in server.items("jobs", "?$filter=state='RUNNING'")]
    return in_store


def watch_states(server, machine, seconds=4.0):
    """The states a Machine shows, polled right after a restart."""
    seen, deadline = set(), time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen.add(server.call("GET", machine["id"])[2]["state"])
        time.sleep(0.1)
    return seen


@pytest.mark.parametrize("initial", ["STARTED", "STOPPED"])
def test_kill_during_attach_and_detach_leaves_store_definition_and_domain_in_agreement(crashing, initial):
    server, conn, pool = crashing
    cep = server.call("GET", "cloudEntryPoint")[2]
    config = server.items("machineConfigs", "?$filter=name='small'")[0]["id"]
    image = server.items("machineImages")[0]["id"]
    _, headers, _ = server.call("POST", cep["machines"]["href"], {
        "name": "holder", "machineTemplate": {"machineConfig": {"href": config}, "machineImage": {"href": image},
                                              "initialState": initial}})
    server.settle()
    machine = server.call("GET", headers["Location"])[2]
    assert machine["state"] == initial
    for delay in (0.0, 0.1, 0.4, 1.5):
        _, headers, _ = server.call("POST", cep["volumes"]["href"],
                                    {"volumeTemplate": {"volumeConfig": {"capacity": 1024}}})
        server.settle()
        volume = server.call("GET", headers["Location"])[2]
        status, headers, _ = server.call("POST", machine["volumes"]["href"], {"volume": {"href": volume["id"]}})
        assert status == 202
        time.sleep(delay)
        server.kill()
        server.start()
        assert watch_states(server, machine) == {initial}, "a healthy Machine changed state after a restart"
        if assert_attachment_agrees(server, conn, machine, volume):
            status, _, _ = server.call("DELETE", headers["Location"])
            assert status == 202
            time.sleep(delay)
            server.kill()
            server.start()
            assert_attachment_agrees(server, conn, machine, volume)
        if attachment_views(server, conn, machine, volume)[0]:       # a guest without OS never lets go
            server.call("POST", machine["id"] + "/stop", {"action": "http://schemas.dmtf.org/cimi/1/action/stop",
                                                          "force": True})
            server.settle()
            mv = attachments(server, machine)
            status, _, _ = server.call("DELETE", mv[0]["id"])
            assert status == 202, mv
            server.settle()
            if initial == "STARTED":
                server.call("POST", machine["id"] + "/start", {"action": "http://schemas.dmtf.org/cimi/1/action/start"})
                server.settle()
        assert attachment_views(server, conn, machine, volume)[:3] == (False, False, False)
        assert server.call("DELETE", volume["id"])[0] == 202
